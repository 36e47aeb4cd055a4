"""Shared code for the sync tests: an installed demo on both emulators, a plain driver."""

from __future__ import annotations

import asyncio
import csv
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from ml_connector.canonical import canonical_json
from ml_connector.engine.ports import JobStatus, Prepared, RunSpec, iter_records
from ml_connector.runs.steps import LiveRunSteps
from ml_connector.store.posted import PostedRecord, record_posted
from ml_connector_sandbox.demo.emulators import DemoEmulators
from ml_connector_sandbox.emulators._server import serve_in_thread
from ml_connector_sandbox.emulators.looker import create_app as create_looker_app
from ml_connector_sandbox.emulators.looker import demo_dataset_dir

PIPELINE = "gl-monthly"
CLIENT = "29098-55003"


def drive(steps: LiveRunSteps, spec: RunSpec, workdir: Path) -> tuple[Prepared, list[str]]:
    """What the engine does with the steps, without durability: returns the job ids."""

    async def go() -> tuple[Prepared, list[str]]:
        try:
            prepared = await steps.prepare(spec, workdir)
            jobs: list[str] = []
            for file in prepared.files:
                job = await steps.find_submission(spec, file)
                if job is None:
                    job = await steps.submit(spec, file)
                jobs.append(job)
                status = JobStatus("pending")
                for _ in range(20):
                    status = await steps.poll(spec, file, job)
                    if status.state != "pending":
                        break
                    await asyncio.sleep(0.05)
                assert status.state == "succeeded", status.detail
                record_posted(
                    steps.store,
                    [
                        PostedRecord(
                            spec.pipeline,
                            spec.datev_client,
                            spec.period,
                            r.row_key,
                            canonical_json(r.booking),
                            "test-run",
                            file.filename,
                            job,
                        )
                        for r in iter_records(Path(prepared.records_path))
                        if r.filename == file.filename and r.booking is not None
                    ],
                )
            return prepared, jobs
        finally:
            await steps.aclose()

    return asyncio.run(go())


@contextmanager
def restated_looker(
    emulators: DemoEmulators, tmp: Path, line_id: str, amount: Decimal
) -> Iterator[str]:
    """A second Looker emulator whose demo data has ``line_id`` at ``amount``; its URL."""

    def restate(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        changed = [row for row in rows if row["line_id"] == line_id]
        assert len(changed) == 1
        changed[0]["amount_eur"] = str(amount)
        return rows

    with edited_looker(emulators, tmp, restate) as url:
        yield url


@contextmanager
def edited_looker(
    emulators: DemoEmulators,
    tmp: Path,
    edit: Callable[[list[dict[str, str]]], list[dict[str, str]]],
) -> Iterator[str]:
    """A second Looker emulator serving the demo rows as ``edit`` returns them; its URL."""
    data = tmp / "edited-dataset"
    shutil.copytree(demo_dataset_dir(), data)
    path = data / "gl_monthly.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0])
    rows = edit(rows)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    app = create_looker_app(
        data,
        client_id=emulators.looker_client_id,
        client_secret=emulators.looker_client_secret,
    )
    with serve_in_thread(app) as server:
        yield server.url
