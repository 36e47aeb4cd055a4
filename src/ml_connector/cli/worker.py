"""``ml-connector worker``: Execute schedules and queued runs."""

from __future__ import annotations

import click

__all__ = ["worker"]


@click.command(name="worker")
def worker() -> None:
    """Execute schedules and queued runs."""
    raise click.ClickException("'worker' is not built yet")
