"""``ml-connector audit``: Verify and export the audit trail."""

from __future__ import annotations

import click

__all__ = ["audit"]


@click.group(name="audit")
def audit() -> None:
    """Verify and export the audit trail."""
