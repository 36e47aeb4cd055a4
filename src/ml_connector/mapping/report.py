"""Write a prepared run to a directory: the EXTF file(s), the report and the held rows.

What ``run --dry-run`` leaves behind for an in-memory
:class:`~ml_connector.mapping.pipeline.PreparedRun`; a streamed run
(:class:`~ml_connector.mapping.stream.RunStream`) writes the same files itself.
"""

from __future__ import annotations

from pathlib import Path

from ml_connector.extf.split import WrittenFile, write_split
from ml_connector.mapping.pipeline import PreparedRun
from ml_connector.mapping.rows import write_rows
from ml_connector.mapping.stream import held_record, remove_stale_files, write_reports

__all__ = ["write_run_files"]


def write_run_files(prepared: PreparedRun, out_dir: Path) -> list[Path]:
    """Write the EXTF file(s) (only when the run is ready), ``report.json``, ``report.txt``
    and ``held.jsonl`` (rejected rows kept for correction and replay) into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_files(out_dir)
    files: list[WrittenFile] = []
    if prepared.ready and prepared.lines:
        files = write_split(
            prepared.header,
            prepared.lines,
            out_dir,
            pipeline=prepared.pipeline,
            expected_client_id=prepared.header.client_id,
        )
    assert prepared.facts is not None
    written = [item.path for item in files]
    written += write_reports(prepared.facts, files, out_dir)
    held_path = out_dir / "held.jsonl"
    if prepared.rejections:
        with held_path.open("w", encoding="utf-8") as handle:
            write_rows((held_record(r) for r in prepared.rejections), handle)
        written.append(held_path)
    elif held_path.exists():
        held_path.unlink()
    return written
