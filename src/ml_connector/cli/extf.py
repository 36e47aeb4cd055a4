"""``ml-connector extf``: validate and render DATEV EXTF booking batches."""

from __future__ import annotations

import click

__all__ = ["extf"]


@click.group()
def extf() -> None:
    """Validate and render DATEV EXTF Buchungsstapel files."""
