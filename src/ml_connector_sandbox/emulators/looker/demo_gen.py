"""Generate the bundled demo dataset (deterministic; rerun to rebuild ``demo_data/``).

Meridian Consulting GmbH, the German entity of a professional-services group of
about 300 staff: monthly GL summaries per service line, GL account and cost
center from 2024-11 to 2026-10. Run ``python -m ml_connector_sandbox.emulators.looker.demo_gen``.
"""

from __future__ import annotations

import calendar
import csv
import random
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

__all__ = ["DEMO_DIR", "generate_rows", "write_demo_dataset"]

DEMO_DIR = Path(__file__).with_name("demo_data")
ENTITY = "Meridian Consulting GmbH"
FIRST_MONTH = (2024, 11)
MONTHS = 24
CENT = Decimal("0.01")
MONTH_NAMES = [
    "Januar", "Februar", "März", "April", "Mai", "Juni",
    "Juli", "August", "September", "Oktober", "November", "Dezember",
]  # fmt: skip


@dataclass(frozen=True)
class CostCenter:
    code: str
    department: str
    service_line: str
    line_code: str
    staff: int
    monthly_fee_per_head: int


COST_CENTERS = [
    CostCenter("MUC-BER", "Beratung München", "Strategieberatung", "SB", 55, 21000),
    CostCenter("FRA-BER", "Beratung Frankfurt", "Strategieberatung", "SB", 40, 20000),
    CostCenter("CGN-PST", "Prüfung Köln", "Prüfung & Steuern", "PS", 45, 14500),
    CostCenter("HAM-PST", "Steuern Hamburg", "Prüfung & Steuern", "PS", 35, 14000),
    CostCenter("MUC-IT", "IT-Beratung München", "IT-Beratung", "IT", 40, 16500),
    CostCenter("BER-IT", "IT-Beratung Berlin", "IT-Beratung", "IT", 35, 15500),
    CostCenter("CGN-SCH", "Akademie Köln", "Schulungen", "SC", 15, 12500),
    CostCenter("CGN-BO", "Verwaltung Köln", "Zentrale Dienste", "ZD", 35, 0),
]

#: account number -> (name, revenue_type or None)
ACCOUNTS = {
    "REV-100": ("Umsatzerlöse Beratung 19 %", "domestic_19"),
    "REV-110": ("Umsatzerlöse Schulungen 19 %", "domestic_19"),
    "REV-120": ("Erlöse Fachliteratur 7 %", "domestic_7"),
    "REV-130": ("Erlöse Beratung EU (Reverse Charge)", "eu_reverse_charge"),
    "REV-140": ("Erlöse Beratung Drittland", "third_country"),
    "PER-200": ("Gehälter", None),
    "PER-210": ("Gesetzliche Sozialaufwendungen", None),
    "OPS-300": ("Raumkosten", None),
    "OPS-310": ("Reisekosten", None),
    "OPS-320": ("Software und Lizenzen", None),
    "OPS-330": ("Fremdleistungen", None),
    "OPS-340": ("Nebenkosten des Geldverkehrs", None),
    "OPS-350": ("Fortbildungskosten", None),
    "OPS-399": ("Sonstige Aufwendungen (noch nicht zugeordnet)", None),
}

COLUMNS = [
    "line_id", "period_month", "booking_date", "entity", "service_line",
    "gl_account_name", "gl_account_number", "cost_center", "department",
    "revenue_type", "description", "amount_eur",
]  # fmt: skip


def _months() -> list[tuple[int, int]]:
    year, month = FIRST_MONTH
    out = []
    for _ in range(MONTHS):
        out.append((year, month))
        month += 1
        if month == 13:
            year, month = year + 1, 1
    return out


def _nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2))).quantize(CENT)


