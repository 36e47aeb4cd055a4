"""``ml-connector datev``: Run the DATEV emulator (identity provider and APIs) in the foreground."""

from __future__ import annotations

import click

__all__ = ["sandbox_datev"]


@click.command(name="datev")
def sandbox_datev() -> None:
    """Run the DATEV emulator (identity provider and APIs) in the foreground."""
    raise click.ClickException("'datev' is not built yet")
