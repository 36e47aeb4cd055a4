"""The demo's closing summary: what was read, posted, rejected and written (pure)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from ml_connector.mapping.money import MoneyFacts, format_money

__all__ = ["DemoDxso", "DemoFile", "DemoRejection", "DemoRun", "DemoSummary", "DemoTieOut"]


@dataclass(frozen=True, slots=True)
class DemoRun:
    """One month's run."""

    period: str
    run_id: str
    state: str
    rows_read: int
    rows_mapped: int
    rows_rejected: int
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DemoFile:
    """One file written and submitted, with its DATEV job."""

    period: str
    path: str
    bookings: int
    datev_job_id: str | None
    outcome: str | None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class DemoDxso:
    """One DXSO job of booking suggestions: its entries, their total and DATEV's verdict."""

    pipeline: str
    period: str
    run_id: str
    state: str
    path: str
    entries: int
    amount: Decimal
    """Signed total of the entries in EUR (invoices positive, credit notes negative)."""
    datev_job_id: str | None
    outcome: str | None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "amount": str(self.amount)}

    def render(self) -> list[str]:
        return [
            f"    {self.period} {self.pipeline}: {self.entries} entries, "
            f"{format_money(self.amount)} EUR, run {self.state}",
            f"      {self.path}",
            f"      DATEV dxso job {self.datev_job_id}: {self.outcome}"
            + (f" ({self.detail})" if self.detail else ""),
        ]


@dataclass(frozen=True, slots=True)
class DemoDocument:
    """One supporting document: in Belege online, and the booking lines linking it."""

    period: str
    filename: str
    document_id: str
    document_type: str
    size: int
    linked_lines: int
    #: whether the DATEV emulator holds it (with this id and file name)
    in_datev: bool


@dataclass(frozen=True, slots=True)
class DemoRejection:
    """One Looker row that was not booked, and why."""

    period: str
    row_key: str
    reason: str


