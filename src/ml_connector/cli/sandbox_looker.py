"""``ml-connector looker``: Run the Looker API 4.0 emulator in the foreground."""

from __future__ import annotations

import click

__all__ = ["sandbox_looker"]


@click.command(name="looker")
def sandbox_looker() -> None:
    """Run the Looker API 4.0 emulator in the foreground."""
    raise click.ClickException("'looker' is not built yet")
