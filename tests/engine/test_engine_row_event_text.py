"""A row's audit payload and its posted booking are cut out of stored canonical JSON,
never decoded and encoded again, and are the same text as encoding them would give."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_connector.canonical import canonical_json
from ml_connector.engine.ports import (
    RowRecord,
    iter_row_events,
    row_event_json,
    row_event_text,
    write_records,
)
from ml_connector.store.audit import booking_text

#: texts that look like the keys the cut searches for, inside values and Looker keys
TRICKY = st.sampled_from(
    [
        "filename",
        "row_key",
        "line",
        "source",
        "booking",
        ',"filename":',
        ',"row_key":"x","source":{}}',
        ',"line":7',
        '"}',
        "\\",
        "Łódź \u201equoted\u201c\ttab",
    ]
)
TEXT = st.one_of(TRICKY, st.text(max_size=12))
VALUE = st.one_of(st.none(), TEXT, st.integers(-(10**6), 10**6), st.booleans())
SOURCE = st.dictionaries(TEXT, VALUE, max_size=6)
LINE = st.dictionaries(st.sampled_from(["Umsatz", "Konto", "Buchungstext", "Belegfeld 1"]), TEXT)
BOOKING = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {
            "content_digest": st.text(max_size=8),
            "lines": st.lists(LINE, max_size=2),
            "reversal": st.lists(LINE, max_size=1),
        }
    ),
)
RECORD = st.builds(
    RowRecord,
    row_key=TEXT,
    source=SOURCE,
    booking=BOOKING,
    rejection=st.one_of(st.none(), TEXT),
    filename=st.one_of(st.none(), TEXT),
    line=st.one_of(st.none(), st.integers(1, 99_999)),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(RECORD, min_size=1, max_size=5))
def test_a_row_event_is_the_records_text_without_file_and_key(
    tmp_path: Path, records: list[RowRecord]
) -> None:
    path = tmp_path / "records.jsonl"
    write_records(path, records)
    events = list(iter_row_events(path))
    assert [(e.row_key, e.filename) for e in events] == [(r.row_key, r.filename) for r in records]
    for event, record in zip(events, records, strict=True):
        assert event.payload_json == row_event_json(record)
        payload = json.loads(event.payload_json)
        assert payload == {
            "booking": record.booking,
            "line": record.line,
            "rejection": record.rejection,
            "source": record.source,
        }
        booking, line = booking_text(event.payload_json)
        assert (booking, line) == (canonical_json(record.booking), record.line)


def test_a_record_written_otherwise_is_decoded_and_encoded() -> None:
    record = RowRecord("k1", {"konto": "1200"}, None, "no account", None, None)
    spaced = json.dumps(
        {
            "row_key": "k1",
            "source": {"konto": "1200"},
            "booking": None,
            "rejection": "no account",
            "filename": None,
            "line": None,
        },
        indent=1,
    ).replace("\n", " ")
    event = row_event_text(spaced + "\n")
    assert (event.row_key, event.filename) == ("k1", None)
    assert event.payload_json == row_event_json(record)


def test_a_payload_written_otherwise_gives_its_booking_encoded() -> None:
    payload = json.dumps({"source": {}, "line": 3, "booking": {"b": 1, "a": [2]}}, indent=1)
    assert booking_text(payload) == ('{"a":[2],"b":1}', 3)