def generate_rows(seed: int = 2026) -> list[dict[str, str | None]]:
    """All demo rows, sorted by ``line_id``; values as CSV text (``None`` = empty/null)."""
    rnd = random.Random(seed)  # noqa: S311 - reproducible demo figures, not security
    rows: list[dict[str, str | None]] = []
    for index, (year, month) in enumerate(_months()):
        period = f"{year:04d}-{month:02d}"
        last_day = calendar.monthrange(year, month)[1]
        booking = f"{period}-{last_day:02d}"
        mname = f"{MONTH_NAMES[month - 1]} {year}"
        growth = 1.0 + 0.004 * index
        season = {8: 0.78, 12: 0.85, 1: 0.92}.get(month, 1.0)

        def add(
            cc: CostCenter | None,
            account: str,
            amount: Decimal,
            description: str,
            line_code: str | None = None,
            service_line: str | None = None,
            period: str = period,
            booking: str = booking,
        ) -> None:
            name, revenue_type = ACCOUNTS[account]
            code = cc.code if cc else "-"
            rows.append(
                {
                    "line_id": f"{period}|{line_code or (cc.line_code if cc else '')}|"
                    f"{account}|{code}",
                    "period_month": period,
                    "booking_date": booking,
                    "entity": ENTITY,
                    "service_line": service_line or (cc.service_line if cc else None),
                    "gl_account_name": name,
                    "gl_account_number": account,
                    "cost_center": cc.code if cc else None,
                    "department": cc.department if cc else None,
                    "revenue_type": revenue_type,
                    "description": description,
                    "amount_eur": str(amount),
                }
            )

        for cc in COST_CENTERS:

            def noise(spread: float = 0.06) -> float:
                return 1.0 + rnd.uniform(-spread, spread)

            fees = cc.staff * cc.monthly_fee_per_head * growth * season * noise()
            if cc.line_code in {"SB", "IT"}:
                add(cc, "REV-100", -_money(fees * 0.82), f"Honorare {cc.service_line} {mname}")
                add(cc, "REV-130", -_money(fees * 0.12), f"Honorare EU-Kunden {mname}")
                add(cc, "REV-140", -_money(fees * 0.06), f"Honorare Schweiz {mname}")
            elif cc.line_code == "PS":
                add(cc, "REV-100", -_money(fees), _nfd(f"Prüfungs- und Steuerhonorare {mname}"))
            elif cc.line_code == "SC":
                add(cc, "REV-110", -_money(fees * 0.9), f"Seminargebühren {mname}")
                add(cc, "REV-120", -_money(fees * 0.1), f"Verkauf Fachliteratur {mname}")
            salary = cc.staff * 6400 * (1.0 + 0.003 * index) * noise(0.02)
            if month == 11:
                salary *= 1.45  # Weihnachtsgeld
            add(cc, "PER-200", _money(salary), f"Gehälter {mname}")
            add(
                cc,
                "PER-210",
                _money(salary * 0.205),
                f"Arbeitgeberanteile Sozialversicherung {mname}",
            )
            add(
                cc,
                "OPS-300",
                _money(cc.staff * 610 * noise(0.01)),
                f"Miete und Nebenkosten {mname}",
            )
            if cc.line_code != "ZD":
                travel = cc.staff * 420 * season * noise(0.25)
                add(cc, "OPS-310", _money(travel), f"Reisekosten Kundenprojekte {mname}")
                add(cc, "OPS-330", _money(fees * 0.07 * noise(0.3)), f"Freie Mitarbeiter {mname}")
            add(cc, "OPS-320", _money(cc.staff * 95 * noise(0.05)), f"Softwarelizenzen {mname}")
            if month in {3, 9}:
                add(cc, "OPS-350", _money(cc.staff * 180 * noise(0.2)), f"Weiterbildung {mname}")
            if cc.code == "CGN-BO":
                add(cc, "OPS-340", _money(350 + rnd.uniform(0, 120)), _nfd(f"Bankgebühren {mname}"))
        # awkward rows a real extract has
        if month == 12:
            add(
                COST_CENTERS[-1],
                "OPS-399",
                _money(1800 + rnd.uniform(0, 900)),
                f"Jahresabschluss Sonderposten {year}",
            )
        if month == 3:
            add(
                None,
                "OPS-310",
                _money(640 + rnd.uniform(0, 200)),
                "Reisekostenpauschale ohne Kostenstelle",
                line_code="ZD",
                service_line="Zentrale Dienste",
            )
        if (year, month) == (2025, 6):
            add(
                COST_CENTERS[4],
                "OPS-320",
                Decimal("-1250.00"),
                "Gutschrift Softwarelizenz (Storno)",
            )
            # same key as the month's licence row: the credit note gets its own line id
            rows[-1]["line_id"] = f"{period}|IT|OPS-320|MUC-IT|GS"
    rows.sort(key=lambda r: r["line_id"] or "")
    return rows


def write_demo_dataset(target: Path = DEMO_DIR) -> int:
    """Write ``gl_monthly.csv`` into ``target``; returns the number of rows."""
    rows = generate_rows()
    target.mkdir(parents=True, exist_ok=True)
    with (target / "gl_monthly.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    ids = [r["line_id"] for r in rows]
    assert len(set(ids)) == len(ids), "line_id must be unique"
    return len(rows)


if __name__ == "__main__":  # pragma: no cover
    print(write_demo_dataset())
