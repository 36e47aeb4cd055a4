"""The published tables of the format, loaded from the bundled CSV files in ``spec/``.

``buchungsstapel_fv13_columns.csv`` lists the 125 columns of Formatversion 13 with the
headings exactly as DATEV's sample file spells them; ``header_v700_fields.csv`` the 31
fields of header version 700.  Only names and positions are taken from here; the
rules the validator applies live in :mod:`ml_connector.formats.extf.columns`.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

__all__ = [
    "COLUMN_ALT_HEADINGS",
    "COLUMN_HEADINGS",
    "HEADER_FIELD_COUNT",
    "HEADER_FIELD_NAMES",
    "HEADER_FIELD_QUOTED",
]


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("ml_connector.formats.extf").joinpath("spec", name).read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


_columns = _read("buchungsstapel_fv13_columns.csv")
_header = _read("header_v700_fields.csv")

#: the 125 column headings of line 2, in order (DATEV sample spelling)
COLUMN_HEADINGS: tuple[str, ...] = tuple(row["heading_line2"] for row in _columns)
#: other spellings of a heading used in DATEV's Formatbeschreibung, by 1-based position
COLUMN_ALT_HEADINGS: dict[int, str] = {
    int(row["pos"]): row["name_in_formatbeschreibung"]
    for row in _columns
    if row["name_in_formatbeschreibung"]
}
#: the 31 header field names, in order
HEADER_FIELD_NAMES: tuple[str, ...] = tuple(row["name"] for row in _header)
#: whether each header field is written in quotes
HEADER_FIELD_QUOTED: tuple[bool, ...] = tuple(row["quoted"] == "yes" for row in _header)
HEADER_FIELD_COUNT = len(HEADER_FIELD_NAMES)

if len(COLUMN_HEADINGS) != 125 or HEADER_FIELD_COUNT != 31:  # pragma: no cover
    raise RuntimeError("bundled EXTF spec tables are incomplete")