@dataclass(frozen=True, slots=True)
class DemoTieOut:
    """One month's tie-out against the Looker totals, with its amounts."""

    period: str
    ok: bool
    groups: int
    failed: int
    looker_amount: Decimal
    booked_amount: Decimal
    held_amount: Decimal

    @classmethod
    def from_report(cls, period: str, tie_out: dict[str, Any]) -> DemoTieOut:
        """From the ``tie_out`` part of the run's ``report.json``."""
        groups = tie_out.get("groups") or []

        def total(name: str) -> Decimal:
            return sum((Decimal(g[name] or "0") for g in groups), Decimal("0.00"))

        return cls(
            period,
            bool(tie_out.get("ok")),
            len(groups),
            sum(1 for g in groups if not g.get("ok")),
            total("looker_amount"),
            total("booked_amount"),
            total("held_amount"),
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), **{k: str(v) for k, v in asdict(self).items() if "amount" in k}}

    def render(self) -> str:
        state = "ok" if self.ok else f"FAILED ({self.failed} of {self.groups} groups)"
        return (
            f"    {self.period}: {state}, {self.groups} groups, Looker "
            f"{format_money(self.looker_amount)} = booked {format_money(self.booked_amount)}"
            f" + held {format_money(self.held_amount)}"
        )


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """Everything the demo did, checked against the DATEV emulator's ledger."""

    workdir: str
    data_dir: str
    config_path: str
    customer: str
    pipeline: str
    datev_client: str
    runs: tuple[DemoRun, ...]
    files: tuple[DemoFile, ...]
    rejections: tuple[DemoRejection, ...]
    #: bookings in files DATEV accepted, as ml-connector recorded them
    bookings_posted: int
    #: bookings the DATEV emulator's ledger holds for the client
    datev_ledger_bookings: int
    datev_duplicate_transfers: int
    audit_verified: bool
    audit_chains: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    #: debit and credit per DATEV account over all months, held amounts by reason
    money: MoneyFacts = field(default_factory=MoneyFacts)
    tie_outs: tuple[DemoTieOut, ...] = ()
    documents: tuple[DemoDocument, ...] = ()
    #: DXSO booking-suggestion jobs, and the entries the DATEV emulator imported from them
    dxso: tuple[DemoDxso, ...] = ()
    datev_dxso_entries: int = 0

    @property
    def rows_read(self) -> int:
        return sum(r.rows_read for r in self.runs)

    @property
    def rows_rejected(self) -> int:
        return sum(r.rows_rejected for r in self.runs)

    @property
    def ok(self) -> bool:
        """Every run succeeded, DATEV holds exactly what was posted, the audit chain holds."""
        return (
            all(r.state == "succeeded" for r in self.runs)
            and self.bookings_posted == self.datev_ledger_bookings
            and self.datev_duplicate_transfers == 0
            and self.audit_verified
            and all(d.in_datev for d in self.documents)
            and all(j.state == "succeeded" for j in self.dxso)
            and sum(j.entries for j in self.dxso) == self.datev_dxso_entries
        )

    def to_json(self) -> dict[str, Any]:
        """The summary as one JSON object (paths of the submitted files included)."""
        return {
            "ok": self.ok,
            "workdir": self.workdir,
            "data_dir": self.data_dir,
            "config": self.config_path,
            "customer": self.customer,
            "pipeline": self.pipeline,
            "datev_client": self.datev_client,
            "months": [r.period for r in self.runs],
            "rows_read": self.rows_read,
            "bookings_posted": self.bookings_posted,
            "rows_rejected": self.rows_rejected,
            "rejections": [asdict(r) for r in self.rejections],
            "files": [asdict(f) for f in self.files],
            "runs": [asdict(r) for r in self.runs],
            "datev": {
                "ledger_bookings": self.datev_ledger_bookings,
                "duplicate_transfers": self.datev_duplicate_transfers,
                "jobs": [
                    {"job_id": f.datev_job_id, "file": f.path, "outcome": f.outcome}
                    for f in self.files
                ],
            },
            "audit": {"verified": self.audit_verified, "chains": list(self.audit_chains)},
            "money": self.money.report(),
            "tie_out": [t.to_json() for t in self.tie_outs],
            "documents": [asdict(d) for d in self.documents],
            "dxso": {
                "jobs": [j.to_json() for j in self.dxso],
                "datev_entries": self.datev_dxso_entries,
            },
        }

    def render(self) -> str:
        """The summary for people."""
        out = [
            f"ml-connector demo: {self.pipeline} for {self.customer} "
            f"-> DATEV client {self.datev_client}",
            f"  months            {', '.join(r.period for r in self.runs)}",
            f"  rows read         {self.rows_read}",
            f"  bookings posted   {self.bookings_posted} "
            f"(DATEV ledger: {self.datev_ledger_bookings}, "
            f"duplicate transfers: {self.datev_duplicate_transfers})",
            f"  rows rejected     {self.rows_rejected}",
        ]
        out += [f"    {r.period} {r.row_key}: {r.reason}" for r in self.rejections]
        if self.rejections:
            out.append(
                "    held back for correction (held.jsonl in the run's folder); fix the "
                "mapping or the data, then 'ml-connector replay RUN' posts them"
            )
        out += self.money.summary_lines()
        if self.tie_outs:
            out.append("  tie-out against Looker")
            out += [t.render() for t in self.tie_outs]
        out.append("  runs")
        shown: dict[str, str] = {}
        for run in self.runs:
            line = (
                f"    {run.run_id}: {run.state} ({run.rows_read} read, "
                f"{run.rows_mapped} mapped, {run.rows_rejected} rejected)"
            )
            out.append(line + (f" - {run.error}" if run.error else ""))
            for warning in run.warnings:
                first = shown.setdefault(warning, run.run_id)
                said = warning if first == run.run_id else f"the same as for {first}"
                out.append(f"      warning: {said}")
        if self.documents:
            out.append("  documents in Belege online (linked by Beleglink)")
        for d in self.documents:
            out.append(
                f"    {d.period} {d.filename} ({d.document_type}, {d.size:,} bytes): "
                f"linked from {d.linked_lines} booking line(s)"
                + ("" if d.in_datev else " - NOT in DATEV")
            )
        out.append("  files and DATEV jobs")
        for f in self.files:
            out.append(f"    {f.path}")
            out.append(
                f"      {f.bookings} bookings, DATEV job {f.datev_job_id}: {f.outcome}"
                + (f" ({f.detail})" if f.detail else "")
            )
        if self.dxso:
            out.append(
                "  DXSO booking suggestions in Belege online "
                f"(DATEV holds {self.datev_dxso_entries} entries)"
            )
        for job in self.dxso:
            out += job.render()
        chains = ", ".join(f"{c['chain']} ({c['events']} events)" for c in self.audit_chains)
        out.append(
            "  audit chain       "
            + ("verified" if self.audit_verified else "BROKEN")
            + f": {chains}"
        )
        out.append(f"  configuration     {self.config_path}")
        out.append(f"  data directory    {self.data_dir}")
        out.append("  result            " + ("OK" if self.ok else "FAILED"))
        return "\n".join(out)
