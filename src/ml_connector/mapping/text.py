"""Templates for text fields and the explicit cleaning rules for Buchungstext / Belegfeld.

Rules (all applied in this order, so the same input always gives the same output):

1. Unicode NFC normalisation (Looker may deliver ``u`` + U+0308 for ``ü``).
2. Control characters (line breaks, tabs, ...) become a space; runs of white space
   collapse to one space; the ends are trimmed.
3. Characters Windows-1252 (DATEV's code page) cannot represent are transliterated
   (``Łódź`` -> ``Lodz``, ``‐`` -> ``-``, ``東京`` -> ``DongJing``, with ``anyascii``);
   a character with no transliteration, or a symbol such as an emoji, becomes ``?``.
   Characters Windows-1252 has (``ß``, ``€``, ``„“``, ``–``) are kept.
4. Free text (Buchungstext, 60): too long -> cut at the limit (``overflow = "truncate"``,
   the default) or rejected (``"reject"``).
5. Document numbers (Belegfeld 1/2: ``0-9 A-Z a-z $ & % * + - /`` only, 36/12 long):
   with ``charset = "sanitise"`` (default) umlauts are transliterated (``ä`` -> ``ae``,
   ``ß`` -> ``ss``), other letters transliterated as in rule 3, white space and
   ``_ . , ; :`` become ``-``, any other character is removed; with ``"reject"`` any such
   character rejects the row. Too long is rejected by default: Belegfeld 1 is the
   open-item matching key, and a cut key would silently match the wrong item.

Rules 2 (control characters only), 3, 4 and 5 change the data: each change is returned
as a :class:`DataChange` so it can be recorded on the row and counted. NFC and white
space (rules 1 and 2) give the canonical form of the same text and are not counted.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from anyascii import anyascii

from ml_connector.mapping.expressions import (
    Expression,
    ExpressionSyntaxError,
    LookupResolver,
    compile_expression,
)

__all__ = [
    "DOCUMENT_NUMBER_ALLOWED",
    "TEXT_CHANGE_KINDS",
    "DataChange",
    "DataChangeKind",
    "Template",
    "TextRuleError",
    "as_text",
    "clean_text",
    "compile_template",
    "fit_document_number",
    "fit_free_text",
]

#: the characters DATEV allows in Belegfeld 1 and 2
DOCUMENT_NUMBER_ALLOWED = re.compile(r"[0-9A-Za-z$&%*+\-/]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")
_WORDS = re.compile(r"(\s+)")
_TRANSLIT = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
_TO_DASH = re.compile(r"[\s_.,;:]+")
_NOT_ALLOWED = re.compile(r"[^0-9A-Za-z$&%*+\-/]")


class DataChangeKind(StrEnum):
    """What ml-connector changed in a row's data; each value is stable (stored, reported)."""

    TEXT_SHORTENED = "text_shortened"
    DOCUMENT_NUMBER_CLEANED = "document_number_cleaned"
    CHARACTERS_REPLACED = "characters_replaced"
    ZERO_AMOUNT_SKIPPED = "zero_amount_skipped"
    EXCHANGE_AMOUNT_COMPUTED = "exchange_amount_computed"
    TAX_KEY_STRIPPED = "tax_key_stripped"

    @property
    def label(self) -> str:
        """Plural phrase for reports: ``3 texts shortened``."""
        return _LABELS[self]


_LABELS = {
    DataChangeKind.TEXT_SHORTENED: "texts shortened",
    DataChangeKind.DOCUMENT_NUMBER_CLEANED: "document numbers cleaned",
    DataChangeKind.CHARACTERS_REPLACED: "texts with characters replaced",
    DataChangeKind.ZERO_AMOUNT_SKIPPED: "zero amounts skipped",
    DataChangeKind.EXCHANGE_AMOUNT_COMPUTED: "base amounts computed from a rate",
    DataChangeKind.TAX_KEY_STRIPPED: "tax keys stripped from automatic accounts",
}

