"""A mapping's field rules generated as one Python function per mapping.

:func:`field_function` writes the source of ``fields(row, changes) -> values``: for each
mapped field, reading its raw value (a column, a constant, a template, an expression,
then its lookup table), the empty-value rule and the field's converter, in line. The
source holds only names chosen here and ``repr()`` of column, field and table names;
user expressions stay the closures they were compiled to and are called by name.
The result is what :meth:`FieldRule.value` plus the converters give field by field
(the same values, change records and rejections).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from typing import Any

from ml_connector.mapping.expressions import Expression, ExpressionError, LookupMissError
from ml_connector.mapping.lookups import LookupSet
from ml_connector.mapping.spec import FieldRule
from ml_connector.mapping.text import as_text

__all__ = ["FieldFunction", "field_function"]

#: ``(row, changes) -> {field: value}``; raises the mapper's rejection
FieldFunction = Callable[[Mapping[str, object], list[Any]], dict[str, object]]

_MISSING = object()


class _Source:
    """Generated lines and the names they use (the function's globals)."""

    def __init__(self, names: dict[str, object]) -> None:
        self.lines: list[str] = []
        self.names = names

    def add(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def name(self, prefix: str, value: object) -> str:
        name = f"_{prefix}{len(self.names)}"
        self.names[name] = value
        return name


def field_function(
    rules: Mapping[str, FieldRule],
    lookups: LookupSet,
    variables: Mapping[str, object],
    converters: Mapping[str, Callable[[object, list[Any]], object]],
    fail: Callable[[Exception, str], Exception],
) -> FieldFunction:
    """``fields(row, changes)`` for ``rules``; ``fail(exc, field)`` turns a lookup miss or
    an expression error of a field into the rejection to raise."""
    names: dict[str, object] = {
        "_MISSING": _MISSING,
        "Decimal": Decimal,
        "as_text": as_text,
        "normalize": unicodedata.normalize,
        "ExpressionError": ExpressionError,
        "LookupMissError": LookupMissError,
        "_fail": fail,
        "row_lookups": lookups,
        "variables": variables,
    }
    src = _Source(names)
    src.add(0, "def fields(row, changes):")
    results: list[str] = []
    for number, (field, rule) in enumerate(rules.items()):
        result = f"x{number}"
        results.append(f"{field!r}: {result}")
        _field(src, field, rule, result, converters[field], lookups, variables)
    src.add(1, "return {" + ", ".join(results) + "}")
    code = compile("\n".join(src.lines) + "\n", "<mapping-fields>", "exec")
    exec(code, names)  # noqa: S102 - generated above from names and repr() constants only
    function = names["fields"]
    assert callable(function)
    return function


def _field(
    src: _Source,
    field: str,
    rule: FieldRule,
    result: str,
    convert: Callable[[object, list[Any]], object],
    lookups: LookupSet,
    variables: Mapping[str, object],
) -> None:
    """Lines setting ``result`` to the converted value of ``field`` (or None)."""
    conv = src.name("conv", convert)
    if rule.kind == "constant":
        ready = _constant(rule.constant, field, convert)
        if ready is not _MISSING:
            src.add(1, f"{result} = {src.name('const', ready)}")
            return
    src.add(1, "try:")
    _raw(src, rule, lookups, variables)
    src.add(1, "except (LookupMissError, ExpressionError) as exc:")
    src.add(2, f"raise _fail(exc, {rule.target!r}) from None")
    blank = "" if field == "buchungstext" else " or (isinstance(v, str) and not v.strip())"
    src.add(1, f"{result} = None if v is None{blank} else {conv}(v, changes)")


def _constant(value: object, field: str, convert: Callable[[object, list[Any]], object]) -> object:
    """A constant's converted value when converting it records nothing, else ``_MISSING``."""
    if value is None or (isinstance(value, str) and field != "buchungstext" and not value.strip()):
        return None
    changes: list[Any] = []
    try:
        ready = convert(value, changes)
    except Exception:  # the rejection is then raised per row, as before
        return _MISSING
    return _MISSING if changes else ready


def _raw(
    src: _Source, rule: FieldRule, lookups: LookupSet, variables: Mapping[str, object]
) -> None:
    """Lines (in the ``try``) setting ``v`` to the raw value of ``rule``."""
    expression = rule.expression
    if rule.kind == "constant":
        src.add(2, f"v = {src.name('const', rule.constant)}")
        return
    if rule.template is not None:
        _template(src, rule.template.parts, variables)
        return
    assert expression is not None
    _read(src, expression, "v", variables)
    if rule.lookup is not None:
        _lookup(src, rule, rule.lookup, lookups)


def _read(src: _Source, expression: Expression, to: str, variables: Mapping[str, object]) -> None:
    """Lines (in the ``try``) setting ``to`` to what ``expression`` evaluates to: a bare
    column or variable read in line, any other expression by its compiled closures."""
    column = expression.column
    if column is not None and column in variables:
        src.add(2, f"{to} = variables[{column!r}]")
    elif column is not None:
        src.add(2, f"{to} = row.get({column!r}, _MISSING)")
        src.add(2, f"if {to} is _MISSING:")
        src.add(3, f"raise ExpressionError({f'column {column!r} is not in the row'!r})")
        src.add(2, f"if isinstance({to}, float):")
        src.add(3, f"{to} = Decimal(repr({to}))")
    else:
        src.add(2, f"{to} = {src.name('expr', expression)}.evaluate(row, row_lookups, variables)")


def _template(
    src: _Source, parts: tuple[str | Expression, ...], variables: Mapping[str, object]
) -> None:
    """Lines setting ``v`` to a template's text, as :meth:`Template.render` gives it."""
    pieces: list[str] = []
    for number, part in enumerate(parts):
        if isinstance(part, str):
            pieces.append(src.name("text", part))
            continue
        piece = f"t{number}"
        _read(src, part, piece, variables)
        src.add(2, f"{piece} = as_text({piece})")
        src.add(2, f"if not {piece}.isascii():")  # NFC leaves ASCII text as it is
        src.add(3, f"{piece} = normalize('NFC', {piece})")
        pieces.append(piece)
    if len(pieces) == 1 and not isinstance(parts[0], str):
        src.add(2, f"v = {pieces[0]}")
    else:
        src.add(2, "v = ''.join((" + "".join(f"{p}, " for p in pieces) + "))")


def _lookup(src: _Source, rule: FieldRule, table: str, lookups: LookupSet) -> None:
    """Lines replacing ``v`` by its entry in ``table`` (the default, or a lookup miss)."""
    known = isinstance(lookups, LookupSet) and table in lookups.tables
    get = lookups.tables[table].get if known else partial(lookups.resolve, table)
    src.add(2, "try:")
    src.add(3, f"v = {src.name('get', get)}(v)")
    src.add(2, "except KeyError:")
    if rule.has_default:
        src.add(3, f"v = {src.name('default', rule.default)}")
    else:
        src.add(3, f"raise LookupMissError({table!r}, v) from None")
