"""``ml-connector mapping``: Check a configuration's mappings and preview them on real rows."""

from __future__ import annotations

import click

__all__ = ["mapping"]


@click.group(name="mapping")
def mapping() -> None:
    """Check a configuration's mappings and preview them on real rows."""
