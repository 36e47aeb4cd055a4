"""Tie-out against Looker totals, balance checks, and restatement planning (the
streaming run's planner, through what it would send and what is posted after)."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal
from pathlib import Path

from mapping_support import Ran, make_config, make_row, posted_lines, stream_run, v_totals

from ml_connector.canonical import canonical_json
from ml_connector.config import LoadedConfig
from ml_connector.mapping.mapper import MappedRow, RowMapper, RowOutcome
from ml_connector.mapping.period import Period
from ml_connector.mapping.restatement import ChangeKind
from ml_connector.mapping.tieout import tie_out


def outcomes_of(config: LoadedConfig, rows: list[dict[str, object]]) -> list[RowOutcome]:
    mapper = RowMapper(
        config.mapping("p"), config.lookups, config.customer_of("p").datev, period=Period(2026, 10)
    )
    return list(mapper.map_rows(rows))


ROWS = [
    make_row(id="a", account="OPS-300", amount=Decimal("100.00")),
    make_row(id="b", account="OPS-300", amount=Decimal("50.00")),
    make_row(id="c", account="REV-100", amount=Decimal("-150.00")),
]


def test_rows_that_match_their_totals_tie_out(tmp_path: Path) -> None:
    config = make_config(tmp_path, balanced="true")
    report = tie_out(
        outcomes_of(config, ROWS), v_totals(ROWS), config.pipeline("p").tie_out, config.mapping("p")
    )
    assert report.ok, report.problems
    assert report.debit_total == report.credit_total == Decimal("150.00")
    assert {g.key for g in report.groups} == {("2026-10", "OPS-300"), ("2026-10", "REV-100")}


def test_a_missing_row_and_a_wrong_count_fail(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    settings, mapping = config.pipeline("p").tie_out, config.mapping("p")
    report = tie_out(outcomes_of(config, ROWS[:2]), v_totals(ROWS), settings, mapping)
    assert not report.ok
    assert any("REV-100" in p for p in report.problems)
    doubled = v_totals(ROWS)
    doubled[0]["t.count"] = 3
    report = tie_out(outcomes_of(config, ROWS), doubled, settings, mapping)
    assert not report.ok
    assert "counts 3 rows" in report.problems[0]


def test_unbalanced_extract_fails_when_declared_balanced(tmp_path: Path) -> None:
    config = make_config(tmp_path, balanced="true")
    report = tie_out(
        outcomes_of(config, ROWS[:2]), None, config.pipeline("p").tie_out, config.mapping("p")
    )
    assert not report.ok
    assert "not balanced" in report.problems[0]
    assert not report.totals_checked


def test_held_rows_account_for_their_share_with_a_detail_amount(tmp_path: Path) -> None:
    config = make_config(tmp_path, detail_amount='detail_amount = "v.amount"')
    rows = [*ROWS, make_row(id="d", account="OPS-399", amount=Decimal("7.00"))]
    report = tie_out(
        outcomes_of(config, rows), v_totals(rows), config.pipeline("p").tie_out, config.mapping("p")
    )
    assert report.ok, report.problems
    held = next(g for g in report.groups if g.key == ("2026-10", "OPS-399"))
    assert (held.held_count, held.held_amount) == (1, Decimal("7.00"))


def test_a_changed_booking_line_breaks_the_tie_out(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    outcomes = outcomes_of(config, ROWS)
    first = outcomes[0]
    assert isinstance(first, MappedRow)
    bad_line = dataclasses.replace(first.lines[0], umsatz=first.lines[0].umsatz + Decimal("0.01"))
    outcomes[0] = dataclasses.replace(first, lines=(bad_line,))
    report = tie_out(outcomes, v_totals(ROWS), config.pipeline("p").tie_out, config.mapping("p"))
    assert not report.ok


def _run(config: LoadedConfig, rows: list[dict[str, object]], posted: dict[str, str]) -> Ran:
    return stream_run(config, "p", "2026-10", rows, posted=posted)


def test_unchanged_rerun_posts_nothing(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    posted = _run(config, ROWS, {}).posted()
    again = _run(config, ROWS, posted)
    assert again.batch == ()
    assert again.done.files == ()
    assert again.facts.changes == {ChangeKind.UNCHANGED.value: 3}


def test_changed_row_gets_one_reversal_and_one_new_booking(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    posted = _run(config, ROWS, {}).posted()
    after = _run(config, [make_row(id="a", amount=Decimal("120.00")), *ROWS[1:]], posted)
    assert after.facts.changes == {"changed": 1, "unchanged": 2}
    reversal, booking = after.batch
    assert reversal.generalumkehr is True
    assert reversal.umsatz == Decimal("100.00")
    assert reversal.buchungstext is not None
    assert reversal.buchungstext.startswith("Storno ")
    assert booking.umsatz == Decimal("120.00")
    stored = after.posted(posted)
    assert [k for k in stored if stored[k] != posted[k]] == ["a"]
    assert posted_lines(stored["a"]) == after.lines_of("a")


def test_gone_row_is_reversed_and_retired(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    posted = _run(config, ROWS, {}).posted()
    after = _run(config, ROWS[:2], posted)
    assert after.facts.changes == {"gone": 1, "unchanged": 2}
    (reversal,) = after.batch
    assert reversal.generalumkehr is True
    assert sorted(after.posted(posted)) == ["a", "b"]


def test_held_row_is_not_mistaken_for_gone(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    posted = _run(config, ROWS, {}).posted()
    rejected = make_row(id="c", account="NOPE", amount=Decimal("-150.00"))
    after = _run(config, [*ROWS[:2], rejected], posted)
    assert after.batch == ()
    assert after.facts.changes == {"held": 1, "unchanged": 2}
    assert after.posted(posted) == posted


def test_append_only_posts_only_new_keys(tmp_path: Path) -> None:
    config = make_config(tmp_path, restatement="append_only")
    posted = _run(config, ROWS[:2], {}).posted()
    after = _run(config, [make_row(id="a", amount=Decimal("1.00")), ROWS[2]], posted)
    assert [line.umsatz for line in after.batch] == [Decimal("150.00")]
    assert after.facts.changes == {"changed": 1, "gone": 1, "new": 1}
    assert after.facts.reversals == 0
    assert sorted(after.posted(posted)) == ["a", "b", "c"]


def test_a_rerun_against_the_stored_postings_posts_nothing(
    demo_config: LoadedConfig, demo_rows: list[dict[str, object]]
) -> None:
    from mapping_support import totals_of

    first = stream_run(demo_config, "gl-monthly", "2025-06", demo_rows, totals=totals_of(demo_rows))
    records = first.posted()
    assert len(records) == first.facts.rows_mapped
    # the store keeps each posting as canonical JSON (sorted keys, compact)
    restored = {k: canonical_json(json.loads(text)) for k, text in records.items()}
    again = stream_run(
        demo_config,
        "gl-monthly",
        "2025-06",
        demo_rows,
        totals=totals_of(demo_rows),
        posted=restored,
    )
    assert again.batch == ()
    assert again.facts.changes == {"unchanged": first.facts.rows_mapped}


def test_successive_runs_against_a_ledger(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    runs = [
        ROWS,  # first run: three new bookings
        ROWS,  # unchanged: nothing
        [make_row(id="a", amount=Decimal("90.00")), *ROWS[1:]],  # a restated
        [make_row(id="a", amount=Decimal("90.00")), ROWS[1]],  # c gone
        [make_row(id="a", amount=Decimal("90.00")), ROWS[1]],  # settled
    ]
    ledger: dict[str, str] = {}
    posted_lines = []
    for rows in runs:
        ran = _run(config, rows, ledger)
        ledger = ran.posted(ledger)
        posted_lines.append(len(ran.batch))
    assert posted_lines == [3, 0, 2, 1, 0]
    assert sorted(ledger) == ["a", "b"]


def test_a_held_row_without_amount_is_counted_named_and_does_not_fail(tmp_path: Path) -> None:
    config = make_config(tmp_path, detail_amount='detail_amount = "v.amount"')
    empty = make_row(id="d", account="OPS-300", amount=None)
    report = tie_out(
        outcomes_of(config, [*ROWS, empty]),
        v_totals([*ROWS, empty]),
        config.pipeline("p").tie_out,
        config.mapping("p"),
    )
    assert report.ok, report.problems
    group = next(g for g in report.groups if g.key == ("2026-10", "OPS-300"))
    assert (group.booked_count, group.held_count) == (2, 1)
    assert group.looker_amount == group.booked_amount + group.held_amount == Decimal("150.00")
    assert len(report.notes) == 1
    assert "(d)" in report.notes[0]
    assert "v.amount" in report.notes[0]


def test_without_a_detail_amount_a_held_row_names_the_setting_to_use(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    rows = [*ROWS, make_row(id="d", account="OPS-399", amount=Decimal("7.00"))]
    report = tie_out(
        outcomes_of(config, rows), v_totals(rows), config.pipeline("p").tie_out, config.mapping("p")
    )
    assert not report.ok
    assert any("(d)" in p and "set tie_out.detail_amount" in p for p in report.problems)
