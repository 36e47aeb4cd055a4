"""Looker filter expressions, compiled into predicates over one field's values.

Common forms of the Looker filter-expression language are understood:

- strings: ``foo`` (equals), ``foo,bar`` (any of), ``-foo`` (not), ``foo%`` / ``%foo%``
  / ``f_o`` (LIKE patterns), ``EMPTY`` / ``-EMPTY`` (null or ""), ``NULL`` /
  ``-NULL``; ``^`` escapes a special character (``^,`` ``^%`` ``^_`` ``^^`` ``^-``).
  Positive terms are OR-ed, negative terms AND-ed.
- numbers: ``5``, ``1,2,3``, ``>100``, ``>=1``, ``<0``, ``<=9``, ``!=5``, ``NOT 5``,
  ``[1,10]`` / ``(1,10)`` / ``[1,10)`` intervals, ``1 to 10``, ``NULL``, ``NOT NULL``.
- dates: ``2026``, ``2026-10``, ``2026-10-31``, ``2026-10-01 to 2026-11-01`` (end
  exclusive), ``after 2026-10-01``, ``before 2026-10-01``, ``this month``,
  ``last month``, ``N months`` (this and the N-1 before), ``last N months|days|years``
  (complete ones before today), ``NULL``, ``NOT NULL``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from ml_connector_sandbox.emulators.looker.dataset import Value

__all__ = ["FilterError", "compile_filter", "exact_strings"]

Predicate = Callable[[Value], bool]


class FilterError(ValueError):
    """The expression cannot be understood for this field type."""


def compile_filter(expr: str, ftype: str, *, today: date | None = None) -> Predicate:
    """Predicate for ``expr`` on a field of LookML type ``ftype``."""
    if ftype in {"number", "count", "sum", "min", "max", "average"}:
        return _number(expr)
    if ftype == "date":
        return _date(expr, today or date.today())
    if ftype == "yesno":
        want = expr.strip().lower() == "yes"
        return lambda v: v is not None and bool(v) == want
    return _string(expr)


# -- strings -------------------------------------------------------------------------


Term = list[tuple[str, bool]]  # characters, each flagged "escaped with ^"


def _split_escaped(expr: str) -> list[tuple[Term, bool]]:
    """Split on unescaped commas; each term with a flag 'has wildcards'."""
    terms: list[tuple[Term, bool]] = []
    buf: Term = []
    wild = False
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch == "^" and i + 1 < len(expr):
            buf.append((expr[i + 1], True))
            i += 2
            continue
        if ch == ",":
            terms.append((buf, wild))
            buf, wild = [], False
        else:
            wild = wild or ch in "%_"
            buf.append((ch, False))
        i += 1
    terms.append((buf, wild))
    return terms


def _like(term: Term) -> re.Pattern[str]:
    out = [
        re.escape(ch) if escaped or ch not in "%_" else (".*" if ch == "%" else ".")
        for ch, escaped in term
    ]
    return re.compile("".join(out), re.DOTALL)


def _string_term(term: Term, wild: bool) -> Predicate:
    text = "".join(ch for ch, _ in term)
    keyword = not any(escaped for _, escaped in term)
    upper = text.strip().upper()
    if keyword and upper == "NULL":
        return lambda v: v is None
    if keyword and upper == "EMPTY":
        return lambda v: v is None or v == ""
    if wild:
        rx = _like(term)
        return lambda v: isinstance(v, str) and rx.fullmatch(v) is not None
    return lambda v: v == text


def exact_strings(expr: str) -> list[str] | None:
    """The literal values a string filter matches exactly (``a,b`` -> ``["a", "b"]``).

    ``None`` when the expression has a negation, a wildcard or a keyword, so the
    caller must fall back to testing every value.
    """
    values: list[str] = []
    for term, wild in _split_escaped(expr):
        text = "".join(ch for ch, _ in term)
        keyword = not any(escaped for _, escaped in term)
        if wild or not term or term[0] == ("-", False):
            return None
        if keyword and text.strip().upper() in {"NULL", "EMPTY"}:
            return None
        values.append(text)
    return values


def _string(expr: str) -> Predicate:
    positives: list[Predicate] = []
    negatives: list[Predicate] = []
    for term, wild in _split_escaped(expr):
        if term and term[0] == ("-", False):
            negatives.append(_string_term(term[1:], wild))
        else:
            positives.append(_string_term(term, wild))

    def pred(v: Value) -> bool:
        if any(n(v) for n in negatives):
            return False
        return not positives or any(p(v) for p in positives)

    return pred


# -- numbers -------------------------------------------------------------------------

_INTERVAL = re.compile(r"([\[(])\s*([^,\])]*)\s*,\s*([^,\])]*)\s*([\])])")
_COMPARE = re.compile(r"^(>=|<=|!=|>|<|=)?\s*(-?\d+(?:\.\d+)?)$")


def _num(text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation as exc:
        raise FilterError(f"not a number: {text!r}") from exc


def _number_term(term: str) -> tuple[Predicate, bool]:
    """Predicate and whether it is a negation (AND-ed)."""
    t = term.strip()
    upper = t.upper()
    if upper == "NULL":
        return (lambda v: v is None), False
    if upper == "NOT NULL":
        return (lambda v: v is not None), True
    if upper.startswith("NOT "):
        inner, _ = _number_term(t[4:])
        return (lambda v: v is not None and not inner(v)), True
    if " to " in t.lower():
        lo_text, hi_text = re.split(r"(?i)\s+to\s+", t, maxsplit=1)
        lo, hi = _num(lo_text), _num(hi_text)
        return (lambda v: v is not None and lo <= _dec(v) <= hi), False
    m = _COMPARE.match(t)
    if not m:
        raise FilterError(f"unsupported number filter: {term!r}")
    op, target = m.group(1) or "=", _num(m.group(2))
    ops: dict[str, Callable[[Decimal], bool]] = {
        "=": lambda x: x == target,
        "!=": lambda x: x != target,
        ">": lambda x: x > target,
        ">=": lambda x: x >= target,
        "<": lambda x: x < target,
        "<=": lambda x: x <= target,
    }
    check = ops[op]
    return (lambda v: v is not None and check(_dec(v))), op == "!="


def _dec(v: Value) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(str(v))


def _interval(m: re.Match[str]) -> Predicate:
    left, lo_text, hi_text, right = m.groups()
    lo = _num(lo_text) if lo_text.strip() else None
    hi = _num(hi_text) if hi_text.strip() else None

    def pred(v: Value) -> bool:
        if v is None:
            return False
        x = _dec(v)
        if lo is not None and (x < lo if left == "[" else x <= lo):
            return False
        return not (hi is not None and (x > hi if right == "]" else x >= hi))

    return pred


def _all_of(preds: list[Predicate]) -> Predicate:
    return lambda v: all(p(v) for p in preds)


def _number(expr: str) -> Predicate:
    positives: list[Predicate] = [_interval(m) for m in _INTERVAL.finditer(expr)]
    negatives: list[Predicate] = []
    rest = _INTERVAL.sub("", expr)
    for part in re.split(r",|(?i:\s+OR\s+)", rest):
        if not part.strip():
            continue
        if re.search(r"(?i)\s+AND\s+", part):
            preds = [_number_term(p)[0] for p in re.split(r"(?i)\s+AND\s+", part)]
            positives.append(_all_of(preds))
            continue
        pred, negative = _number_term(part)
        (negatives if negative else positives).append(pred)

    def combined(v: Value) -> bool:
        if not all(n(v) for n in negatives):
            return False
        return not positives or any(p(v) for p in positives)

    return combined


# -- dates ---------------------------------------------------------------------------


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + d.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def _point(text: str) -> tuple[date, date]:
    """[start, end) of a year, month or day literal."""
    t = text.strip().replace("/", "-")
    try:
        if re.fullmatch(r"\d{4}", t):
            return date(int(t), 1, 1), date(int(t) + 1, 1, 1)
        if re.fullmatch(r"\d{4}-\d{1,2}", t):
            start = date(int(t[:4]), int(t[5:]), 1)
            return start, _add_months(start, 1)
        day = date.fromisoformat(t)
    except ValueError as exc:
        raise FilterError(f"unsupported date filter: {text!r}") from exc
    return day, day + timedelta(days=1)


def _relative(t: str, today: date) -> tuple[date, date] | None:
    month_start = today.replace(day=1)
    if t == "today":
        return today, today + timedelta(days=1)
    if t == "this month":
        return month_start, _add_months(month_start, 1)
    if t == "last month":
        return _add_months(month_start, -1), month_start
    if t == "this year":
        return date(today.year, 1, 1), date(today.year + 1, 1, 1)
    if t == "last year":
        return date(today.year - 1, 1, 1), date(today.year, 1, 1)
    m = re.fullmatch(r"(last\s+)?(\d+)\s+(day|month|year)s?", t)
    if not m:
        return None
    n, unit, complete = int(m.group(2)), m.group(3), bool(m.group(1))
    if unit == "day":
        end = today if complete else today + timedelta(days=1)
        return end - timedelta(days=n), end
    if unit == "month":
        end = month_start if complete else _add_months(month_start, 1)
        return _add_months(end, -n), end
    year_end = date(today.year if complete else today.year + 1, 1, 1)
    return date(year_end.year - n, 1, 1), year_end


def _date_term(term: str, today: date) -> Predicate:
    t = " ".join(term.strip().lower().split())
    if t == "null":
        return lambda v: v is None
    if t == "not null":
        return lambda v: v is not None
    span: tuple[date | None, date | None]
    if t.startswith("after "):
        span = (_point(t[6:])[0], None)
    elif t.startswith("before "):
        span = (None, _point(t[7:])[0])
    elif " to " in t:
        lo, hi = t.split(" to ", 1)
        span = (_point(lo)[0], _point(hi)[0])
    else:
        rel = _relative(t, today)
        span = rel if rel is not None else _point(t)
    start, end = span

    def pred(v: Value) -> bool:
        if not isinstance(v, date):
            return False
        return (start is None or v >= start) and (end is None or v < end)

    return pred


def _date(expr: str, today: date) -> Predicate:
    preds = [_date_term(part, today) for part in expr.split(",") if part.strip()]
    return lambda v: any(p(v) for p in preds)
