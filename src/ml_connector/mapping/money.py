"""Money in a run's report: debit and credit per DATEV account, and the held amount by reason.

The tally is fed booking lines and held rows one at a time and keeps only sums per
account (and currency) and per reason, so its size does not grow with the row count.
A line debits Konto and credits Gegenkonto for ``S`` (the reverse for ``H``); a
Generalumkehr line counts negative on the same side, as DATEV shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from ml_connector.formats.extf.models import BookingLine
from ml_connector.mapping.mapper import Rejection
from ml_connector.mapping.spec import HOME_CURRENCY

__all__ = ["AccountTotal", "HeldTotal", "MoneyFacts", "MoneyTally", "format_money"]

_ZERO = Decimal("0.00")


def format_money(value: Decimal) -> str:
    """``-1,234,567.80``: two decimals and thousands separators, for people."""
    return f"{value:,.2f}"


@dataclass(frozen=True, slots=True)
class AccountTotal:
    """Debit and credit of one DATEV account (in one currency) in the batch."""

    account: int
    currency: str
    debit: Decimal
    credit: Decimal


@dataclass(frozen=True, slots=True)
class HeldTotal:
    """Rows held for one reason: how many, their amount (Umsatz, as extracted) and how
    many had no readable amount (counted, not summed)."""

    reason: str
    count: int
    amount: Decimal
    without_amount: int


@dataclass(frozen=True, slots=True)
class MoneyFacts:
    """The money part of a run's report."""

    accounts: tuple[AccountTotal, ...] = ()
    held: tuple[HeldTotal, ...] = ()

    @property
    def held_amount(self) -> Decimal:
        return sum((h.amount for h in self.held), _ZERO)

    def totals(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Debit and credit over all accounts, per currency."""
        out: dict[str, tuple[Decimal, Decimal]] = {}
        for a in self.accounts:
            debit, credit = out.get(a.currency, (_ZERO, _ZERO))
            out[a.currency] = (debit + a.debit, credit + a.credit)
        return out

    def report(self) -> dict[str, object]:
        """JSON-ready, amounts as exact decimal text."""
        return {
            "accounts": [
                {
                    "account": a.account,
                    "currency": a.currency,
                    "debit": str(a.debit),
                    "credit": str(a.credit),
                }
                for a in self.accounts
            ],
            "totals": {
                currency: {"debit": str(debit), "credit": str(credit)}
                for currency, (debit, credit) in self.totals().items()
            },
            "held_amount": str(self.held_amount),
            "held": [
                {
                    "reason": h.reason,
                    "count": h.count,
                    "amount": str(h.amount),
                    "without_amount": h.without_amount,
                }
                for h in self.held
            ],
        }

    @classmethod
    def from_report(cls, data: object) -> MoneyFacts:
        """Read back the ``money`` part of a ``report.json`` (empty when it has none)."""
        if not isinstance(data, dict):
            return cls()
        accounts = tuple(
            AccountTotal(
                int(a["account"]), str(a["currency"]), Decimal(a["debit"]), Decimal(a["credit"])
            )
            for a in data.get("accounts") or ()
        )
        held = tuple(
            HeldTotal(
                str(h["reason"]), int(h["count"]), Decimal(h["amount"]), int(h["without_amount"])
            )
            for h in data.get("held") or ()
        )
        return cls(accounts, held)

    @classmethod
    def combined(cls, parts: Iterable[MoneyFacts]) -> MoneyFacts:
        """The sums of several runs (e.g. the months of the demo)."""
        tally = MoneyTally()
        for part in parts:
            for a in part.accounts:
                tally.add_sums(a.account, a.currency, a.debit, a.credit)
            for h in part.held:
                tally.add_held_sums(h.reason, h.count, h.amount, h.without_amount)
        return tally.facts()

    def summary_lines(self, max_accounts: int = 30) -> list[str]:
        """Lines for ``report.txt``: totals, accounts, held amounts by reason."""
        lines: list[str] = []
        for currency, (debit, credit) in self.totals().items():
            lines.append(
                f"  money ({currency}): debit {format_money(debit)}, credit {format_money(credit)}"
            )
        if self.accounts:
            lines.append(f"    {'account':>9} {'cur':<3} {'debit':>18} {'credit':>18}")
        for a in self.accounts[:max_accounts]:
            lines.append(
                f"    {a.account:>9} {a.currency:<3} {format_money(a.debit):>18} "
                f"{format_money(a.credit):>18}"
            )
        if len(self.accounts) > max_accounts:
            lines.append(f"    ... and {len(self.accounts) - max_accounts} more accounts")
        if self.held:
            count = sum(h.count for h in self.held)
            lines.append(f"  held: {count} rows, {format_money(self.held_amount)}")
        for h in self.held:
            unknown = f" ({h.without_amount} without an amount)" if h.without_amount else ""
            lines.append(f"    {h.reason}: {h.count} rows, {format_money(h.amount)}{unknown}")
        return lines


class MoneyTally:
    """Sums per account and per held reason, fed one line or held row at a time."""

    def __init__(self) -> None:
        self._accounts: dict[tuple[int, str], list[Decimal]] = {}
        self._held: dict[str, list[Decimal | int]] = {}

    def add_lines(self, lines: Iterable[BookingLine]) -> None:
        """Account for booking lines as they are sent (reversals included)."""
        for line in lines:
            amount = -line.umsatz if line.generalumkehr else line.umsatz
            currency = line.wkz_umsatz or HOME_CURRENCY
            debit, credit = (
                (line.konto, line.gegenkonto)
                if line.soll_haben == "S"
                else (line.gegenkonto, line.konto)
            )
            self.add_sums(debit, currency, amount, _ZERO)
            self.add_sums(credit, currency, _ZERO, amount)

    def add_sums(self, account: int, currency: str, debit: Decimal, credit: Decimal) -> None:
        """Add to one account's debit and credit."""
        side = self._accounts.setdefault((account, currency), [_ZERO, _ZERO])
        side[0] += debit
        side[1] += credit

    def add_held(self, rejection: Rejection) -> None:
        """Account for a held row (its mapped amount, when it got that far)."""
        amount = rejection.amount
        unknown = 1 if amount is None else 0
        self.add_held_sums(rejection.reason.value, 1, abs(amount or _ZERO), unknown)

    def add_held_sums(self, reason: str, count: int, amount: Decimal, without_amount: int) -> None:
        """Add held rows of one reason."""
        entry = self._held.setdefault(reason, [0, _ZERO, 0])
        entry[0] = int(entry[0]) + count
        entry[1] = Decimal(entry[1]) + amount
        entry[2] = int(entry[2]) + without_amount

    def facts(self) -> MoneyFacts:
        accounts = tuple(
            AccountTotal(account, currency, sides[0], sides[1])
            for (account, currency), sides in sorted(self._accounts.items())
        )
        held = tuple(
            HeldTotal(reason, int(count), Decimal(amount), int(unknown))
            for reason, (count, amount, unknown) in sorted(self._held.items())
        )
        return MoneyFacts(accounts, held)
