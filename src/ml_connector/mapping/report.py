"""Write a prepared run to a directory: the EXTF file(s), the report and the held rows.

What ``run --dry-run`` leaves behind, and what a real run archives next to what it sent.
"""

from __future__ import annotations

import json
from pathlib import Path

from ml_connector.extf.split import write_split
from ml_connector.mapping.pipeline import PreparedRun
from ml_connector.mapping.rows import write_rows

__all__ = ["write_run_files"]


def write_run_files(prepared: PreparedRun, out_dir: Path) -> list[Path]:
    """Write the EXTF file(s) (only when the run is ready), ``report.json``, ``report.txt``
    and ``held.jsonl`` (rejected rows kept for correction and replay) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("EXTF_*.csv"):
        stale.unlink()
    written: list[Path] = []
    report = prepared.report()
    files: list[dict[str, object]] = []
    if prepared.ready and prepared.lines:
        for item in write_split(
            prepared.header,
            prepared.lines,
            out_dir,
            pipeline=prepared.pipeline,
            expected_client_id=prepared.header.client_id,
        ):
            written.append(item.path)
            files.append({"file": item.path.name, "bookings": item.bookings, "bytes": item.size})
    report["files"] = files
    report_path = out_dir / "report.json"
    report_path.write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    summary_path = out_dir / "report.txt"
    summary = prepared.summary()
    if files:
        summary += "\n  files: " + ", ".join(str(f["file"]) for f in files)
    summary_path.write_text(summary + "\n", encoding="utf-8")
    written += [report_path, summary_path]
    held_path = out_dir / "held.jsonl"
    if prepared.rejections:
        with held_path.open("w", encoding="utf-8") as handle:
            write_rows(
                (
                    {"_reason": r.reason.value, "_message": r.message, **dict(r.row)}
                    for r in prepared.rejections
                ),
                handle,
            )
        written.append(held_path)
    elif held_path.exists():
        held_path.unlink()
    return written
