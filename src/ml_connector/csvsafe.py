"""CSV for people: no cell a spreadsheet would run as a formula.

Spreadsheet programs evaluate a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and some a leading tab or carriage return) as a formula, so a Looker value such as
``=HYPERLINK(...)`` in an export could run on the reader's machine. Every CSV the
product writes for people goes through :func:`csv_writer`, which prefixes such text
cells with ``'`` (shown, not evaluated). Numbers are written as numbers; with
``decimal_comma`` (German Excel) a Decimal and a decimal text such as ``"-12.50"`` are
written as ``-12,50``, which Excel reads as a number, not as a formula.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TextIO

__all__ = ["FORMULA_STARTS", "SafeCsvWriter", "csv_writer", "decimal_comma_cell", "safe_cell"]

#: first characters that make a spreadsheet evaluate a cell
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """``value`` with a leading ``'`` when it is text a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


_DECIMAL_TEXT = re.compile(r"-?\d+\.\d+")


def decimal_comma_cell(value: object) -> object:
    """A Decimal or decimal text (``"-12.50"``) as ``-12,50``; anything else through
    :func:`safe_cell`."""
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f").replace(".", ",")
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        return value.replace(".", ",")
    return safe_cell(value)


class SafeCsvWriter:
    """A :func:`csv.writer` whose every text cell passes through :func:`safe_cell`."""

    def __init__(self, out: TextIO, *, decimal_comma: bool = False, **options: Any) -> None:
        self._writer = csv.writer(out, **options)
        self._cell = decimal_comma_cell if decimal_comma else safe_cell

    def writerow(self, cells: Iterable[object]) -> None:
        """Write one row of neutralised cells."""
        cell = self._cell
        self._writer.writerow([cell(c) for c in cells])


def csv_writer(out: TextIO, *, decimal_comma: bool = False, **options: Any) -> SafeCsvWriter:
    """The writer every human-facing CSV uses (options as for :func:`csv.writer`;
    ``decimal_comma`` for German Excel, see :func:`decimal_comma_cell`)."""
    return SafeCsvWriter(out, decimal_comma=decimal_comma, **options)
