"""Automatic accounts (Automatikkonten, "AM"): DATEV books the tax from the account itself.

A booking line with a tax key (BU-Schlüssel) on an automatic account is rejected at
import, so the one rule here is used by the validator (``row.bu_automatic``) and by the
mapper (hold or strip the key).  The standard lists of SKR 03 and SKR 04 ship as package
data in ``charts/`` with their source named in the file.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from functools import cache
from importlib import resources

__all__ = [
    "KEYS_ALLOWED_ON_AUTOMATIC",
    "automatic_account_hit",
    "parse_accounts",
    "standard_automatic_accounts",
]

#: ``40`` cancels the automatic; two-digit ``2x`` keys are Generalumkehr corrections
KEYS_ALLOWED_ON_AUTOMATIC = frozenset({"40"})
_CHART_FILES = {"SKR03": "skr03_automatic.txt", "SKR04": "skr04_automatic.txt"}


def parse_accounts(items: Iterable[int | str]) -> frozenset[int]:
    """Accounts from numbers and ``"from-to"`` ranges; raises ``ValueError`` on bad text."""
    accounts: set[int] = set()
    for item in items:
        text = str(item).strip()
        low, sep, high = text.partition("-")
        if not low.strip().isdigit() or (sep and not high.strip().isdigit()):
            raise ValueError(f"{text!r} is not an account number or a range such as 8920-8925")
        first, last = int(low), int(high) if sep else int(low)
        if first <= 0 or last < first:
            raise ValueError(f"{text!r} is not an account number or a range such as 8920-8925")
        accounts.update(range(first, last + 1))
    return frozenset(accounts)


@cache
def standard_automatic_accounts(chart: str) -> frozenset[int]:
    """The standard automatic accounts of ``chart`` (``"SKR03"`` or ``"SKR04"``)."""
    name = _CHART_FILES[chart]
    text = resources.files("ml_connector.formats.extf").joinpath("charts", name).read_text("utf-8")
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return parse_accounts(line for line in lines if line)


def automatic_account_hit(
    konto: object, gegenkonto: object, key: object, automatic: Collection[int]
) -> int | None:
    """The automatic account a line puts tax key ``key`` on, or ``None`` when it does not.

    Allowed on an automatic account: no key, ``40`` (cancels the automatic) and the
    two-digit ``2x`` Generalumkehr keys.
    """
    if not automatic or not isinstance(key, str) or not key:
        return None
    if key in KEYS_ALLOWED_ON_AUTOMATIC or (len(key) == 2 and key.startswith("2")):
        return None
    for account in (konto, gegenkonto):
        if account in automatic:
            return account if isinstance(account, int) else None
    return None
