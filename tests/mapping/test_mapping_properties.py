"""Properties: every row maps or is rejected (never both, never neither); the tie-out
catches any changed amount; a restated row yields one reversal and one new booking."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from mapping_support import make_config, make_row, posted_lines, stream_run, totals_of, v_totals

from ml_connector.config import LoadedConfig
from ml_connector.formats.extf.models import BatchHeader, line_to_json
from ml_connector.formats.extf.validate import validate_line
from ml_connector.mapping.mapper import (
    MappedRow,
    Rejection,
    RejectReason,
    RowMapper,
    content_digest,
)
from ml_connector.mapping.period import Period
from ml_connector.mapping.tieout import tie_out

OCTOBER = Period(2026, 10)
HEADER = BatchHeader(
    beraternummer=29098,
    mandantennummer=55003,
    wj_beginn=date(2026, 1, 1),
    sachkontenlaenge=4,
    datum_vom=OCTOBER.start,
    datum_bis=OCTOBER.end,
    festschreibung=False,
    skr="03",
    erzeugt_am=datetime(2026, 11, 1),
)

texts = st.text(max_size=80)
amounts = st.one_of(
    st.none(),
    st.decimals(min_value=-(10**11), max_value=10**11, places=2, allow_nan=False),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True),
    texts,
    st.booleans(),
)
dates = st.one_of(
    st.none(),
    st.dates(min_value=date(2026, 9, 1), max_value=date(2026, 11, 30)),
    st.dates().map(date.isoformat),
    texts,
    st.integers(),
)
rows = st.fixed_dictionaries(
    {
        "id": st.one_of(st.none(), st.text(max_size=10), st.integers()),
        "date": dates,
        "account": st.one_of(
            st.sampled_from(["OPS-300", "REV-100", "OPS-399", "BIG-1"]), texts, st.none()
        ),
        "revenue_type": st.one_of(st.sampled_from(["domestic_19", "x"]), st.none(), texts),
        "department": st.one_of(st.sampled_from(["Beratung", "Unknown"]), st.none(), texts),
        "doc": texts,
        "text": texts,
        "amount": amounts,
        "cost_center": st.one_of(st.none(), texts),
    }
)


@pytest.fixture(scope="module")
def prop_config(tmp_path_factory: pytest.TempPathFactory) -> LoadedConfig:
    return make_config(tmp_path_factory.mktemp("cfg"), extra_fields='kost2 = "v.cost_center"')


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=rows)
def test_any_row_maps_to_valid_lines_or_is_rejected_with_a_reason(
    prop_config: LoadedConfig, values: dict[str, object]
) -> None:
    mapper = RowMapper(
        prop_config.mapping("p"),
        prop_config.lookups,
        prop_config.customer_of("p").datev,
        period=OCTOBER,
    )
    outcome = mapper.map_row(make_row(**values))
    assert isinstance(outcome, MappedRow) != isinstance(outcome, Rejection)
    if isinstance(outcome, MappedRow):
        assert outcome.lines or outcome.amount == 0
        for line in outcome.lines:
            assert validate_line(line, HEADER) == []
        # what traces, spills and posted records hold is the line, and its digest too
        assert outcome.lines_json == tuple(line_to_json(line) for line in outcome.lines)
        assert outcome.content_digest == content_digest(outcome.lines)
    else:
        assert isinstance(outcome.reason, RejectReason)
        assert outcome.message


deltas = st.decimals(min_value=-1_000_000, max_value=1_000_000, places=2).filter(lambda d: d != 0)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), delta=deltas)
def test_tie_out_catches_any_change_to_one_amount(
    demo_config: LoadedConfig,
    demo_rows: list[dict[str, object]],
    data: st.DataObject,
    delta: Decimal,
) -> None:
    period_rows = [r for r in demo_rows if r["gl_monthly.period_month"] == "2026-10"]
    looker_totals = totals_of(period_rows)
    index = data.draw(st.integers(min_value=0, max_value=len(period_rows) - 1))
    changed = list(period_rows)
    amount = changed[index]["gl_monthly.amount_eur"]
    assert isinstance(amount, Decimal)
    changed[index] = {**changed[index], "gl_monthly.amount_eur": amount + delta}
    run = stream_run(demo_config, "gl-monthly", "2026-10", changed, totals=looker_totals)
    assert not run.facts.tie_out.ok
    assert not run.facts.ready
    assert run.batch == ()
    unchanged = stream_run(demo_config, "gl-monthly", "2026-10", period_rows, totals=looker_totals)
    assert unchanged.facts.tie_out.ok


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), delta=deltas)
def test_tie_out_on_booking_lines_catches_a_changed_line(
    tmp_path: Path, data: st.DataObject, delta: Decimal
) -> None:
    config = make_config(tmp_path)
    rows_ = [
        make_row(id=str(i), account=["OPS-300", "REV-100"][i % 2], amount=Decimal(i * 10 + 5))
        for i in range(8)
    ]
    looker = v_totals(rows_)
    mapper = RowMapper(config.mapping("p"), config.lookups, config.customer_of("p").datev)
    outcomes = list(mapper.map_rows(rows_))
    settings_, mapping = config.pipeline("p").tie_out, config.mapping("p")
    assert tie_out(outcomes, looker, settings_, mapping).ok
    index = data.draw(st.integers(min_value=0, max_value=len(outcomes) - 1))
    target = outcomes[index]
    assert isinstance(target, MappedRow)
    line = target.lines[0]
    new_amount = line.umsatz + delta
    assume(new_amount > 0)
    outcomes[index] = dataclasses.replace(
        target, lines=(dataclasses.replace(line, umsatz=new_amount),)
    )
    assert not tie_out(outcomes, looker, settings_, mapping).ok


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), delta=deltas)
def test_a_restated_row_yields_one_reversal_and_one_new_booking(
    demo_config: LoadedConfig,
    demo_rows: list[dict[str, object]],
    data: st.DataObject,
    delta: Decimal,
) -> None:
    period_rows = [r for r in demo_rows if r["gl_monthly.period_month"] == "2026-10"]
    first = stream_run(
        demo_config, "gl-monthly", "2026-10", period_rows, totals=totals_of(period_rows)
    )
    posted = first.posted()
    index = data.draw(st.integers(min_value=0, max_value=len(period_rows) - 1))
    amount = period_rows[index]["gl_monthly.amount_eur"]
    assert isinstance(amount, Decimal)
    assume(amount + delta != 0)
    changed = list(period_rows)
    changed[index] = {**changed[index], "gl_monthly.amount_eur": amount + delta}
    second = stream_run(
        demo_config, "gl-monthly", "2026-10", changed, totals=totals_of(changed), posted=posted
    )
    assert second.facts.ready
    assert second.facts.changes == {"changed": 1, "unchanged": len(period_rows) - 1}
    reversal, booking = second.batch
    (key,) = [k for k, record in second.posted(posted).items() if record != posted[k]]
    assert reversal.generalumkehr is True
    assert reversal.umsatz == posted_lines(posted[key])[0].umsatz
    assert booking.generalumkehr is None
    assert (booking,) == second.lines_of(key)
