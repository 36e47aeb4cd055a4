"""``mapping check``: plausibility of every lookup target and constant for its DATEV client.

DATEV cannot return its chart of accounts, so the best check before a run is that every
configured target *could* be valid for the client: accounts are digits, not zero, at most
Sachkontenlänge digits (general ledger) or exactly one more (personal accounts); tax keys
are 1-4 digits or empty; cost centers fit the KOST columns; a constant tax key does not
sit on a constant automatic account (row by row the mapper holds such lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ml_connector.config.loader import LoadedConfig
from ml_connector.config.models import DatevClient
from ml_connector.formats.extf.automatic import automatic_account_hit
from ml_connector.mapping.lookups import LookupKind
from ml_connector.mapping.spec import CompiledMapping

__all__ = ["CheckFinding", "account_problem", "check_targets"]

_TAX_KEY = re.compile(r"\d{1,4}")
_COST_CENTER = re.compile(r"[\w ]{1,36}")
_ACCOUNT_FIELDS = ("konto", "gegenkonto")


@dataclass(frozen=True, slots=True)
class CheckFinding:
    """One implausible target: where it is configured and what is wrong."""

    where: str
    value: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.value!r} {self.message}"


def account_problem(value: str, account_length: int) -> str | None:
    """Why ``value`` cannot be an account at a client with ``account_length``, or None."""
    if not value.isascii() or not value.isdigit():
        return "is not an account number (digits only)"
    if int(value) == 0:
        return "is zero"
    if len(value) > account_length + 1:
        return (
            f"has {len(value)} digits; Sachkontenlänge {account_length} allows up to "
            f"{account_length} (general ledger) or {account_length + 1} (personal accounts)"
        )
    return None


def _target_problem(kind: LookupKind, value: str, account_length: int) -> str | None:
    if kind is LookupKind.ACCOUNT:
        return account_problem(value, account_length)
    if kind is LookupKind.TAX_KEY:
        if value and not _TAX_KEY.fullmatch(value):
            return "is not a BU-Schlüssel (1 to 4 digits, or empty for none)"
    elif kind is LookupKind.COST_CENTER and value and not _COST_CENTER.fullmatch(value):
        return "is not a cost center (at most 36 letters, digits, spaces)"
    return None


def check_targets(config: LoadedConfig) -> list[CheckFinding]:
    """Every implausible lookup value or constant account, for each client that uses it."""
    findings: list[CheckFinding] = []
    seen: set[tuple[str, str, int]] = set()
    for name, pipeline in config.model.pipelines.items():
        client = config.model.customers[pipeline.customer].datev
        length = client.account_length
        mapping = config.mappings[name]
        for table_name in sorted(mapping.tables):
            table = config.lookups.tables.get(table_name)
            if table is None or (table_name, "", length) in seen:
                continue
            seen.add((table_name, "", length))
            for key, value in table.entries.items():
                problem = _target_problem(table.kind, value, length)
                if problem:
                    findings.append(CheckFinding(f"lookups.{table_name} [{key}]", value, problem))
        for field_name in _ACCOUNT_FIELDS:
            rule = mapping.fields.get(field_name)
            if rule is not None and rule.kind == "constant":
                value = str(rule.constant)
                problem = account_problem(value, length)
                if problem:
                    findings.append(
                        CheckFinding(
                            f"pipelines.{name}.mapping.fields.{field_name}", value, problem
                        )
                    )
        findings += _tax_key_on_automatic(name, mapping, client)
    return findings


def _constant(mapping: CompiledMapping, field_name: str) -> object:
    rule = mapping.fields.get(field_name)
    return rule.constant if rule is not None and rule.kind == "constant" else None


def _account_number(value: object) -> int | None:
    text = "" if value is None else str(value)
    return int(text) if text.isascii() and text.isdigit() else None


def _tax_key_on_automatic(
    name: str, mapping: CompiledMapping, client: DatevClient
) -> list[CheckFinding]:
    """A constant tax key with a constant automatic account: every line would be held."""
    key = _constant(mapping, "bu_schluessel")
    konto, gegenkonto = (_account_number(_constant(mapping, f)) for f in _ACCOUNT_FIELDS)
    text = None if key is None else str(key)
    hit = automatic_account_hit(konto, gegenkonto, text, client.automatic_account_set)
    if hit is None or client.automatic_accounts_tax_key == "strip":
        return []
    return [
        CheckFinding(
            f"pipelines.{name}.mapping.fields.bu_schluessel",
            str(key),
            f"is a tax key on automatic account {hit} ({client.chart_of_accounts}); every line "
            'would be held: leave the key empty, or set automatic_accounts_tax_key = "strip"',
        )
    ]
