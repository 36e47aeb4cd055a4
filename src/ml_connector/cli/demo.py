"""``ml-connector demo``: the main job on the embedded default."""

from __future__ import annotations

import click

__all__ = ["demo"]


@click.command()
def demo() -> None:
    """Run the bundled demo end to end on the embedded default."""
    raise click.ClickException("the demo is not built yet")
