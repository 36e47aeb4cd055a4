"""Property: changing any stored field of any event is caught at exactly that event."""

from __future__ import annotations

import math
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from ml_connector.canonical import canonical_json
from ml_connector.store.audit import AuditEvent, append_events, verify
from ml_connector.store.db import make_engine, migrate

FIELDS = ["recorded_at", "run_id", "kind", "row_key", "filename", "payload", "prev_hash"]
payloads = st.dictionaries(
    st.text(min_size=1, max_size=5),
    st.one_of(st.integers(), st.text(max_size=8), st.booleans(), st.none()),
    max_size=3,
)


@settings(max_examples=40, deadline=None)
@given(
    events=st.lists(payloads, min_size=1, max_size=8),
    data=st.data(),
    column=st.sampled_from(FIELDS),
)
def test_any_single_change_is_named(
    events: list[dict[str, object]], data: st.DataObject, column: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 's.sqlite3'}")
        try:
            migrate(engine)
            append_events(
                engine, "c", [AuditEvent("row", "r", p, row_key="k", filename="f") for p in events]
            )
            seq = data.draw(st.integers(1, len(events)))
            with engine.begin() as conn:
                conn.execute(text("DROP TRIGGER audit_events_no_update"))
                conn.execute(
                    # column comes from the fixed FIELDS list
                    text(f"UPDATE audit_events SET {column} = {column} || 'x' WHERE seq = :s"),  # noqa: S608
                    {"s": seq},
                )
            [report] = verify(engine)
            assert not report.ok
            assert report.broken_seq == seq
        finally:
            engine.dispose()


def test_canonical_json_is_exact_and_stable() -> None:
    value = {"b": Decimal("12.50"), "a": ["ä", 1, 2.5], "c": None}
    assert canonical_json(value) == '{"a":["ä",1,2.5],"b":"12.50","c":null}'
    assert canonical_json(dict(reversed(value.items()))) == canonical_json(value)
    with pytest.raises(ValueError, match="Out of range float"):
        canonical_json({"x": math.nan})
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        canonical_json({"x": object()})
