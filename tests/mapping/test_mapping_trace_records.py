"""The row records file is written from the trace spill as the records it always was."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mapping_support import make_config, make_row

from ml_connector.canonical import canonical_json, to_jsonable
from ml_connector.engine.ports import iter_records, write_records
from ml_connector.mapping.period import Period
from ml_connector.mapping.stream import RunStream
from ml_connector.runs.records import FileSlice, record_lines, row_records, write_record_lines

OCTOBER = Period(2026, 10)
NOW = datetime(2026, 11, 2, 8, 0)


def _records_both_ways(run: RunStream, out: Path) -> tuple[bytes, bytes]:
    done = run.finish()
    slices = [FileSlice(item.path.name, item.bookings) for item in done.files]
    write_records(out / "parsed.jsonl", row_records(run.traces(), slices))
    write_record_lines(out / "direct.jsonl", record_lines(run.trace_pieces(), slices))
    return (out / "parsed.jsonl").read_bytes(), (out / "direct.jsonl").read_bytes()


def test_records_from_the_spill_are_byte_identical_to_parsed_traces(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    first = [make_row(id=f"r{i}", doc=f"RE-{i}") for i in range(1, 5)]
    with RunStream(config, "p", OCTOBER, tmp_path / "one", now=NOW, trace_rows=True) as run:
        run.add_many(first)
        run.finish()
        posted = [(t.row_key, canonical_json(t.booking)) for t in run.traces() if t.booking]
    second = [
        make_row(id="r1", doc="RE-1"),  # unchanged: nothing sent
        make_row(id="r2", doc="RE-2", amount=Decimal("250.00")),  # changed: reversal + new
        make_row(id="r5", text='Zahlung "quoted" \u201eŁódź\u201c\ttab'),  # new, non-ASCII
        make_row(id="r6", account="REV-840", revenue_type="domestic_19"),  # held
        # r3 and r4 are gone: reversed at the end of the batch
    ]
    out = tmp_path / "two"
    with RunStream(config, "p", OCTOBER, out, now=NOW, trace_rows=True) as run:
        run.load_posted(posted)
        run.add_many(second)
        parsed, direct = _records_both_ways(run, out)
    assert direct == parsed
    records = {r.row_key: r for r in iter_records(out / "direct.jsonl")}
    assert set(records) == {"r1", "r2", "r3", "r4", "r5", "r6"}
    assert (records["r1"].filename, records["r1"].booking is None) == (None, False)
    assert (records["r6"].rejection is None, records["r6"].booking) == (False, None)
    assert (records["r3"].filename is None, records["r3"].source) == (False, {})
    assert (records["r2"].line or 0) > 2  # after the batch's reversals
    assert "Łódź" in str(records["r5"].source)


def test_a_blocked_batch_records_no_places_and_no_gone_keys(tmp_path: Path) -> None:
    config = make_config(tmp_path, reject_policy="reject_batch")
    with RunStream(config, "p", OCTOBER, tmp_path / "one", now=NOW, trace_rows=True) as run:
        run.add_many([make_row(id="r1"), make_row(id="r2")])
        run.finish()
        posted = [(t.row_key, canonical_json(t.booking)) for t in run.traces() if t.booking]
    out = tmp_path / "two"
    rows = [make_row(id="r1"), make_row(id="r3", account="REV-840", revenue_type="domestic_19")]
    with RunStream(config, "p", OCTOBER, out, now=NOW, trace_rows=True) as run:
        run.load_posted(posted)
        run.add_many(rows)
        parsed, direct = _records_both_ways(run, out)
    assert direct == parsed
    records = list(iter_records(out / "direct.jsonl"))
    assert [r.row_key for r in records] == ["r1", "r3"]  # r2 (gone) is not reversed
    assert all(r.filename is None and r.line is None for r in records)


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),  # quotes, backslashes, control characters, any script
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.dates(),
    st.datetimes(),
    st.lists(st.text(max_size=3), max_size=2),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(extra=st.dictionaries(st.text(min_size=1, max_size=8), _VALUES, max_size=4))
def test_a_trace_holds_the_row_as_extracted_in_canonical_json(
    tmp_path: Path, extra: dict[str, object]
) -> None:
    """Whatever Looker's columns hold, the row record keeps them exactly: decimals as
    their digits, dates in ISO 8601, text as it came, in the store's canonical JSON."""
    config = make_config(tmp_path)
    held = make_row(id="r2", account="REV-840", revenue_type="domestic_19")
    rows = [{**make_row(id="r1"), **extra}, {**held, **extra}]
    out = tmp_path / f"run-{uuid.uuid4().hex}"
    with RunStream(config, "p", OCTOBER, out, now=NOW, trace_rows=True) as run:
        run.add_many(rows)
        run.finish()
        pieces = list(run.trace_pieces())
        traces = list(run.traces())
    assert len(pieces) == len(traces) == 2
    for row, piece, trace in zip(rows, pieces, traces, strict=True):
        source = {key: to_jsonable(value) for key, value in row.items()}
        assert trace.source == json.loads(json.dumps(source))
        expected = {"rejection": trace.rejection, "row_key": trace.row_key, "source": source}
        assert piece.rest == canonical_json(expected)[1:-1]