#: the kinds ``text_changes = "hold"`` holds a row for
TEXT_CHANGE_KINDS = frozenset(
    {
        DataChangeKind.TEXT_SHORTENED,
        DataChangeKind.DOCUMENT_NUMBER_CLEANED,
        DataChangeKind.CHARACTERS_REPLACED,
    }
)


@dataclass(frozen=True, slots=True)
class DataChange:
    """One change ml-connector made to a row's data: the field, before and after."""

    kind: DataChangeKind
    field: str
    before: str | None
    after: str | None
    note: str

    def describe(self) -> str:
        """One line for people: ``buchungstext: text_shortened (75 -> 60 characters)``."""
        return f"{self.field}: {self.kind.value} ({self.note})"

    def to_json(self) -> dict[str, str | None]:
        return {
            "kind": self.kind.value,
            "field": self.field,
            "before": self.before,
            "after": self.after,
            "note": self.note,
        }


class TextRuleError(ValueError):
    """A text value breaks a rule whose policy is ``reject``; ``reason`` is ``too_long`` or
    ``invalid_characters``."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _in_cp1252(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _replacement(char: str) -> str:
    """Rule 3 for one character Windows-1252 lacks."""
    if unicodedata.category(char)[0] in "LMNPZ":
        ascii_text = anyascii(char)
        if ascii_text and ascii_text.isprintable():
            return ascii_text
    return "?"


def _word_to_charset(word: str, replaced: list[str]) -> str:
    """A word with a character Windows-1252 lacks is transliterated as a whole, so
    ``Łódź`` becomes ``Lodz`` rather than ``Lódz``; its other characters stay."""
    out: list[str] = []
    for char in word:
        if not _in_cp1252(char):
            replaced.append(char)
            out.append(_replacement(char))
        elif not char.isascii() and unicodedata.category(char)[0] in "LM":
            out.append(anyascii(char) or char)
        else:
            out.append(char)
    return "".join(out)


def _to_charset(text: str) -> tuple[str, list[str]]:
    """``text`` in Windows-1252 (rule 3) and the characters that were replaced."""
    if text.isascii():
        return text, []
    replaced: list[str] = []
    words = _WORDS.split(text)
    for i, word in enumerate(words):
        if not all(_in_cp1252(char) for char in word):
            words[i] = _word_to_charset(word, replaced)
    return "".join(words), replaced


def as_text(value: object) -> str:
    """``value`` as text, unchanged (dates ISO, decimals without exponent)."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _clean(value: object, field: str, changes: list[DataChange] | None) -> str:
    raw = as_text(value)
    if raw.isascii() and raw.isprintable() and "  " not in raw and raw.strip(" ") == raw:
        return raw  # nothing for rules 1-3 to change (the common case)
    text = unicodedata.normalize("NFC", raw)
    text, controls = _CONTROL.subn(" ", text)
    text = _SPACES.sub(" ", text).strip()
    text, replaced = _to_charset(text)
    if changes is not None and (replaced or controls):
        what = []
        if replaced:
            what.append(f"{''.join(dict.fromkeys(replaced))!r} not in Windows-1252, transliterated")
        if controls:
            what.append("control characters became spaces")
        changes.append(
            DataChange(DataChangeKind.CHARACTERS_REPLACED, field, raw, text, "; ".join(what))
        )
    return text


def clean_text(value: object, field: str = "", changes: list[DataChange] | None = None) -> str:
    """Rules 1-3: NFC, no control characters, single spaces, Windows-1252 only.

    A change of rule 2 (control characters) or 3 is appended to ``changes`` when given.
    """
    return _clean(value, field, changes)


def fit_free_text(
    value: object,
    max_length: int,
    overflow: str = "truncate",
    *,
    field: str = "buchungstext",
    changes: list[DataChange] | None = None,
) -> str:
    """Clean ``value`` and fit it into ``max_length`` characters (rule 4)."""
    text = _clean(value, field, changes)
    if len(text) <= max_length:
        return text
    if overflow == "reject":
        raise TextRuleError(
            f"text is {len(text)} characters, at most {max_length} allowed", reason="too_long"
        )
    cut = text[:max_length].rstrip()
    if changes is not None:
        changes.append(
            DataChange(
                DataChangeKind.TEXT_SHORTENED,
                field,
                text,
                cut,
                f"{len(text)} -> {len(cut)} characters",
            )
        )
    return cut


