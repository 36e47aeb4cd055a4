"""Lookup tables: GL account -> DATEV account, department -> cost center, revenue type -> tax key.

Keys are compared after Unicode NFC normalisation and trimming (Looker text may arrive
decomposed, e.g. ``u`` + combining diaeresis); with ``match = "casefold"`` also
case-insensitively.  A missing key is a ``KeyError`` for the caller to turn into a
rejection with a reason; there is never a silent fallback unless a default is configured.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

__all__ = [
    "LookupKind",
    "LookupSet",
    "LookupTable",
    "normalise_key",
    "read_lookup_csv",
]


class LookupKind(StrEnum):
    """What the values of a table are; decides the plausibility checks and the reject reason."""

    ACCOUNT = "account"
    COST_CENTER = "cost_center"
    TAX_KEY = "tax_key"
    VALUE = "value"


def normalise_key(value: object, *, casefold: bool = False) -> str:
    """Text form of a lookup key: NFC, trimmed, optionally case-folded."""
    if type(value) is str and value.isascii():  # NFC leaves ASCII as it is
        text = value.strip()
        return text.casefold() if casefold else text
    if isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, Decimal):
        text = format(value.normalize(), "f") if value == value.to_integral_value() else str(value)
    else:
        text = str(value)
    text = unicodedata.normalize("NFC", text).strip()
    return text.casefold() if casefold else text


@dataclass(frozen=True, slots=True)
class LookupTable:
    """One named table of ``key -> value`` (values are text as configured)."""

    name: str
    kind: LookupKind
    entries: Mapping[str, str]
    casefold: bool = False
    source: str = "inline"
    """Where the entries came from (``inline`` or the CSV path), for messages."""
    _index: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {normalise_key(k, casefold=self.casefold): v for k, v in self.entries.items()}
        object.__setattr__(self, "_index", index)

    def get(self, key: object) -> str:
        """Value for ``key``; ``KeyError`` when absent (``None`` is always absent)."""
        if key is None:
            raise KeyError(key)
        return self._index[normalise_key(key, casefold=self.casefold)]

    def __len__(self) -> int:
        return len(self._index)


@dataclass(frozen=True, slots=True)
class LookupSet:
    """All tables of a configuration, by name; the resolver the expression language calls."""

    tables: Mapping[str, LookupTable]

    def resolve(self, table: str, key: object) -> object:
        return self.tables[table].get(key)

    def has_table(self, table: str) -> bool:
        return table in self.tables

    def kind_of(self, table: str) -> LookupKind:
        return self.tables[table].kind


def read_lookup_csv(
    path: Path, key_column: str, value_column: str
) -> tuple[dict[str, str], list[str]]:
    """Read a CSV lookup file (UTF-8, optional BOM, header line required).

    Returns the entries and a list of problems (missing columns, empty or conflicting
    keys), each naming the line, so the caller can report them all at once.
    """
    problems: list[str] = []
    entries: dict[str, str] = {}
    first_line: dict[str, int] = {}
    line_number = 1
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [c for c in (key_column, value_column) if c not in header]
            if missing:
                # the header itself is not shown: the file may not be a lookup table at all
                problems.append(
                    f"column(s) {', '.join(map(repr, missing))} not in the header line "
                    f"({len(header)} column(s))"
                )
                return entries, problems
            for line_number, record in enumerate(reader, start=2):
                key = normalise_key(record.get(key_column) or "")
                value = (record.get(value_column) or "").strip()
                if not key:
                    problems.append(f"line {line_number}: empty key")
                    continue
                if key in entries and entries[key] != value:
                    problems.append(
                        f"line {line_number}: the key of line {first_line[key]} again, "
                        "with another value"
                    )
                    continue
                entries[key] = value
                first_line.setdefault(key, line_number)
    except UnicodeDecodeError:
        problems.append(f"after line {line_number}: not UTF-8 text")
    except csv.Error:
        problems.append(f"after line {line_number}: not a readable CSV file")
    except OSError as exc:
        problems.append(f"cannot be read: {exc.strerror or type(exc).__name__}")
    return entries, problems


def inline_entries(values: Mapping[str, object] | Iterable[tuple[str, object]]) -> dict[str, str]:
    """Inline TOML values as text (``8400`` and ``"8400"`` are the same entry)."""
    items = values.items() if isinstance(values, Mapping) else values
    return {normalise_key(k): "" if v is None else str(v).strip() for k, v in items}
