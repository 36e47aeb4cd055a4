"""``ml-connector replay``: Re-run a failed run, or only its failed records."""

from __future__ import annotations

import click

__all__ = ["replay"]


@click.command(name="replay")
def replay() -> None:
    """Re-run a failed run, or only its failed records."""
    raise click.ClickException("'replay' is not built yet")
