"""A small, safe expression language for mapping fields (parsed with :mod:`ast`, never ``eval``).

The syntax is a subset of Python expressions:

* column references: ``gl_monthly.amount_eur`` (a dotted name is one Looker column),
  ``col("odd name")`` for columns that are not valid identifiers;
* literals: strings, integers and decimals (``1.19`` is an exact :class:`Decimal`),
  ``True``, ``False``, ``None``; tuples/lists of literals for ``in``;
* operators: ``+ - * / %``, unary ``-``, comparisons (also chained), ``in``/``not in``,
  ``and``/``or``/``not``, ``a if cond else b``;
* the functions in :data:`FUNCTIONS` (``lookup``, ``round``, ``abs``, ``coalesce``, ...).

Anything else (attribute access on values, subscripts, lambdas, comprehensions,
keyword arguments, unknown functions) is refused when the expression is compiled,
so a configuration error shows up at ``mapping check`` time, not half-way through a run.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Protocol

__all__ = [
    "FUNCTIONS",
    "MAX_EXPRESSION_CHARS",
    "MAX_EXPRESSION_DEPTH",
    "Expression",
    "ExpressionError",
    "ExpressionSyntaxError",
    "LookupResolver",
    "compile_expression",
]


#: bounds that keep compiling and evaluating an expression cheap and within the stack
MAX_EXPRESSION_CHARS = 4000
MAX_EXPRESSION_DEPTH = 100


class ExpressionSyntaxError(ValueError):
    """The expression text is not valid in the mapping language (a configuration error)."""


class ExpressionError(ValueError):
    """Evaluating a valid expression failed for one row (a data problem of that row)."""


class LookupMissError(ExpressionError):
    """``lookup(table, key)`` found no entry and no default was given."""

    def __init__(self, table: str, key: object) -> None:
        super().__init__(f"no entry for {key!r} in lookup table {table!r}")
        self.table = table
        self.key = key


class LookupResolver(Protocol):
    """What ``lookup(...)`` calls: ``resolve(table, key)`` returns the value or raises KeyError."""

    def resolve(self, table: str, key: object) -> object: ...

    def has_table(self, table: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class _Env:
    row: Mapping[str, object]
    lookups: LookupResolver | None
    variables: Mapping[str, object]


_Fn = Callable[[_Env], object]


def _to_decimal(value: object, what: str = "value") -> Decimal:
    if isinstance(value, bool):
        raise ExpressionError(f"{what} is a boolean, not a number")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ExpressionError(f"{what} {value} is not a finite number")
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return _to_decimal(Decimal(repr(value)), what)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ExpressionError(f"{what} {value!r} is not a number") from None
        if not number.is_finite():
            raise ExpressionError(f"{what} {value!r} is not a finite number")
        return number
    raise ExpressionError(f"{what} {value!r} is not a number")


def _fn_round(value: object, places: object = 0) -> Decimal:
    if not isinstance(places, int) or isinstance(places, bool) or not 0 <= places <= 6:
        raise ExpressionError("round(x, n) needs n between 0 and 6")
    exponent = Decimal(1).scaleb(-places)
    return _to_decimal(value).quantize(exponent, rounding=ROUND_HALF_UP)


def _fn_abs(value: object) -> Decimal:
    return abs(_to_decimal(value))


def _fn_coalesce(*values: object) -> object:
    for value in values:
        if value is not None and value != "":
            return value
    return None


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _fn_str(value: object) -> str:
    return _text(value)


def _fn_upper(value: object) -> str:
    return _text(value).upper()


def _fn_lower(value: object) -> str:
    return _text(value).lower()


def _fn_strip(value: object) -> str:
    return _text(value).strip()


def _fn_left(value: object, count: object) -> str:
    if not isinstance(count, int):
        raise ExpressionError("left(text, n) needs an integer n")
    return _text(value)[: max(count, 0)]


def _fn_right(value: object, count: object) -> str:
    if not isinstance(count, int):
        raise ExpressionError("right(text, n) needs an integer n")
    text = _text(value)
    return text[len(text) - count :] if count > 0 else ""


def _fn_replace(value: object, old: object, new: object) -> str:
    return _text(value).replace(_text(old), _text(new))


def _fn_split_part(value: object, separator: object, index: object) -> str:
    if not isinstance(index, int):
        raise ExpressionError("split_part(text, sep, i) needs an integer i")
    parts = _text(value).split(_text(separator))
    return parts[index] if -len(parts) <= index < len(parts) else ""


def _fn_int(value: object) -> int:
    number = _to_decimal(value)
    if number != number.to_integral_value():
        raise ExpressionError(f"{value!r} is not a whole number")
    return int(number)


def _fn_decimal(value: object) -> Decimal:
    return _to_decimal(value)


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise ExpressionError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    raise ExpressionError(f"{value!r} is not a date")


def _fn_date(value: object) -> date:
    return _as_date(value)


def _fn_format_date(value: object, pattern: object) -> str:
    if not isinstance(pattern, str) or not re.fullmatch(r"(?:%[dmyYbB%]|[^%])*", pattern):
        raise ExpressionError("format_date pattern may use only %d %m %y %Y %b %B and text")
    return _as_date(value).strftime(pattern)


def _fn_year(value: object) -> int:
    return _as_date(value).year


def _fn_month(value: object) -> int:
    return _as_date(value).month


def _fn_day(value: object) -> int:
    return _as_date(value).day


def _fn_length(value: object) -> int:
    return len(_text(value))


def _fn_is_null(value: object) -> bool:
    return value is None or value == ""


#: functions an expression may call (``lookup`` and ``col`` are handled by the evaluator)
FUNCTIONS: Mapping[str, Callable[..., object]] = {
    "abs": _fn_abs,
    "round": _fn_round,
    "coalesce": _fn_coalesce,
    "str": _fn_str,
    "upper": _fn_upper,
    "lower": _fn_lower,
    "strip": _fn_strip,
    "left": _fn_left,
    "right": _fn_right,
    "replace": _fn_replace,
    "split_part": _fn_split_part,
    "int": _fn_int,
    "decimal": _fn_decimal,
    "date": _fn_date,
    "format_date": _fn_format_date,
    "year": _fn_year,
    "month": _fn_month,
    "day": _fn_day,
    "length": _fn_length,
    "is_null": _fn_is_null,
}
_SPECIAL_FUNCTIONS = frozenset({"lookup", "col"})

_BINARY: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_COMPARE: Mapping[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


def _dotted_name(node: ast.expr) -> str | None:
    """``a.b.c`` (names only) as the string ``"a.b.c"``, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Checker:
    """Walks the tree once at compile time; refuses everything outside the whitelist."""

    def __init__(self, source: str, variables: frozenset[str]) -> None:
        self.source = source
        self.variables = variables
        self.columns: set[str] = set()
        self.tables: set[str] = set()

    def fail(self, node: ast.AST, what: str) -> ExpressionSyntaxError:
        col = getattr(node, "col_offset", None)
        where = f" at character {col + 1}" if col is not None else ""
        return ExpressionSyntaxError(f"{what}{where} in {self.source!r}")

    def check(self, node: ast.AST) -> None:
        if isinstance(node, ast.Expression):
            self.check(node.body)
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, str | int | float | bool | type(None)):
                raise self.fail(node, f"literal {node.value!r} is not allowed")
        elif isinstance(node, ast.Name | ast.Attribute):
            name = _dotted_name(node)
            if name is None:
                raise self.fail(node, "attribute access on a value is not allowed")
            if name not in self.variables:
                self.columns.add(name)
        elif isinstance(node, ast.Tuple | ast.List):
            for element in node.elts:
                if not isinstance(element, ast.Constant):
                    raise self.fail(element, "lists may contain literals only")
                self.check(element)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
            self.check(node.left)
            self.check(node.right)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
                raise self.fail(node, f"operator {type(node.op).__name__} is not allowed")
            self.check(node.operand)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self.check(value)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if type(op) not in _COMPARE:
                    raise self.fail(node, f"comparison {type(op).__name__} is not allowed")
            self.check(node.left)
            for comparator in node.comparators:
                self.check(comparator)
        elif isinstance(node, ast.IfExp):
            self.check(node.test)
            self.check(node.body)
            self.check(node.orelse)
        elif isinstance(node, ast.Call):
            self.check_call(node)
        else:
            raise self.fail(node, f"{type(node).__name__} is not allowed")

    def check_call(self, node: ast.Call) -> None:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only plain function calls are allowed")
        name = node.func.id
        if name not in FUNCTIONS and name not in _SPECIAL_FUNCTIONS:
            known = ", ".join(sorted([*FUNCTIONS, *_SPECIAL_FUNCTIONS]))
            raise self.fail(node, f"unknown function {name!r} (known: {known})")
        if node.keywords:
            raise self.fail(node, "keyword arguments are not allowed")
        if name in _SPECIAL_FUNCTIONS:
            arity = (1, 1) if name == "col" else (2, 3)
            if not arity[0] <= len(node.args) <= arity[1]:
                raise self.fail(node, f"{name}() takes {arity[0]}-{arity[1]} arguments")
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                raise self.fail(node, f"the first argument of {name}() must be a quoted name")
            (self.columns if name == "col" else self.tables).add(first.value)
            for arg in node.args[1:]:
                self.check(arg)
            return
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.fail(arg, "*args is not allowed")
            self.check(arg)


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled expression: ``evaluate(row, lookups)`` gives its value for one row."""

    source: str
    tree: ast.Expression
    columns: frozenset[str]
    """Looker columns the expression reads."""
    tables: frozenset[str]
    """Lookup tables the expression uses."""
    code: _Fn = field(repr=False, compare=False)
    """The expression compiled to closures (what :meth:`evaluate` calls per row)."""
    column: str | None = field(default=None, repr=False, compare=False)
    """The column (or variable) a bare reference reads: evaluated without the closures."""

    def evaluate(
        self,
        row: Mapping[str, object],
        lookups: LookupResolver | None = None,
        variables: Mapping[str, object] | None = None,
    ) -> object:
        """Value for ``row``; raises :class:`ExpressionError` when the row does not fit."""
        if self.column is not None:
            return _column_value(row, variables or {}, self.column)
        env = _Env(row=row, lookups=lookups, variables=variables or {})
        try:
            return self.code(env)
        except ExpressionError:
            raise
        except InvalidOperation:
            raise ExpressionError(
                f"{self.source!r}: the result is not a finite number or is too large"
            ) from None
        except (TypeError, ArithmeticError, ValueError) as exc:
            raise ExpressionError(f"{self.source!r}: {exc}") from None


def compile_expression(source: str, *, variables: frozenset[str] = frozenset()) -> Expression:
    """Parse and whitelist-check ``source``; ``variables`` are names that are not columns."""
    text = source.strip()
    if not text:
        raise ExpressionSyntaxError("the expression is empty")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionSyntaxError(
            f"the expression is {len(text)} characters long; at most {MAX_EXPRESSION_CHARS} "
            "are allowed (use a lookup table instead of a long chain of conditions)"
        )
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        where = f" at character {exc.offset}" if exc.offset else ""
        raise ExpressionSyntaxError(f"cannot parse {_short(text)}{where}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionSyntaxError(f"{_short(text)} is nested too deeply") from None
    if (depth := _depth(tree)) > MAX_EXPRESSION_DEPTH:
        raise ExpressionSyntaxError(
            f"{_short(text)} is nested {depth} levels deep; at most {MAX_EXPRESSION_DEPTH} are "
            "allowed (use a lookup table instead of a long chain of operations)"
        )
    checker = _Checker(text, variables)
    checker.check(tree)
    return Expression(
        source=text,
        tree=tree,
        columns=frozenset(checker.columns),
        tables=frozenset(checker.tables),
        code=_compile(tree.body, text),
        column=_bare_column(tree.body),
    )


def _bare_column(node: ast.expr) -> str | None:
    """The name an expression that only reads one column (``a.b`` or ``col("a.b")``) reads."""
    if isinstance(node, ast.Name | ast.Attribute):
        return _dotted_name(node)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "col":
        first = node.args[0]
        return str(first.value) if isinstance(first, ast.Constant) else None
    return None


def _short(text: str) -> str:
    """The expression quoted for a message, cut to its first 60 characters."""
    return repr(text) if len(text) <= 60 else repr(text[:60]) + "..."


def _depth(tree: ast.AST) -> int:
    """How deeply ``tree`` nests (iteratively: a deep tree must not exhaust the stack)."""
    deepest = 0
    todo = [(tree, 1)]
    while todo:
        node, depth = todo.pop()
        deepest = max(deepest, depth)
        todo.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _column(env: _Env, name: str) -> object:
    return _column_value(env.row, env.variables, name)


def _column_value(row: Mapping[str, object], variables: Mapping[str, object], name: str) -> object:
    if name in variables:
        return variables[name]
    if name not in row:
        raise ExpressionError(f"column {name!r} is not in the row")
    value = row[name]
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def _literal(node: ast.Constant, source: str) -> object:
    value = node.value
    if isinstance(value, float):
        segment = ast.get_source_segment(source, node)
        return Decimal(segment) if segment else Decimal(repr(value))
    return value


def _arith(op: type[ast.operator], left: object, right: object) -> object:
    if op is ast.Add and isinstance(left, str) and isinstance(right, str):
        return left + right
    if left is None or right is None:
        raise ExpressionError("arithmetic on an empty value")
    a, b = _to_decimal(left), _to_decimal(right)
    if op in (ast.Div, ast.Mod) and b == 0:
        raise ExpressionError("division by zero")
    result = _BINARY[op](a, b)
    assert isinstance(result, Decimal)
    return result


def _compile(node: ast.expr, source: str) -> _Fn:
    """``node`` as a Python callable of the row environment, built once per expression.

    The tree is walked here, at compile time; evaluating a row calls the closures only.
    """
    if isinstance(node, ast.Constant):
        value = _literal(node, source)
        return lambda env: value
    if isinstance(node, ast.Name | ast.Attribute):
        name = _dotted_name(node)
        assert name is not None
        return lambda env: _column(env, name)
    if isinstance(node, ast.Tuple | ast.List):
        items = tuple(_literal(e, source) for e in node.elts if isinstance(e, ast.Constant))
        return lambda env: items
    if isinstance(node, ast.BinOp):
        return _compile_binop(node, source)
    if isinstance(node, ast.UnaryOp):
        return _compile_unary(node, source)
    if isinstance(node, ast.BoolOp):
        return _compile_boolop(node, source)
    if isinstance(node, ast.Compare):
        return _compile_compare(node, source)
    if isinstance(node, ast.IfExp):
        test, body, orelse = (_compile(n, source) for n in (node.test, node.body, node.orelse))
        return lambda env: body(env) if test(env) else orelse(env)
    if isinstance(node, ast.Call):
        return _compile_call(node, source)
    raise ExpressionSyntaxError(f"{type(node).__name__} is not allowed")  # pragma: no cover


def _compile_binop(node: ast.BinOp, source: str) -> _Fn:
    op, left, right = type(node.op), _compile(node.left, source), _compile(node.right, source)
    return lambda env: _arith(op, left(env), right(env))


def _compile_unary(node: ast.UnaryOp, source: str) -> _Fn:
    operand = _compile(node.operand, source)
    if isinstance(node.op, ast.Not):
        return lambda env: not operand(env)
    if isinstance(node.op, ast.USub):
        return lambda env: -_to_decimal(operand(env))
    return lambda env: _to_decimal(operand(env))


def _compile_boolop(node: ast.BoolOp, source: str) -> _Fn:
    values = tuple(_compile(v, source) for v in node.values)
    is_and = isinstance(node.op, ast.And)

    def boolop(env: _Env) -> object:
        result: object = None
        for value in values:
            result = value(env)
            if bool(result) is not is_and:
                return result
        return result

    return boolop


def _compile_compare(node: ast.Compare, source: str) -> _Fn:
    first = _compile(node.left, source)
    steps = tuple(
        (_COMPARE[type(op)], _compile(comp, source))
        for op, comp in zip(node.ops, node.comparators, strict=True)
    )

    def compare(env: _Env) -> object:
        left = first(env)
        for test, operand in steps:
            right = operand(env)
            a, b = _comparable(left, right)
            if not test(a, b):
                return False
            left = right
        return True

    return compare


def _comparable(left: object, right: object) -> tuple[object, object]:
    """Numbers compare as Decimals whatever their Python type."""
    numeric = (int, float, Decimal)
    if (
        isinstance(left, numeric)
        and isinstance(right, numeric)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
    ):
        return _to_decimal(left), _to_decimal(right)
    return left, right


def _compile_call(node: ast.Call, source: str) -> _Fn:
    assert isinstance(node.func, ast.Name)
    name = node.func.id
    if name == "col":
        first = node.args[0]
        assert isinstance(first, ast.Constant)
        column = str(first.value)
        return lambda env: _column(env, column)
    if name == "lookup":
        return _compile_lookup(node, source)
    function = FUNCTIONS[name]
    args = tuple(_compile(arg, source) for arg in node.args)
    if len(args) == 1:
        (only,) = args
        return lambda env: function(only(env))
    return lambda env: function(*[arg(env) for arg in args])


def _compile_lookup(node: ast.Call, source: str) -> _Fn:
    first = node.args[0]
    assert isinstance(first, ast.Constant)
    table = str(first.value)
    key_of = _compile(node.args[1], source)
    default = _compile(node.args[2], source) if len(node.args) == 3 else None

    def lookup(env: _Env) -> object:
        key = key_of(env)
        if env.lookups is None:
            raise ExpressionError("lookup() is not available here")
        try:
            return env.lookups.resolve(table, key)
        except KeyError:
            if default is not None:
                return default(env)
            raise LookupMissError(table, key) from None

    return lookup
