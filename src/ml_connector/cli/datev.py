"""``ml-connector datev``: Log in to DATEV and manage the OAuth connection."""

from __future__ import annotations

import click

__all__ = ["datev"]


@click.group(name="datev")
def datev() -> None:
    """Log in to DATEV and manage the OAuth connection."""
