"""Canonical JSON: one byte-exact text per value, the input of every hash in the store.

Keys sorted, no insignificant whitespace, UTF-8 kept as is, ``Decimal`` written as a
string (so ``12.50`` stays ``"12.50"``), dates and datetimes in ISO 8601. NaN and
infinities are refused: they have no JSON form.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

__all__ = ["canonical_json", "canonical_text", "sha256_hex", "to_jsonable"]


def to_jsonable(value: object) -> object:
    """The JSON-friendly form of a value: a Decimal as its exact text (``"-1250.00"``),
    a date or datetime in ISO 8601, anything else as it is."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value)
    out = to_jsonable(value)
    if out is value:
        raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
    return out


_ENCODER = json.JSONEncoder(
    sort_keys=True,
    separators=(",", ":"),
    ensure_ascii=False,
    allow_nan=False,
    default=_default,
)
_encode = _ENCODER.encode
#: how the encoder writes a string (``ensure_ascii=False``: UTF-8 kept as is)
_string = encode_basestring


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value``."""
    return _encode(value)


def canonical_text(value: str | None) -> str:
    """The canonical JSON of a string or ``None`` (a field of a canonical object)."""
    return "null" if value is None else _string(value)


def sha256_hex(text: str) -> str:
    """SHA-256 of the UTF-8 bytes of ``text``, as 64 lowercase hex digits."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
