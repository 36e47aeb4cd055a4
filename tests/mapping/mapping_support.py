"""Support for the mapping tests: demo rows and totals, a small test configuration, and
a streamed run with what it would send and what is posted once it is accepted."""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from string import Template

from ml_connector.config import LoadedConfig
from ml_connector.formats.extf.models import BookingLine
from ml_connector.formats.extf.reader import read_file
from ml_connector.mapping.restatement import line_from_json
from ml_connector.mapping.stream import RowTrace, RunFacts, RunStream, StreamedRun, posted_entry

DEMO_CSV = (
    Path(__file__).resolve().parents[2]
    / "src/ml_connector_sandbox/emulators/looker/demo_data/gl_monthly.csv"
)


def load_demo_rows() -> list[dict[str, object]]:
    """The demo dataset as Looker rows (``view.field`` keys, Decimal, date, None)."""
    rows: list[dict[str, object]] = []
    with DEMO_CSV.open(encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            row: dict[str, object] = {
                f"gl_monthly.{k}": (v if v != "" else None) for k, v in record.items()
            }
            row["gl_monthly.amount_eur"] = Decimal(str(row["gl_monthly.amount_eur"]))
            row["gl_monthly.booking_date"] = date.fromisoformat(str(row["gl_monthly.booking_date"]))
            rows.append(row)
    return rows


def totals_of(rows: list[Mapping[str, object]]) -> list[dict[str, object]]:
    """What Look 2 (totals per month and account) returns for ``rows``."""
    sums: dict[tuple[str, str], list[object]] = {}
    for row in rows:
        key = (str(row["gl_monthly.period_month"]), str(row["gl_monthly.gl_account_number"]))
        entry = sums.setdefault(key, [Decimal("0.00"), 0])
        entry[0] = Decimal(str(entry[0])) + Decimal(str(row["gl_monthly.amount_eur"]))
        entry[1] = int(str(entry[1])) + 1
    return [
        {
            "gl_monthly.period_month": p,
            "gl_monthly.gl_account_number": a,
            "gl_monthly.total_amount_eur": s,
            "gl_monthly.row_count": n,
        }
        for (p, a), (s, n) in sorted(sums.items())
    ]


BASE_TOML = """
version = 1
[customers.acme]
name = "ACME GmbH"
[customers.acme.looker]
base_url = "https://acme.cloud.looker.com"
credential = "env:ACME_LOOKER"
[customers.acme.datev]
consultant_number = 29098
client_number = 55003
chart_of_accounts = "SKR03"
account_length = 4
$datev_extra

[lookups.accounts]
kind = "account"
values = { "REV-100" = "8200", "OPS-300" = "4210", "BIG-1" = "123456", "REV-840" = "8400" }
[lookups.tax_keys]
kind = "tax_key"
values = { domestic_19 = "3", none = "" }
[lookups.cost_centers]
kind = "cost_center"
values = { "Beratung" = "100" }
[lookups.labels]
values = { a = "A" }
[lookups.eur_rates]
values = { USD = "1.08", CHF = "0.95" }

[pipelines.p]
customer = "acme"
reject_policy = "$reject_policy"
restatement = "$restatement"
[pipelines.p.source]
look_id = 1
period_field = "v.period"
[pipelines.p.mapping]
row_key = $row_key
amount = "v.amount"
sign = "$sign"
amount_account = "$amount_account"
zero_amounts = "$zero_amounts"
$mapping_extra
[pipelines.p.mapping.text]
buchungstext_overflow = "$text_overflow"
belegfeld_charset = "$belegfeld_charset"
[pipelines.p.mapping.fields]
konto = 1590
gegenkonto = { lookup = "accounts", key = "v.account" }
bu_schluessel = { lookup = "tax_keys", key = "coalesce(v.revenue_type, 'none')" }
belegdatum = "v.date"
belegfeld_1 = { template = "{v.doc}" }
buchungstext = { template = "{v.text}" }
kost1 = "'' if is_null(v.department) else lookup('cost_centers', v.department)"
$extra_fields
[pipelines.p.tie_out]
balanced = $balanced
group_by = ["v.period", "v.account"]
amount = "t.total"
count = "t.count"
$detail_amount
"""

DEFAULTS: dict[str, str] = {
    "reject_policy": "hold_rejected",
    "restatement": "corrections",
    "row_key": '["v.id"]',
    "sign": "debit_positive",
    "amount_account": "konto",
    "zero_amounts": "skip",
    "text_overflow": "truncate",
    "belegfeld_charset": "sanitise",
    "extra_fields": "",
    "mapping_extra": "",
    "balanced": "false",
    "detail_amount": "",
    "datev_extra": "",
}


def make_config(tmp_path: Path, **settings: str) -> LoadedConfig:
    """The test pipeline ``p`` with ``settings`` replacing the defaults above."""
    from ml_connector.config import parse_config

    text = Template(BASE_TOML).substitute({**DEFAULTS, **settings})
    return parse_config(text, path=tmp_path / "ml-connector.toml")


def make_row(**values: object) -> dict[str, object]:
    """A row of view ``v`` with sensible values; keyword ``x`` sets ``v.x``."""
    row: dict[str, object] = {
        "v.id": "r1",
        "v.period": "2026-10",
        "v.date": date(2026, 10, 31),
        "v.account": "OPS-300",
        "v.revenue_type": None,
        "v.department": "Beratung",
        "v.doc": "RE-1",
        "v.text": "Miete Oktober",
        "v.amount": Decimal("100.00"),
    }
    row.update({f"v.{k}": v for k, v in values.items()})
    return row


def v_totals(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """What a totals query per period and account returns for rows of view ``v``."""
    out: dict[tuple[object, object], dict[str, object]] = {}
    for row in rows:
        key = (row["v.period"], row["v.account"])
        entry = out.setdefault(
            key, {"v.period": key[0], "v.account": key[1], "t.total": Decimal(0), "t.count": 0}
        )
        if row["v.amount"] is not None:  # like Looker's sum, which skips an empty value
            entry["t.total"] = Decimal(str(entry["t.total"])) + Decimal(str(row["v.amount"]))
        entry["t.count"] = int(str(entry["t.count"])) + 1
    return list(out.values())


NOW = datetime(2026, 11, 3, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Ran:
    """A finished streamed run: its facts, one trace per row, and the batch it would send."""

    done: StreamedRun
    traces: tuple[RowTrace, ...]
    batch: tuple[BookingLine, ...]
    """The lines of the written EXTF file(s), reversals first (empty unless ready)."""

    @property
    def facts(self) -> RunFacts:
        return self.done.facts

    def lines_of(self, row_key: str) -> tuple[BookingLine, ...]:
        """The booking lines the row with ``row_key`` maps to."""
        (trace,) = [t for t in self.traces if t.row_key == row_key and t.source]
        assert trace.booking is not None, trace.rejection
        return tuple(line_from_json(item) for item in trace.booking["lines"])

    def posted(self, before: Mapping[str, str] | None = None) -> dict[str, str]:
        """What is posted once DATEV accepted this batch (as the engine records it): per
        row key the stored booking JSON (retired keys left out)."""
        ledger = dict(before or {})
        for trace in self.traces:
            if trace.position is None or trace.booking is None:
                continue
            if trace.booking["lines"]:
                ledger[trace.row_key] = json.dumps(trace.booking)
            else:
                ledger.pop(trace.row_key, None)
        return ledger


def posted_lines(text: str) -> tuple[BookingLine, ...]:
    """The booking lines of a stored posting."""
    entry = posted_entry("", text)
    assert entry is not None
    return tuple(line_from_json(item) for item in entry[2])


def stream_run(
    config: LoadedConfig,
    pipeline: str,
    period: str,
    rows: Iterable[Mapping[str, object]],
    *,
    totals: Iterable[Mapping[str, object]] | None = None,
    posted: Mapping[str, str] | None = None,
    out: Path | None = None,
    allow_empty: bool = False,
) -> Ran:
    """Run ``rows`` through a :class:`RunStream` (writing into ``out``, else a scratch dir)."""
    with tempfile.TemporaryDirectory(prefix="mapping-test-") as scratch:
        workdir = out or Path(scratch)
        with RunStream(
            config, pipeline, period, workdir, now=NOW, trace_rows=True, allow_empty=allow_empty
        ) as run:
            run.load_posted((posted or {}).items())
            run.add_many(rows)
            done = run.finish(totals)
            traces = tuple(run.traces())
        batch = tuple(line for item in done.files for line in read_file(item.path).lines)
    return Ran(done, traces, batch)
