"""``ml-connector sandbox``: run the Looker or DATEV emulator in the foreground."""

from __future__ import annotations

import click

from ml_connector_sandbox.cli.sandbox_datev import sandbox_datev
from ml_connector_sandbox.cli.sandbox_looker import sandbox_looker

__all__ = ["sandbox"]


@click.group()
def sandbox() -> None:
    """Run a local emulator of Looker or DATEV for dry runs and demos."""


sandbox.add_command(sandbox_looker)
sandbox.add_command(sandbox_datev)
