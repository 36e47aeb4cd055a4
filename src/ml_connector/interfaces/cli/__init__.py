"""The ``ml-connector`` command line.

Each command lives in its own module and imports its heavy dependencies lazily
inside the command, so ``ml-connector --help`` stays fast.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import click

from ml_connector import __version__
from ml_connector.interfaces.cli.audit import audit
from ml_connector.interfaces.cli.credentials import credentials
from ml_connector.interfaces.cli.datev import datev
from ml_connector.interfaces.cli.extf import extf
from ml_connector.interfaces.cli.mapping import mapping
from ml_connector.interfaces.cli.ping import ping
from ml_connector.interfaces.cli.replay import replay
from ml_connector.interfaces.cli.run import run
from ml_connector.interfaces.cli.schedule import schedule
from ml_connector.interfaces.cli.serve import serve
from ml_connector.interfaces.cli.status import status
from ml_connector.interfaces.cli.users import users
from ml_connector.interfaces.cli.worker import worker

__all__ = ["main"]


#: what click itself turns into a message or an exit status
_CLICK_OWN = (click.ClickException, click.exceptions.Abort, click.exceptions.Exit, EOFError)


class _Main(click.Group):
    """The command group that turns every error into one line and exit 1.

    Every :class:`~ml_connector.errors.MlConnectorError` a command lets through is
    shown as ``Error: <message> (fix: <hint>)``, never as a traceback. Anything else
    is a bug: one line saying so, the traceback in the log at DEBUG.
    """

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


for _command in (extf, mapping, run, ping, datev, schedule, worker, status):
    main.add_command(_command)
for _command in (replay, audit, credentials, serve, users):
    main.add_command(_command)

# Commands that live outside the product (the sandbox: demo and emulators) join here
# through the "ml_connector.commands" entry point, so the product never imports them.
for _entry in entry_points(group="ml_connector.commands"):
    main.add_command(_entry.load(), name=_entry.name)
