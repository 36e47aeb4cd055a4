"""No rows from Looker for a period with posted bookings: blocked, not reversed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from mapping_support import make_config, make_row, stream_run

POSTED_ROWS = [make_row(id=key, amount=Decimal(n)) for key, n in (("a", 10), ("b", 20))]


def _posted(tmp_path: Path, mode: str) -> dict[str, str]:
    config = make_config(tmp_path, restatement=mode)
    return stream_run(config, "p", "2026-10", POSTED_ROWS).posted()


def test_an_empty_extract_of_a_posted_month_is_blocked(tmp_path: Path) -> None:
    config = make_config(tmp_path, restatement="corrections")
    run = stream_run(config, "p", "2026-10", [], posted=_posted(tmp_path, "corrections"))
    assert not run.done.ready
    assert run.batch == (), "no reversal is written"
    [blocker] = run.done.facts.blockers
    assert "Looker returned no rows for 2026-10 although 2 booking(s) were posted" in blocker
    assert "--allow-empty" in blocker


def test_allow_empty_reverses_every_posted_booking(tmp_path: Path) -> None:
    config = make_config(tmp_path, restatement="corrections")
    posted = _posted(tmp_path, "corrections")
    run = stream_run(config, "p", "2026-10", [], posted=posted, allow_empty=True)
    assert run.done.ready
    assert [line.generalumkehr for line in run.batch] == [True, True]
    assert sorted(line.umsatz for line in run.batch) == [Decimal(10), Decimal(20)]


def test_rows_of_other_periods_do_not_count_as_rows_of_the_month(tmp_path: Path) -> None:
    config = make_config(tmp_path, restatement="corrections")
    november = [make_row(id="z", period="2026-11")]
    run = stream_run(config, "p", "2026-10", november, posted=_posted(tmp_path, "corrections"))
    assert not run.done.ready


def test_nothing_to_block_without_posted_bookings_or_in_append_only_mode(tmp_path: Path) -> None:
    fresh = stream_run(make_config(tmp_path, restatement="corrections"), "p", "2026-10", [])
    assert fresh.done.ready
    assert fresh.done.facts.completeness.warnings == ("Looker returned no rows for 2026-10",)
    append_only = make_config(tmp_path, restatement="append_only")
    kept = stream_run(append_only, "p", "2026-10", [], posted=_posted(tmp_path, "append_only"))
    assert kept.done.ready
    assert kept.batch == ()