def _sanitise_document_number(text: str) -> str:
    text = "".join(_TRANSLIT.get(c, c) for c in text)
    text = anyascii(text)
    text = _TO_DASH.sub("-", text)
    text = _NOT_ALLOWED.sub("", text)
    return re.sub(r"-{2,}", "-", text).strip("-")


def fit_document_number(
    value: object,
    max_length: int,
    *,
    charset: str = "sanitise",
    overflow: str = "reject",
    field: str = "belegfeld_1",
    changes: list[DataChange] | None = None,
) -> str:
    """Clean ``value`` into a valid Belegfeld (rule 5); a change goes to ``changes``."""
    text = unicodedata.normalize("NFC", _SPACES.sub(" ", as_text(value)).strip())
    source = text
    if not DOCUMENT_NUMBER_ALLOWED.fullmatch(text):
        if charset == "reject":
            bad = sorted(set(_NOT_ALLOWED.findall(text)))
            raise TextRuleError(
                f"characters {''.join(bad)!r} are not allowed in a document number",
                reason="invalid_characters",
            )
        text = _sanitise_document_number(text)
    if len(text) > max_length:
        if overflow == "reject":
            raise TextRuleError(
                f"document number {text!r} is {len(text)} characters, at most {max_length}",
                reason="too_long",
            )
        text = text[:max_length]
    if changes is not None and text != source:
        changes.append(
            DataChange(
                DataChangeKind.DOCUMENT_NUMBER_CLEANED,
                field,
                source,
                text,
                f"{source!r} -> {text!r}",
            )
        )
    return text


@dataclass(frozen=True, slots=True)
class Template:
    """Literal text with ``{expression}`` placeholders; ``{{`` and ``}}`` are literal braces."""

    source: str
    parts: tuple[str | Expression, ...]

    @property
    def columns(self) -> frozenset[str]:
        return frozenset().union(*(p.columns for p in self.parts if isinstance(p, Expression)))

    @property
    def tables(self) -> frozenset[str]:
        return frozenset().union(*(p.tables for p in self.parts if isinstance(p, Expression)))

    def render(
        self,
        row: Mapping[str, object],
        lookups: LookupResolver | None = None,
        variables: Mapping[str, object] | None = None,
    ) -> str:
        """The text for one row (placeholders as :func:`as_text` in NFC; the field's
        rules clean the whole text afterwards, recording what they change)."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(
                    unicodedata.normalize("NFC", as_text(part.evaluate(row, lookups, variables)))
                )
        return "".join(out)


def compile_template(source: str, *, variables: frozenset[str] = frozenset()) -> Template:
    """Split ``source`` into literal text and compiled placeholder expressions."""
    parts: list[str | Expression] = []
    literal: list[str] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char == "{" and source.startswith("{{", i):
            literal.append("{")
            i += 2
        elif char == "}" and source.startswith("}}", i):
            literal.append("}")
            i += 2
        elif char == "}":
            raise ExpressionSyntaxError(f"unmatched '}}' at character {i + 1} in {source!r}")
        elif char == "{":
            end = _closing_brace(source, i)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(compile_expression(source[i + 1 : end], variables=variables))
            i = end + 1
        else:
            literal.append(char)
            i += 1
    if literal:
        parts.append("".join(literal))
    return Template(source=source, parts=tuple(parts))


def _closing_brace(source: str, start: int) -> int:
    quote: str | None = None
    for j in range(start + 1, len(source)):
        char = source[j]
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "}":
            return j
        elif char == "{":
            break
    raise ExpressionSyntaxError(f"'{{' at character {start + 1} is never closed in {source!r}")
