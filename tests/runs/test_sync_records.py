"""Row records from a streamed run, and the posted state read back as a stream."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from ml_connector.canonical import canonical_json
from ml_connector.mapping.stream import RowTrace, posted_entry
from ml_connector.runs.records import FileSlice, row_records
from ml_connector.store.db import make_engine, migrate, sqlite_url
from ml_connector.store.posted import PostedRecord, iter_latest, record_posted

LINE = {"umsatz": "10.00", "soll_haben": "S", "konto": 1590, "gegenkonto": 4210}


def _store(tmp_path: Path) -> Engine:
    engine = make_engine(sqlite_url(tmp_path / "data"))
    migrate(engine)
    return engine


def _posting(key: str, lines: list[dict[str, object]], run: str) -> PostedRecord:
    return PostedRecord(
        pipeline="gl",
        datev_client="100-1",
        period="2026-10",
        row_key=key,
        booking_json=canonical_json({"content_digest": f"d-{run}", "lines": lines, "reversal": []}),
        run_id=run,
    )


def test_posted_states_stream_newest_per_key_in_key_order(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        record_posted(store, [_posting("b", [LINE], "r1"), _posting("a", [LINE], "r1")])
        record_posted(store, [_posting("b", [{**LINE, "umsatz": "12.00"}], "r2")])
        record_posted(store, [_posting("c", [LINE], "r1"), _posting("c", [], "r2")])  # retired
        states = [
            (s.row_key, s.booking)
            for s in iter_latest(store, pipeline="gl", datev_client="100-1", period="2026-10")
        ]
        assert [key for key, _ in states] == ["a", "b", "c"]
        entries = [posted_entry(key, text) for key, text in states]
        assert entries[0] == ("a", "d-r1", [LINE])
        assert entries[1] == ("b", "d-r2", [{**LINE, "umsatz": "12.00"}])
        assert entries[2] is None
        other = iter_latest(store, pipeline="gl", datev_client="100-1", period="2026-09")
        assert list(other) == []
    finally:
        store.dispose()


def test_row_records_point_into_the_right_file_and_line() -> None:
    booking = {"content_digest": "x", "lines": [LINE], "reversal": []}
    traces = [
        RowTrace("a", {"v.id": "a"}, booking, None, 0),
        RowTrace("b", {"v.id": "b"}, booking, None, 2),
        RowTrace("c", {"v.id": "c"}, None, "unmapped_account: no entry", None),
        RowTrace("d", {"v.id": "d"}, booking, None, None),  # unchanged: nothing sent
    ]
    slices = [FileSlice("EXTF_1.csv", 2), FileSlice("EXTF_2.csv", 1)]
    records = list(row_records(traces, slices))
    assert [(r.row_key, r.filename, r.line) for r in records] == [
        ("a", "EXTF_1.csv", 1),
        ("b", "EXTF_2.csv", 1),
        ("c", None, None),
        ("d", None, None),
    ]
    assert records[2].rejection == "unmapped_account: no entry"
    assert json.loads(json.dumps(records[0].booking)) == booking
