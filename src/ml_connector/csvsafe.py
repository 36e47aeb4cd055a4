"""CSV for people: no cell a spreadsheet would run as a formula.

Spreadsheet programs evaluate a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and some a leading tab or carriage return) as a formula, so a Looker value such as
``=HYPERLINK(...)`` in an export could run on the reader's machine. Every CSV the
product writes for people goes through :func:`csv_writer`, which prefixes such text
cells with ``'`` (shown, not evaluated). Numbers are written as numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

__all__ = ["FORMULA_STARTS", "SafeCsvWriter", "csv_writer", "safe_cell"]

#: first characters that make a spreadsheet evaluate a cell
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` with a leading ``'`` when it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeCsvWriter:
    """A :func:`csv.writer` whose every text cell passes through :func:`safe_cell`."""

    def __init__(self, out: TextIO, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, cells: Iterable[object]) -> None:
        """Write one row of neutralised cells."""
        self._writer.writerow([safe_cell(c) for c in cells])


def csv_writer(out: TextIO, **options: Any) -> SafeCsvWriter:
    """The writer every human-facing CSV uses (options as for :func:`csv.writer`)."""
    return SafeCsvWriter(out, **options)
