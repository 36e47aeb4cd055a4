"""The ``ml-connector`` command line.

Each command group lives in its own module and imports its heavy dependencies
lazily inside the command, so ``ml-connector --help`` stays fast.
"""

from __future__ import annotations

import click

from ml_connector import __version__
from ml_connector.cli.demo import demo
from ml_connector.cli.extf import extf
from ml_connector.cli.sandbox import sandbox

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ml-connector")
def main() -> None:
    """Turn general-ledger data modelled in Looker into DATEV bookings (one way)."""


main.add_command(demo)
main.add_command(extf)
main.add_command(sandbox)
