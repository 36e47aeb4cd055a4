"""``ml-connector schedule``: Show the schedules and the next runs."""

from __future__ import annotations

import click

__all__ = ["schedule"]


@click.group(name="schedule")
def schedule() -> None:
    """Show the schedules and the next runs."""
