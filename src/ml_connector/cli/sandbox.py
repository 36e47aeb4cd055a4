"""``ml-connector sandbox``: run the Looker or DATEV emulator in the foreground."""

from __future__ import annotations

import click

__all__ = ["sandbox"]


@click.group()
def sandbox() -> None:
    """Run a local emulator of Looker or DATEV for dry runs and demos."""
