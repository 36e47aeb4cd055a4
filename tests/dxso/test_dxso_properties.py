"""Any row of a dxso pipeline becomes an XSD-valid entry or is held with a reason."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from dxso_support import JANUARY, dxso_config, make_row
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ml_connector.formats.dxso.models import Ledger
from ml_connector.formats.dxso.schemas import entry_problems
from ml_connector.formats.dxso.writer import entry_element
from ml_connector.mapping.mapper import MappedRow, Rejection, RowMapper

_text = st.text(max_size=70)
_rows = st.fixed_dictionaries(
    {
        "id": st.one_of(st.none(), _text, st.from_regex(r"[A-Z]{2}-[0-9]{1,6}", fullmatch=True)),
        "amount": st.one_of(
            st.decimals(min_value=-(10**11), max_value=10**11, places=2, allow_nan=False),
            st.sampled_from(["0.00", "12.345", "abc", None]),
        ),
        "debtor": st.one_of(st.integers(min_value=-5, max_value=10**10), _text),
        "customer": st.one_of(st.none(), _text),
        "due": st.one_of(st.none(), _text, st.dates().map(str)),
    }
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=_rows)
def test_every_row_is_a_valid_entry_or_held(tmp_path: Path, values: dict[str, object]) -> None:
    config = dxso_config(tmp_path)
    mapper = RowMapper(
        config.mapping("p"), config.lookups, config.customer_of("p").datev, period=JANUARY
    )
    outcome = mapper.map_row(make_row(**values))
    if isinstance(outcome, Rejection):
        assert outcome.reason.value
        assert outcome.message
        return
    assert isinstance(outcome, MappedRow)
    if not outcome.lines:  # a zero amount is skipped, never sent as 0.00
        assert outcome.amount == Decimal("0.00")
        return
    assert outcome.dxso is not None
    assert outcome.dxso.amount != 0
    ledger = Ledger.ACCOUNTS_RECEIVABLE
    assert entry_problems(ledger, entry_element(outcome.dxso, ledger)) == []
