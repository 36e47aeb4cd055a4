"""Templates for text fields and the explicit cleaning rules for Buchungstext / Belegfeld.

Rules (all applied in this order, so the same input always gives the same output):

1. Unicode NFC normalisation (Looker may deliver ``u`` + U+0308 for ``ü``).
2. Control characters (line breaks, tabs, ...) become a space; runs of white space
   collapse to one space; the ends are trimmed.
3. Characters Windows-1252 cannot represent (DATEV's code page) become ``?``.
4. Free text (Buchungstext, 60): too long -> cut at the limit (``overflow = "truncate"``,
   the default) or rejected (``"reject"``).
5. Document numbers (Belegfeld 1/2: ``0-9 A-Z a-z $ & % * + - /`` only, 36/12 long):
   with ``charset = "sanitise"`` (default) umlauts are transliterated (``ä`` -> ``ae``,
   ``ß`` -> ``ss``), other accents dropped, white space and ``_ . , ; :`` become ``-``,
   any other character is removed; with ``"reject"`` any such character rejects the row.
   Too long is rejected by default: Belegfeld 1 is the open-item matching key, and a
   cut key would silently match the wrong item.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ml_connector.mapping.expressions import (
    Expression,
    ExpressionSyntaxError,
    LookupResolver,
    compile_expression,
)

__all__ = [
    "DOCUMENT_NUMBER_ALLOWED",
    "Template",
    "TextRuleError",
    "clean_text",
    "compile_template",
    "fit_document_number",
    "fit_free_text",
]

#: the characters DATEV allows in Belegfeld 1 and 2
DOCUMENT_NUMBER_ALLOWED = re.compile(r"[0-9A-Za-z$&%*+\-/]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"\s+")
_TRANSLIT = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
_TO_DASH = re.compile(r"[\s_.,;:]+")
_NOT_ALLOWED = re.compile(r"[^0-9A-Za-z$&%*+\-/]")


class TextRuleError(ValueError):
    """A text value breaks a rule whose policy is ``reject``; ``reason`` is ``too_long`` or
    ``invalid_characters``."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _cp1252_safe(text: str) -> str:
    if text.isascii():
        return text
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        pass
    else:
        return text
    out = []
    for char in text:
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            out.append("?")
        else:
            out.append(char)
    return "".join(out)


def clean_text(value: object) -> str:
    """Rules 1-3: NFC, no control characters, single spaces, Windows-1252 only."""
    if value is None:
        return ""
    if isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, Decimal):
        text = format(value, "f")
    else:
        text = str(value)
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    return _cp1252_safe(text)


def fit_free_text(value: object, max_length: int, overflow: str = "truncate") -> str:
    """Clean ``value`` and fit it into ``max_length`` characters (rule 4)."""
    text = clean_text(value)
    if len(text) <= max_length:
        return text
    if overflow == "reject":
        raise TextRuleError(
            f"text is {len(text)} characters, at most {max_length} allowed", reason="too_long"
        )
    return text[:max_length].rstrip()


def fit_document_number(
    value: object, max_length: int, *, charset: str = "sanitise", overflow: str = "reject"
) -> str:
    """Clean ``value`` into a valid Belegfeld (rule 5)."""
    text = clean_text(value)
    if not DOCUMENT_NUMBER_ALLOWED.fullmatch(text):
        if charset == "reject":
            bad = sorted(set(_NOT_ALLOWED.findall(text)))
            raise TextRuleError(
                f"characters {''.join(bad)!r} are not allowed in a document number",
                reason="invalid_characters",
            )
        text = "".join(_TRANSLIT.get(c, c) for c in text)
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
        text = _TO_DASH.sub("-", text)
        text = _NOT_ALLOWED.sub("", text)
        text = re.sub(r"-{2,}", "-", text).strip("-")
    if len(text) > max_length:
        if overflow == "reject":
            raise TextRuleError(
                f"document number {text!r} is {len(text)} characters, at most {max_length}",
                reason="too_long",
            )
        text = text[:max_length]
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
        """The text for one row (placeholders rendered with :func:`clean_text`)."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(clean_text(part.evaluate(row, lookups, variables)))
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
