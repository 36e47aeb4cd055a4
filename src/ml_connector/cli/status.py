"""``ml-connector status``: List recent runs per customer with their outcome."""

from __future__ import annotations

import click

__all__ = ["status"]


@click.command(name="status")
def status() -> None:
    """List recent runs per customer with their outcome."""
    raise click.ClickException("'status' is not built yet")
