"""Turning models into EXTF text: the header line, the headings line, booking lines.

:func:`line_renderer` returns the hot-path function ``BookingLine -> str``.  It is
generated once from the column table (a precompiled formatter per column, no loop
over the 125 columns at run time): the attributes are fetched in groups with
:func:`operator.attrgetter`, and a group whose values are all ``None`` (most of the
125 columns in practice) is replaced by a precomputed constant.  It trusts its input:
values are assumed to have been validated (:mod:`ml_connector.formats.extf.validate`).
"""

from __future__ import annotations

import operator
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from ml_connector.formats.extf.columns import COLUMNS, Column, Kind
from ml_connector.formats.extf.models import GROUPS, BatchHeader, BookingLine
from ml_connector.formats.extf.spec import COLUMN_HEADINGS

__all__ = [
    "GROUPS",
    "header_fields",
    "header_line",
    "headings_line",
    "line_fields",
    "line_renderer",
    "quote",
]


def quote(text: str) -> str:
    """``text`` in double quotes with inner quotes doubled."""
    return '"' + text.replace('"', '""') + '"'


def headings_line() -> str:
    """Line 2: the 125 headings, unquoted, as DATEV's sample writes them."""
    return ";".join(COLUMN_HEADINGS)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S") + f"{moment.microsecond // 1000:03d}"


def header_fields(header: BatchHeader) -> list[str]:
    """The 31 header fields as written (text fields quoted)."""
    h = header
    return [
        '"EXTF"',
        "700",
        "21",
        '"Buchungsstapel"',
        "13",
        _stamp(h.erzeugt_am),
        "",
        quote(h.herkunft),
        quote(h.exportiert_von),
        '""',
        str(h.beraternummer),
        str(h.mandantennummer),
        h.wj_beginn.strftime("%Y%m%d"),
        str(h.sachkontenlaenge),
        h.datum_vom.strftime("%Y%m%d"),
        h.datum_bis.strftime("%Y%m%d"),
        quote(unicodedata.normalize("NFC", h.bezeichnung)),
        quote(h.diktatkuerzel),
        str(h.buchungstyp),
        str(h.rechnungslegungszweck),
        "1" if h.festschreibung else "0",
        quote(h.wkz),
        "",
        '""',
        "",
        "",
        quote(h.skr),
        "" if h.branchenloesung_id is None else str(h.branchenloesung_id),
        "",
        '""',
        quote(unicodedata.normalize("NFC", h.anwendungsinformation)),
    ]


def header_line(header: BatchHeader) -> str:
    """Line 1 of the file (without line end)."""
    return ";".join(header_fields(header))


def line_fields(line: BookingLine) -> list[str]:
    """The 125 fields of ``line`` as written (slow, readable; used for checks and tests)."""
    out = []
    for col in COLUMNS:
        value = getattr(line, col.attr)
        if value is None:
            out.append('""' if col.quoted else "")
        else:
            text = col.to_text(value)
            out.append(quote(text) if col.quoted else text)
    return out


# ---- the generated hot path -------------------------------------------------------

_DATE_CACHE_LIMIT = 4096


_CACHE4: dict[date, str] = {}
_CACHE8: dict[date, str] = {}


def _memo_date(cache_: dict[date, str], fmt: Callable[[date], str]) -> Callable[[date], str]:
    """``fmt`` memoised in ``cache_`` (emptied when it grows past the limit)."""

    def text_of(value: date) -> str:
        text = cache_.get(value)
        if text is None:
            if len(cache_) > _DATE_CACHE_LIMIT:
                cache_.clear()
            text = cache_[value] = fmt(value)
        return text

    return text_of


def _make_date4() -> Callable[[date], str]:
    """TTMM."""
    return _memo_date(_CACHE4, lambda value: f"{value.day:02d}{value.month:02d}")


def _make_date8() -> Callable[[date], str]:
    """TTMMJJJJ."""
    return _memo_date(_CACHE8, lambda value: f"{value.day:02d}{value.month:02d}{value.year:04d}")


def _expr(col: Column, var: str, env: dict[str, object]) -> str:
    """Expression for the field text of ``var`` (inlined: no call for common kinds)."""
    kind = col.kind
    if kind is Kind.TEXT:
        text = f"({var} if {var}.isascii() else _nfc('NFC', {var}))"
        return f"""('""' if {var} is None else '"' + {text}.replace('"', '""') + '"')"""
    if kind is Kind.FLAG:
        return f"('' if {var} is None else ('1' if {var} else '0'))"
    if kind is Kind.TTMM:
        return f"('' if {var} is None else (_k4({var}) or _d4({var})))"
    if kind is Kind.DATE8:
        return f"('' if {var} is None else (_k8({var}) or _d8({var})))"
    if kind is Kind.INT and not col.pad:
        return f"('' if {var} is None else str({var}))"
    name = f"_f{col.pos}"
    env[name] = col.to_text
    if kind is Kind.AMOUNT and col.min_dec == 2:
        return (
            f"('' if {var} is None else (x.replace('.', ',') "
            f"if (x := str({var}))[-3:-2] == '.' else {name}({var})))"
        )
    return f"('' if {var} is None else {name}({var}))"


def _empty(col: Column) -> str:
    return '""' if col.quoted else ""


@cache
def line_renderer() -> Callable[[BookingLine], str]:
    """The compiled ``BookingLine -> str`` function (no line end, values trusted)."""
    env: dict[str, object] = {
        "_nfc": unicodedata.normalize,
        "_d4": _make_date4(),
        "_d8": _make_date8(),
        "_k4": _CACHE4.get,
        "_k8": _CACHE8.get,
    }
    body = ["def render(line):"]
    pieces: list[str] = []
    for g, (start, end) in enumerate(GROUPS):
        cols = COLUMNS[start:end]
        names = [f"v{c.pos}" for c in cols]
        env[f"_g{g}"] = operator.attrgetter(*(c.attr for c in cols))
        exprs = ", ".join(_expr(c, n, env) for c, n in zip(cols, names, strict=True))
        if len(cols) == 1:
            body.append(f"    {names[0]} = _g{g}(line)")
            pieces.append(exprs)
            continue
        if g == 0:
            body.append(f"    {', '.join(names)}, = _g0(line)")
            pieces.append(exprs)
            continue
        env[f"_n{g}"] = (None,) * len(cols)
        env[f"_c{g}"] = ";".join(_empty(c) for c in cols)
        body.append(f"    t{g} = _g{g}(line)")
        body.append(f"    if t{g} == _n{g}:")
        body.append(f"        s{g} = _c{g}")
        body.append("    else:")
        body.append(f"        {', '.join(names)}, = t{g}")
        body.append(f"        s{g} = ';'.join(({exprs},))")
        pieces.append(f"s{g}")
    body.append(f"    return ';'.join(({', '.join(pieces)},))")
    source = "\n".join(body) + "\n"
    exec(compile(source, "<extf-line-renderer>", "exec"), env)  # noqa: S102 - our own code
    render = env["render"]
    assert callable(render)
    return render


# ---- the generated hot path with checks -------------------------------------------

#: ``(line, max_account_digits, datum_vom, datum_bis, automatic_accounts) -> text | None``
CheckedRenderer = Callable[[BookingLine, int, date, date, "frozenset[int] | None"], "str | None"]


def _field_statements(col: Column, var: str, out: str, env: dict[str, object]) -> list[str]:
    """Statements that set ``out`` to the field text of ``var`` or ``return None``."""
    kind, pos = col.kind, col.pos
    env[f"_p{pos}"] = col.pattern.fullmatch
    generic = col.pattern.pattern == f".{{0,{col.max_length}}}"
    if kind is Kind.TEXT:
        lines = [
            f"if type({var}) is not str: return None",
            f"x = {var} if {var}.isascii() else _nfc('NFC', {var})",
            f"if len(x) > {col.max_length}: return None",
            "if not x.isprintable() and _ctrl(x): return None",
        ]
        if not generic:
            lines.append(f"if _p{pos}(x) is None: return None")
        lines.append(f"""{out} = '"' + x.replace('"', '""') + '"'""")
        empty = "'\"\"'"
    elif kind is Kind.AMOUNT and col.min_dec == 2:
        lines = [
            f"if type({var}) is not _Decimal: return None",
            f"x = str({var})",
            "if x[-3:-2] != '.': return None",
            f"{out} = x.replace('.', ',')",
            f"if _p{pos}({out}) is None: return None",
        ]
        if col.positive:
            lines.append(f"if {out} == '0,00': return None")
        empty = "''"
    elif kind is Kind.INT and not col.pad:
        lines = [
            f"if type({var}) is not int: return None",
            f"{out} = str({var})",
            f"if _p{pos}({out}) is None: return None",
        ]
        empty = "''"
    elif kind is Kind.FLAG:
        lines = [
            f"if {var} is True: {out} = '1'",
            f"elif {var} is False: {out} = '0'",
            "else: return None",
        ]
        empty = "''"
    elif kind is Kind.TTMM:
        lines = [f"if type({var}) is not _date: return None", f"{out} = _d4({var})"]
        empty = "''"
    elif kind is Kind.DATE8:
        lines = [
            f"if type({var}) is not _date or not 2000 <= {var}.year <= 2099: return None",
            f"{out} = _d8({var})",
        ]
        empty = "''"
    else:
        env[f"_f{pos}"] = col.to_text
        env[f"_c{pos}"] = col.check
        lines = [
            "try:",
            f"    {out} = _f{pos}({var})",
            "except _FieldError:",
            "    return None",
            f"if _c{pos}({out}) is not None: return None",
        ]
        empty = "''"
    return [f"if {var} is None: {out} = {empty}", "else:", *("    " + s for s in lines)]


def _cross_statements(cols: tuple[Column, ...]) -> list[str]:
    """Rules spanning several fields, for the columns of one group."""
    present = {c.pos for c in cols}
    out: list[str] = []
    if {1, 2, 3, 4, 5, 6, 7, 8, 9, 10} <= present:
        out += [
            "if v1 is None or v2 is None or v7 is None or v8 is None or v10 is None: return None",
            "if len(f7) > maxacc or len(f8) > maxacc: return None",
            "if not vom <= v10 <= bis: return None",
            # the one automatic-account rule (formats/extf/automatic.py), not a copy of it
            "if am and v9 and _am_hit(v7, v8, v9, am) is not None: return None",
            "p4 = v4 is not None",
            "if p4 != (v5 is not None) or p4 != bool(v6): return None",
            # a foreign WKZ Umsatz needs the rate (the exact batch currency: validate_line)
            "if v3 and v3 != 'EUR' and not p4: return None",
        ]
    for col in cols:
        partner = col.pos + 1
        if col.attr.startswith(("beleginfo_art_", "zusatzinformation_art_")) and partner in present:
            out.append(f"if (not v{col.pos}) != (not v{partner}): return None")
    if {115, 116} <= present:
        out.append("if v115 is not None and v116 is None: return None")
    return out


@cache
def checked_line_renderer() -> CheckedRenderer:
    """Renderer that also applies every per-line rule; ``None`` means "a rule failed".

    Used by the validating writer: one pass formats and checks each field (no second
    formatting for validation).  When it returns ``None`` the caller asks
    :func:`ml_connector.formats.extf.validate.validate_line` for the detailed problems.
    """
    from ml_connector.formats.extf.automatic import automatic_account_hit
    from ml_connector.formats.extf.columns import CONTROL_CHARS, FieldError

    env: dict[str, object] = {
        "_am_hit": automatic_account_hit,
        "_nfc": unicodedata.normalize,
        "_d4": _make_date4(),
        "_d8": _make_date8(),
        "_ctrl": CONTROL_CHARS.search,
        "_Decimal": Decimal,
        "_date": date,
        "_FieldError": FieldError,
    }
    if GROUPS[0] != (0, 14):  # pragma: no cover - the cross checks rely on it
        raise RuntimeError("the first group must hold columns 1-14")
    body = ["def render(line, maxacc, vom, bis, am):"]
    pieces: list[str] = []
    for g, (start, end) in enumerate(GROUPS):
        cols = COLUMNS[start:end]
        names = [f"v{c.pos}" for c in cols]
        env[f"_g{g}"] = operator.attrgetter(*(c.attr for c in cols))
        stmts: list[str] = []
        for col, name in zip(cols, names, strict=True):
            stmts += _field_statements(col, name, f"f{col.pos}", env)
        stmts += _cross_statements(cols)
        joined = f"';'.join(({', '.join(f'f{c.pos}' for c in cols)},))"
        if len(cols) == 1:
            body.append(f"    {names[0]} = _g{g}(line)")
            body += ["    " + s for s in stmts]
            body.append(f"    s{g} = f{cols[0].pos}")
        elif g == 0:
            body.append(f"    {', '.join(names)}, = _g0(line)")
            body += ["    " + s for s in stmts]
            body.append(f"    s0 = {joined}")
        else:
            env[f"_n{g}"] = (None,) * len(cols)
            env[f"_e{g}"] = ";".join(_empty(c) for c in cols)
            body.append(f"    t{g} = _g{g}(line)")
            body.append(f"    if t{g} == _n{g}:")
            body.append(f"        s{g} = _e{g}")
            body.append("    else:")
            body.append(f"        {', '.join(names)}, = t{g}")
            body += ["        " + s for s in stmts]
            body.append(f"        s{g} = {joined}")
        pieces.append(f"s{g}")
    body.append(f"    return ';'.join(({', '.join(pieces)},))")
    source = "\n".join(body) + "\n"
    exec(compile(source, "<extf-checked-line-renderer>", "exec"), env)  # noqa: S102
    render = env["render"]
    assert callable(render)
    return render
