"""A generated GL extract in the demo's shape, with dirty rows, served by a Looker emulator."""

from __future__ import annotations

import calendar
import csv
import json
import random
import shutil
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ml_connector_sandbox.demo.emulators import DemoEmulators
from ml_connector_sandbox.emulators._server import serve_in_thread
from ml_connector_sandbox.emulators.looker import create_app as create_looker_app
from ml_connector_sandbox.emulators.looker import demo_dataset_dir

FIELDS = (
    "line_id",
    "period_month",
    "booking_date",
    "entity",
    "service_line",
    "gl_account_name",
    "gl_account_number",
    "cost_center",
    "department",
    "revenue_type",
    "description",
    "amount_eur",
    "currency",
    "fx_rate",
)
#: the columns the test adds to the demo's GL explore and Look (name, type, label)
ADDED_FIELDS = (
    ("currency", "string", "Currency"),
    ("fx_rate", "number", "FX Rate"),
)
#: the rate of the dataset's USD rows that carry one (USD per EUR, as DATEV's Kurs)
USD_RATE = "1.0825"
#: dimensions of the demo rows reused for generated rows (no gross-up, all mapped)
_TEMPLATE_FIELDS = FIELDS[3:10]


@dataclass(frozen=True)
class DirtyRow:
    """A generated row and the kind of dirt it carries (``clean`` for none)."""

    kind: str
    values: dict[str, str]

    @property
    def amount(self) -> Decimal:
        text = self.values["amount_eur"]
        return Decimal(text) if text else Decimal("0")


def _templates() -> list[dict[str, str]]:
    with (demo_dataset_dir() / "gl_monthly.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    seen: dict[tuple[str, ...], dict[str, str]] = {}
    for row in rows:
        if row["revenue_type"] in ("domestic_19", "domestic_7"):
            continue  # grossed up: the booked amount is not the source amount
        if row["gl_account_number"] == "OPS-399":
            continue  # unmapped in the demo on purpose
        seen.setdefault(tuple(row[f] for f in _TEMPLATE_FIELDS), row)
    return [{f: row[f] for f in _TEMPLATE_FIELDS} for row in seen.values()]


def _month_end(period: str) -> str:
    year, month = (int(p) for p in period.split("-"))
    return f"{period}-{calendar.monthrange(year, month)[1]:02d}"


def generate(periods: list[str], rows_per_period: int, *, seed: int = 7) -> list[DirtyRow]:
    """``rows_per_period`` clean rows per period plus every kind of dirty row in each."""
    rng = random.Random(seed)
    templates = _templates()
    out: list[DirtyRow] = []

    def row(period: str, n: int, **changes: str) -> dict[str, str]:
        template = templates[n % len(templates)]
        cents = rng.randint(-5_000_000, 5_000_000) or 1
        values = {
            "line_id": f"{period}|{n:06d}",
            "period_month": period,
            "booking_date": _month_end(period),
            **template,
            "description": f"Buchung {n} {period}",
            "amount_eur": str(Decimal(cents).scaleb(-2)),
            "currency": "EUR",
            "fx_rate": "",
        }
        values.update(changes)
        return values

    for period in periods:
        for n in range(rows_per_period):
            out.append(DirtyRow("clean", row(period, n)))
        base = rows_per_period
        dirty: list[tuple[str, dict[str, str]]] = [
            ("empty_period", {"period_month": ""}),
            ("malformed_period", {"period_month": period.replace("-", "/")}),
            ("missing_date", {"booking_date": ""}),
            ("missing_amount", {"amount_eur": ""}),
            ("three_decimals", {"amount_eur": "12.345"}),
            ("too_many_digits", {"amount_eur": "12345678901.00"}),
            ("nfd_text", {"description": unicodedata.normalize("NFD", "Gebühr Müller Köln")}),
            ("emoji_non_latin", {"description": "Reise 🚀 東京 Москва Αθήνα"}),
            ("belegfeld_chars", {"line_id": f"{period}|ä#*?{base}"}),
            ("long_key", {"line_id": f"{period}|" + "K" * 300 + str(base)}),
            ("zero_amount", {"amount_eur": "0.00"}),
            ("foreign_no_rate", {"currency": "USD"}),
            ("foreign_with_rate", {"currency": "USD", "fx_rate": USD_RATE}),
        ]
        for offset, (kind, changes) in enumerate(dirty):
            out.append(DirtyRow(kind, row(period, base + offset, **changes)))
        twin = row(period, base + len(dirty))
        out.append(DirtyRow("clean", twin))
        out.append(DirtyRow("duplicate", dict(twin, amount_eur="1.00")))
    return out


def write_dataset(directory: Path, rows: list[DirtyRow]) -> Path:
    """The demo dataset (models, Looks) with ``rows`` as its GL table, which has the
    :data:`ADDED_FIELDS` columns on top of the demo's (added to the explore and Look 1)."""
    shutil.copytree(demo_dataset_dir(), directory)
    _add_fields(directory)
    with (directory / "gl_monthly.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(r.values for r in rows)
    return directory


def _add_fields(directory: Path) -> None:
    """Declare :data:`ADDED_FIELDS` in the copied GL explore and select them in Look 1."""
    names = [f"gl_monthly.{name}" for name, _, _ in ADDED_FIELDS]
    models_path = directory / "models.json"
    models = json.loads(models_path.read_text("utf-8"))
    (explore,) = (e for m in models["models"] for e in m["explores"] if e["name"] == "gl_monthly")
    explore["fields"][-2:-2] = [
        {"name": n, "category": "dimension", "type": t, "label": label}
        for n, (_, t, label) in zip(names, ADDED_FIELDS, strict=True)
    ]
    models_path.write_text(json.dumps(models, ensure_ascii=False), "utf-8")
    looks_path = directory / "looks.json"
    looks = json.loads(looks_path.read_text("utf-8"))
    (look,) = (look for look in looks["looks"] if look["id"] == "1")
    look["query"]["fields"] += names
    looks_path.write_text(json.dumps(looks, ensure_ascii=False), "utf-8")


@contextmanager
def serving(emulators: DemoEmulators, directory: Path) -> Iterator[str]:
    """A Looker emulator serving the dataset in ``directory`` (demo key); its URL."""
    app = create_looker_app(
        directory,
        client_id=emulators.looker_client_id,
        client_secret=emulators.looker_client_secret,
    )
    with serve_in_thread(app) as server:
        yield server.url
