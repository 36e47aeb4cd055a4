"""The rich console every command prints tables with.

On a terminal rich fits tables to its width. Piped into a file or a log, there is no
width to fit, and rich's default of 80 columns would cut run ids and paths with
an ellipsis: there the console is wide enough that nothing is cut.
"""

from __future__ import annotations

import sys

from rich.console import Console

__all__ = ["console"]

_PIPED_WIDTH = 240


def console(*, stderr: bool = False) -> Console:
    """A console for stdout (or stderr) that never truncates when not on a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr, highlight=False)
    return Console(stderr=stderr, highlight=False, width=_PIPED_WIDTH, soft_wrap=True)
