"""``mapping suggest``: a starting pipeline configuration for a Look, from its field metadata.

Dates, amounts, accounts, cost centers and texts are recognised by their Looker type
and name; every guess carries a ``# REVIEW:`` comment. The file holds the customer's
own table too, so it loads with the configuration loader as it stands.
:func:`suggest_config` is pure; :func:`fetch_look` asks Looker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ml_connector.config.models import Customer, Source
from ml_connector.errors import ConfigurationError, RemoteRejectedError
from ml_connector.looker.fields import LookerField
from ml_connector.runs.fields import SourceFields, check_client, credentials_for, source_fields

if TYPE_CHECKING:
    from ml_connector.config import LoadedConfig
    from ml_connector.runs.connect import SyncSettings

__all__ = ["LookFields", "fetch_look", "suggest_config"]

_AMOUNT = re.compile(r"amount|betrag|umsatz|value|wert|total|sum|saldo|balance|net|gross", re.I)
_DATE = re.compile(r"date|datum|day|tag|posted|posting|booking|buchung", re.I)
_PERIOD = re.compile(r"period|periode|month|monat", re.I)
_ACCOUNT = re.compile(r"account|acct|konto|gl_?acc|sachkonto", re.I)
_ACCOUNT_KEY = re.compile(r"number|num|no\b|nr|_id\b|code|key", re.I)
_COST_CENTER = re.compile(r"cost_?cent|kost|kostenstelle|department|abteilung|profit_?cent", re.I)
_TEXT = re.compile(r"desc|text|memo|narration|bezeichnung|beschreibung|comment|name", re.I)
_DOCUMENT = re.compile(r"document|beleg|invoice|rechnung|voucher|reference|ref\b|doc", re.I)
#: the clearing account (Durchlaufende Posten) of each chart, a placeholder Gegenkonto
_CLEARING = {"SKR03": "1590", "SKR04": "1370"}
#: the document date when the Look has no date: the first day of the run's period
_PERIOD_START = "date(period + '-01')"


@dataclass(frozen=True, slots=True)
class LookFields:
    """A Look's title and what it selects (with the explore's field metadata)."""

    look_id: str
    title: str
    fields: SourceFields


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _pick(
    fields: Sequence[LookerField],
    accept: Callable[[LookerField], bool],
    prefer: re.Pattern[str] | None = None,
    taken: set[str] | None = None,
) -> LookerField | None:
    """The first accepted field (one whose name matches ``prefer`` first), not taken."""
    free = [f for f in fields if accept(f) and f.name not in (taken or set())]
    if prefer is not None:
        preferred = [f for f in free if prefer.search(_short(f.name))]
        if preferred:
            return preferred[0]
    return free[0] if free else None


def _s(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _s(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return _s(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")  # pragma: no cover


def _tables(prefix: str, data: Mapping[str, Any]) -> list[str]:
    """``data`` as ``[prefix]`` with its sub-tables as ``[prefix.key]``."""
    lines = [f"[{prefix}]"]
    lines += [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    for k, v in data.items():
        if isinstance(v, Mapping):
            lines += ["", *_tables(f"{prefix}.{_key(k)}", v)]
    return lines


def _customer_lines(customer_id: str, customer: Customer) -> list[str]:
    data = customer.model_dump(mode="json", exclude_defaults=True)
    return _tables(f"customers.{_key(customer_id)}", data)


@dataclass(frozen=True, slots=True)
class _Guesses:
    amount: LookerField | None
    date: LookerField | None
    period: LookerField | None
    account: LookerField | None
    cost_center: LookerField | None
    text: LookerField | None
    document: LookerField | None
    key: LookerField | None


def _guess(fields: Sequence[LookerField]) -> _Guesses:
    def is_dimension(f: LookerField) -> bool:
        return not f.is_measure

    def is_amount(f: LookerField) -> bool:
        return f.is_number and f.type not in {"count", "count_distinct"}

    dims = [f for f in fields if is_dimension(f)]
    amount = _pick(dims, is_amount, _AMOUNT) or _pick(fields, is_amount, _AMOUNT)
    date = _pick(dims, lambda f: f.is_date and "month" not in f.type, _DATE)
    period = _pick(
        dims, lambda f: f.period_problem is None and bool(_PERIOD.search(_short(f.name)))
    )
    period = period or _pick(dims, lambda f: f.type.endswith("_month"))
    taken = {f.name for f in (amount, date, period) if f is not None}
    account = _pick(dims, lambda f: bool(_ACCOUNT.search(_short(f.name))), _ACCOUNT_KEY, taken)
    taken |= {account.name} if account else set()
    cost_center = _pick(dims, lambda f: bool(_COST_CENTER.search(_short(f.name))), None, taken)
    text = _pick(dims, lambda f: f.type == "string" and bool(_TEXT.search(_short(f.name))),
                 re.compile("desc|text|memo", re.I), taken)  # fmt: skip
    document = _pick(dims, lambda f: bool(_DOCUMENT.search(_short(f.name))), None, taken)
    key = _pick(dims, lambda f: f.primary_key)
    return _Guesses(amount, date, period, account, cost_center, text, document, key)


def _field_line(target: str, guess: LookerField | None, why: str, missing: str) -> list[str]:
    if guess is None:  # a required field: a placeholder `mapping check` names
        return [f"# REVIEW: {target}: {missing}", f'{target} = {{ column = "view.field" }}']
    return [
        f"# REVIEW: {why.format(name=guess.name, type=guess.type)}",
        f"{target} = {{ column = {_s(guess.name)} }}",
    ]


def _source_lines(base: str, look: LookFields, g: _Guesses) -> list[str]:
    lines = ["", f"[{base}.source]", f"look_id = {_s(look.look_id)}"]
    if g.period is None:
        lines += [
            "# REVIEW: no period field recognised: without one every run reads every month.",
            '# period_field = "view.field"  # a YYYY-MM text or a date/month dimension',
        ]
    else:
        lines += [
            f"# REVIEW: {g.period.name} ({g.period.type}) guessed as the period (YYYY-MM or date)",
            f"period_field = {_s(g.period.name)}",
        ]
    return lines


def _mapping_lines(base: str, customer: Customer, g: _Guesses) -> list[str]:
    lines = ["", f"[{base}.mapping]"]
    if g.key is not None:
        lines += [
            f"# REVIEW: {g.key.name} is the explore's primary key: each row's identity",
            f"row_key = [{_s(g.key.name)}]",
        ]
    else:
        lines.append("# REVIEW: no primary key recognised: set row_key to the columns naming a row")
    if g.amount is None:
        lines += ["# REVIEW: no numeric amount recognised", 'amount = { column = "view.field" }']
    else:
        lines += [
            f"# REVIEW: {g.amount.name} ({g.amount.type}) guessed as the signed amount",
            f"amount = {{ column = {_s(g.amount.name)} }}",
        ]
    lines += [
        "# REVIEW: debit_positive: positive amounts are debits (Soll) on konto",
        'sign = "debit_positive"',
        "",
        f"[{base}.mapping.fields]",
        *_field_line(
            "konto",
            g.account,
            "{name} guessed as the account; map it to DATEV accounts with a lookup "
            '(kind = "account") if the charts differ',
            "no account field recognised; name the column holding the account",
        ),
        "# REVIEW: placeholder contra account (Durchlaufende Posten); set the real Gegenkonto",
        f"gegenkonto = {_CLEARING[customer.datev.chart_of_accounts]}",
    ]
    if g.date is None:
        lines += [
            "# REVIEW: no date field recognised: the first day of the run's period",
            f"belegdatum = {_s(_PERIOD_START)}",
        ]
    else:
        lines += _field_line(
            "belegdatum", g.date, "{name} ({type}) guessed as the document date", ""
        )
    optional = (
        ("buchungstext", g.text, "{name} guessed as the booking text"),
        ("kost1", g.cost_center, "{name} guessed as the cost center (KOST1)"),
        ("belegfeld_1", g.document, "{name} guessed as the document number (Belegfeld 1)"),
    )
    for target, guess, why in optional:
        if guess is not None:
            lines += _field_line(target, guess, why, "")
    return lines


def suggest_config(
    look: LookFields, customer_id: str, customer: Customer, pipeline: str | None = None
) -> str:
    """A configuration file (TOML) with the customer and one pipeline for ``look``."""
    name = pipeline or f"look-{look.look_id}"
    found = look.fields
    fields = [
        found.explore.get(n) or LookerField(name=n, category="dimension", type="string")
        for n in found.selected
    ]
    g = _guess(fields)
    base = f"pipelines.{_key(name)}"
    header = [
        f"# Starting configuration for Look {look.look_id} ({look.title!r}, explore "
        f"{found.explore_label}),",
        "# written by `ml-connector mapping suggest`. Every guess is marked REVIEW: check",
        "# each one, then run `ml-connector mapping check` and `ml-connector mapping preview`.",
        "# The Look's fields: " + ", ".join(f"{f.name} ({f.type})" for f in fields),
        "",
        "version = 1",
        "",
    ]
    pipeline_lines = [
        "",
        f"[{base}]",
        f"customer = {_s(customer_id)}",
        f"description = {_s(look.title)}",
        'channel = "extf"',
        *_source_lines(base, look, g),
        *_mapping_lines(base, customer, g),
    ]
    return "\n".join([*header, *_customer_lines(customer_id, customer), *pipeline_lines]) + "\n"


async def fetch_look(
    config: LoadedConfig, customer_id: str, look_id: str, settings: SyncSettings
) -> LookFields:
    """The Look ``look_id`` of the customer's Looker with its explore's field metadata."""
    with credentials_for(config, [customer_id], settings) as store:
        async with await check_client(config, customer_id, store, settings.looker_url) as looker:
            try:
                look = await looker.look(look_id)
            except RemoteRejectedError as exc:
                if exc.status_code != 404:
                    raise
                raise ConfigurationError(
                    f"Look {look_id} does not exist at {looker.api} (HTTP 404)",
                    hint="give the number in the Look's URL (/looks/NUMBER); the API3 "
                    "user must be allowed to see it",
                ) from None
            found = await source_fields(looker, Source(look_id=look_id))
    return LookFields(look_id, str(look.get("title") or ""), found)
