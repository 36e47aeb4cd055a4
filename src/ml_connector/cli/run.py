"""``ml-connector run``: Run one pipeline for one period now."""

from __future__ import annotations

import click

__all__ = ["run"]


@click.command(name="run")
def run() -> None:
    """Run one pipeline for one period now."""
    raise click.ClickException("'run' is not built yet")
