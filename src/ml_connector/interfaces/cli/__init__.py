"""The ``ml-connector`` command line.

Each command lives in its own module and imports its heavy dependencies lazily
inside the command, so ``ml-connector --help`` stays fast.
"""

from __future__ import annotations

import gc
import importlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from ml_connector import __version__

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["imports_without_gc", "main"]


#: what click itself turns into a message or an exit status
_CLICK_OWN = (click.ClickException, click.exceptions.Abort, click.exceptions.Exit, EOFError)


#: the product's commands and the module each lives in, imported only when it is run
#: (or listed by ``--help``), so a command imports nothing another command needs
_COMMANDS = {
    name: f"ml_connector.interfaces.cli.{module}"
    for name, module in {
        "extf": "extf",
        "mapping": "mapping",
        "run": "run",
        "ping": "ping",
        "datev": "datev",
        "schedule": "schedule",
        "worker": "worker",
        "status": "status",
        "replay": "replay",
        "audit": "audit",
        "credentials": "credentials",
        "serve": "serve",
        "users": "users",
    }.items()
}


@contextmanager
def imports_without_gc() -> Iterator[None]:
    """No garbage collection while the block imports modules (a command's heavy ones).

    Imports create objects that live until the process exits; collecting while they
    pile up costs about an eighth of the import time and finds nothing to free.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _plugins() -> dict[str, EntryPoint]:
    """Commands that live outside the product (the sandbox: demo and emulators), from
    the ``ml_connector.commands`` entry point, so the product never imports them."""
    from importlib.metadata import entry_points

    return {e.name: e for e in entry_points(group="ml_connector.commands")}


class _Main(click.Group):
    """The command group that turns every error into one line and exit 1.

    Every :class:`~ml_connector.errors.MlConnectorError` a command lets through is
    shown as ``Error: <message> (fix: <hint>)``, never as a traceback. Anything else
    is a bug: one line saying so, the traceback in the log at DEBUG.

    Commands are imported by name when needed (:data:`_COMMANDS`, then the entry
    points), so ``ml-connector run`` does not import the web app or the sandbox.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*_COMMANDS, *_plugins(), *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name in _COMMANDS:
            with imports_without_gc():
                module = importlib.import_module(_COMMANDS[cmd_name])
            command: click.Command = getattr(module, cmd_name)
        elif (plugin := _plugins().get(cmd_name)) is not None:
            command = plugin.load()
        else:
            return None
        self.add_command(command, name=cmd_name)
        return command

    def invoke(self, ctx: click.Context) -> object:
        from ml_connector.errors import MlConnectorError

        try:
            return super().invoke(ctx)
        except MlConnectorError as exc:
            raise click.ClickException(str(exc)) from None
        except _CLICK_OWN:
            raise
        except Exception as exc:
            logging.getLogger("ml_connector").debug("unexpected error", exc_info=True)
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {exc} (a bug in ml-connector: run the "
                "command again with --log-level DEBUG and report the output)"
            ) from None


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ml-connector")
@click.option(
    "--log-level",
    envvar="ML_CONNECTOR_LOG_LEVEL",
    default="WARNING",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Which log records go to stderr.",
)
@click.option(
    "--log-format",
    envvar="ML_CONNECTOR_LOG_FORMAT",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
    help="json: one JSON object per line, for servers and log collectors.",
)
def main(log_level: str, log_format: str) -> None:
    """Turn general-ledger data modelled in Looker into DATEV bookings (one way)."""
    from ml_connector.logs import configure_logging
    from ml_connector.paths import make_private

    make_private()

    configure_logging(log_level, "json" if log_format == "json" else "text")
