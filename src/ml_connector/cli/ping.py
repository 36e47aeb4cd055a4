"""``ml-connector ping``: Check both sides (Looker and DATEV) of a configured customer."""

from __future__ import annotations

import click

__all__ = ["ping"]


@click.command(name="ping")
def ping() -> None:
    """Check both sides (Looker and DATEV) of a configured customer."""
    raise click.ClickException("'ping' is not built yet")
