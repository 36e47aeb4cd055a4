"""The streamed run: deterministic files, the restatement plan, bounded memory, splits."""

from __future__ import annotations

import gc
import hashlib
import json
import tracemalloc
import weakref
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mapping_support import (
    NOW,
    load_demo_rows,
    make_config,
    make_row,
    posted_lines,
    stream_run,
    totals_of,
    v_totals,
)

from ml_connector.config import LoadedConfig
from ml_connector.formats.extf.columns import COLUMN_ATTRS
from ml_connector.formats.extf.models import RenderedLine, line_to_json
from ml_connector.formats.extf.reader import read_file
from ml_connector.formats.extf.render import line_renderer
from ml_connector.formats.extf.samples import sample_lines
from ml_connector.formats.extf.split import write_split
from ml_connector.mapping.mapper import MappedRow
from ml_connector.mapping.scratch import LineSpill
from ml_connector.mapping.stream import RunStream


class _Row(dict[str, object]):
    """A row that can be watched with a weak reference."""


def _demo_template() -> list[dict[str, object]]:
    """December 2025 of the demo data, without its one unmapped row."""
    return [
        r
        for r in load_demo_rows()
        if r["gl_monthly.period_month"] == "2025-12"
        and r["gl_monthly.gl_account_number"] != "OPS-399"
    ]


def _generate(template: list[dict[str, object]], n: int) -> Iterator[_Row]:
    for i in range(n):
        row = _Row(template[i % len(template)])
        row["gl_monthly.line_id"] = f"{row['gl_monthly.line_id']}|{i}"
        yield row


def test_rows_are_consumed_one_at_a_time_and_let_go(
    demo_config: LoadedConfig, tmp_path: Path
) -> None:
    template = _demo_template()
    alive = 0
    most = 0

    def gone() -> None:
        nonlocal alive
        alive -= 1

    def rows() -> Iterator[_Row]:
        nonlocal alive, most
        for row in _generate(template, 2_000):
            most = max(most, alive)
            alive += 1
            weakref.finalize(row, gone)
            yield row

    with RunStream(demo_config, "gl-monthly", "2025-12", tmp_path, now=NOW, trace_rows=True) as run:
        run.add_many(rows())
        done = run.finish(totals_of(list(_generate(template, 2_000))))
        assert done.ready, done.facts.blockers
        assert sum(1 for _ in run.traces()) == 2_000
    assert most <= 1  # no row outlives its own turn
    assert done.facts.rows_mapped == 2_000
    assert not list(tmp_path.glob(".prepare*"))  # scratch removed


def _peak_bytes(config: LoadedConfig, template: list[dict[str, object]], n: int, out: Path) -> int:
    control = totals_of(list(_generate(template, n)))
    gc.collect()
    tracemalloc.start()
    try:
        with RunStream(config, "gl-monthly", "2025-12", out, now=NOW, trace_rows=True) as run:
            run.add_many(_generate(template, n))
            assert run.finish(control).ready
            for _ in run.traces():
                pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_rows(demo_config: LoadedConfig, tmp_path: Path) -> None:
    template = _demo_template()
    _peak_bytes(demo_config, template, 100, tmp_path / "warm-up")  # first-use caches
    # above the EXTF writer's chunk of 1,024 lines, its buffer is at its largest
    small = _peak_bytes(demo_config, template, 1_200, tmp_path / "small")
    large = _peak_bytes(demo_config, template, 4_800, tmp_path / "large")
    # four times the rows; holding rows, lines or records (kilobytes each) would cost ~4x
    assert large < 1.25 * small, (small, large)


def test_a_streamed_run_writes_the_same_bytes_each_time(
    demo_config: LoadedConfig, demo_rows: list[dict[str, object]], tmp_path: Path
) -> None:
    period_rows = [r for r in demo_rows if r["gl_monthly.period_month"] == "2026-10"]
    posted = stream_run(
        demo_config, "gl-monthly", "2026-10", period_rows, totals=totals_of(period_rows)
    ).posted()
    changed = [dict(r) for r in period_rows[1:]]  # row 0 gone
    amount = changed[0]["gl_monthly.amount_eur"]
    assert isinstance(amount, Decimal)
    changed[0]["gl_monthly.amount_eur"] = amount + 7  # row 1 changed
    runs = [
        stream_run(
            demo_config,
            "gl-monthly",
            "2026-10",
            changed,
            totals=totals_of(changed),
            posted=posted,
            out=tmp_path / name,
        )
        for name in ("first", "again")
    ]
    streamed, again = runs
    names = [f.path.name for f in streamed.done.files]
    assert names == [f.path.name for f in again.done.files]
    assert streamed.facts.report() == again.facts.report()
    for name in (*names, "report.json", "report.txt", "held.jsonl"):
        first_file, again_file = tmp_path / "first" / name, tmp_path / "again" / name
        assert first_file.exists() == again_file.exists()
        if first_file.exists():
            assert first_file.read_bytes() == again_file.read_bytes()
    assert [line.generalumkehr for line in streamed.batch[:2]] == [True, True]  # reversals first
    assert len(streamed.batch) == 3
    assert streamed.facts.changes == {
        "gone": 1,
        "changed": 1,
        "unchanged": len(period_rows) - 2,
    }


def test_a_batch_over_the_file_limit_is_split_and_records_point_into_the_parts(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    posted = stream_run(config, "p", "2026-10", [make_row(id=f"old{i}") for i in range(5)]).posted()
    rows = [make_row(id=f"r{i}", doc=f"RE-{i}", amount=Decimal(i + 1)) for i in range(45)]
    with RunStream(
        config, "p", "2026-10", tmp_path / "out", now=NOW, trace_rows=True, max_bookings=20
    ) as run:
        run.load_posted(posted.items())
        run.add_many(rows)
        done = run.finish(v_totals(rows))
        traces = list(run.traces())
    assert done.ready
    assert [f.bookings for f in done.files] == [20, 20, 10]
    assert done.facts.changes == {"new": 45, "gone": 5}
    assert done.facts.report()["lines"] == {"to_post": 50, "reversals": 5}
    batch = [line for f in done.files for line in read_file(f.path).lines]
    assert all(line.generalumkehr for line in batch[:5])
    by_key = {t.row_key: t for t in traces}
    for i in range(45):
        trace = by_key[f"r{i}"]
        assert trace.position is not None
        assert batch[trace.position].belegfeld_1 == f"RE-{i}"
    assert [by_key[f"old{i}"].position for i in range(5)] == [0, 1, 2, 3, 4]


def test_many_rejections_are_all_held_and_counted_but_listed_briefly(tmp_path: Path) -> None:
    config = make_config(tmp_path, detail_amount='detail_amount = "v.amount"')
    rows = [make_row(id=f"r{i}", account="NOPE") for i in range(30)] + [make_row(id="ok")]
    done = stream_run(config, "p", "2026-10", rows, totals=v_totals(rows), out=tmp_path / "out")
    assert done.facts.ready
    assert done.facts.rows_rejected == 30
    text = (tmp_path / "out" / "report.txt").read_text(encoding="utf-8")
    assert text.count("rejected row") == 10
    assert "... and 20 more rejections" in text
    held = (tmp_path / "out" / "held.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(held) == 30


keys = st.sampled_from(["a", "b", "c", "d", "e", "f"])
plan_rows = st.lists(
    st.tuples(keys, st.sampled_from(["OPS-300", "REV-100", "NOPE"]), st.integers(1, 3)),
    max_size=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=plan_rows, after=plan_rows, mode=st.sampled_from(["corrections", "append_only"]))
def test_each_key_is_planned_by_what_was_posted_and_what_maps_now(
    tmp_path: Path,
    before: list[tuple[str, str, int]],
    after: list[tuple[str, str, int]],
    mode: str,
) -> None:
    config = make_config(tmp_path, restatement=mode)

    def rows(spec: list[tuple[str, str, int]]) -> list[dict[str, object]]:
        return [make_row(id=k, account=a, amount=Decimal(n)) for k, a, n in spec]

    posted = stream_run(config, "p", "2026-10", rows(before)).posted()
    # an empty month with posted rows is blocked unless allowed (tested on its own)
    run = stream_run(config, "p", "2026-10", rows(after), posted=posted, allow_empty=True)
    stored = {key: json.loads(text) for key, text in posted.items()}
    digests = {t.row_key: t.booking["content_digest"] for t in run.traces if t.source and t.booking}
    rejected = {t.row_key for t in run.traces if t.rejection} - set(digests)
    expected = Counter[str]()
    for key, digest in digests.items():
        old = stored.get(key)
        kind = (
            "new" if old is None else "unchanged" if old["content_digest"] == digest else "changed"
        )
        expected[kind] += 1
    for key in set(posted) - set(digests):
        expected["held" if key in rejected else "gone"] += 1
    assert run.facts.changes == dict(expected)
    reversed_keys = list(set(posted) - set(digests) - rejected) + [
        k for k, d in digests.items() if k in stored and stored[k]["content_digest"] != d
    ]
    reversals = sum(len(stored[k]["lines"]) for k in reversed_keys) if mode == "corrections" else 0
    assert run.facts.reversals == reversals
    assert [line.generalumkehr for line in run.batch] == [True] * reversals + [None] * (
        len(run.batch) - reversals
    )
    # once accepted, the same rows again send nothing
    assert stream_run(config, "p", "2026-10", rows(after), posted=run.posted(posted)).batch == ()


def test_rows_from_an_async_source_give_the_same_run(tmp_path: Path) -> None:
    import asyncio
    from collections.abc import AsyncIterator

    config = make_config(tmp_path, detail_amount='detail_amount = "v.amount"')
    rows = [make_row(id=f"r{i}", doc=f"RE-{i}") for i in range(5)] + [make_row(id="r0")]

    async def source() -> AsyncIterator[dict[str, object]]:
        for row in rows:
            yield row

    with RunStream(config, "p", "2026-10", tmp_path / "async", now=NOW) as run:
        asyncio.run(run.add_async(source()))
        streamed = run.finish(v_totals(rows))
    expected = stream_run(config, "p", "2026-10", rows, totals=v_totals(rows))
    assert streamed.facts == expected.facts
    assert streamed.ready
    assert streamed.facts.rows_rejected == 1  # the repeated key
    assert [f.bookings for f in streamed.files] == [5]
    assert [f.path.name for f in streamed.files] == [f.path.name for f in expected.done.files]


def test_a_row_without_a_period_is_in_no_month_but_in_the_unassigned_bucket(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    rows = [
        make_row(id="a", amount=Decimal("10.00")),
        make_row(id="b", period=None, amount=Decimal("20.00")),
        make_row(id="c", period="Okt 2026", amount=Decimal("30.00")),
    ]
    for month in ("2026-10", "2026-11"):
        done = stream_run(config, "p", month, rows, out=tmp_path / month).done
        held = (tmp_path / month / "unassigned.jsonl").read_text("utf-8").splitlines()
        assert [json.loads(line)["row_key"] for line in held] == ["b", "c"]
        assert done.facts.completeness.rows_unassigned == 2
        assert done.facts.completeness.unassigned_values == ("", "Okt 2026")
        assert done.facts.rows_mapped == (1 if month == "2026-10" else 0)
    assert done.facts.completeness.warnings[0] == "Looker returned no rows for 2026-11"
    assert "no_period" in done.facts.summary()


def _digest_before_v2(text: str) -> str:
    """A posting's digest as runs before digest version 2 stored it: SHA-256 of the JSON
    list of every column's text but Generalumkehr, one line per line, 32 hex digits."""
    sha = hashlib.sha256()
    for line in posted_lines(text):
        values = [getattr(line, attr) for attr in COLUMN_ATTRS if attr != "generalumkehr"]
        texts = [None if value is None else str(value) for value in values]
        sha.update(json.dumps(texts, ensure_ascii=False, separators=(",", ":")).encode())
        sha.update(b"\n")
    return sha.hexdigest()[:32]


def test_a_period_posted_with_version_1_digests_is_unchanged_after_the_change(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    rows = [make_row(id=f"r{i}", amount=Decimal(100 + i)) for i in range(4)]
    posted = stream_run(config, "p", "2026-10", rows).posted()
    assert all(json.loads(t)["content_digest"].startswith("v2:") for t in posted.values())
    old = {}
    for key, text in posted.items():
        booking = json.loads(text)
        booking["content_digest"] = _digest_before_v2(text)
        old[key] = json.dumps(booking)

    again = stream_run(config, "p", "2026-10", rows, posted=old)
    assert again.facts.changes == {"unchanged": 4}
    assert again.batch == ()

    rows[1] = make_row(id="r1", amount=Decimal("999.00"))
    changed = stream_run(config, "p", "2026-10", rows, posted=old)
    assert changed.facts.changes == {"unchanged": 3, "changed": 1}
    assert [line.generalumkehr for line in changed.batch] == [True, None]


def test_lines_rendered_by_the_mapper_give_the_file_the_writer_would_write(
    demo_config: LoadedConfig, demo_rows: list[dict[str, object]], tmp_path: Path
) -> None:
    rows = [r for r in demo_rows if r["gl_monthly.period_month"] == "2026-10"]
    with RunStream(demo_config, "gl-monthly", "2026-10", tmp_path / "run", now=NOW) as run:
        outcomes = [run.mapper.map_row(row, i) for i, row in enumerate(rows)]
        mapped = [o for o in outcomes if isinstance(o, MappedRow) and o.lines]
        assert mapped
        assert all(o.texts is not None for o in mapped)
        run.add_many(rows)
        done = run.finish(totals_of(rows))
        assert done.ready, done.facts.blockers
        header = run.header
    lines = [line for o in mapped for line in o.lines]
    assert [t for o in mapped for t in o.texts or ()] == [line_renderer()(x) for x in lines]
    expected = write_split(header, lines, tmp_path / "writer", pipeline="gl-monthly")
    assert [f.path.name for f in done.files] == [f.path.name for f in expected]
    assert [f.path.read_bytes() for f in done.files] == [f.path.read_bytes() for f in expected]


def test_the_booking_spill_gives_back_lines_and_rendered_text_in_order(tmp_path: Path) -> None:
    line = sample_lines()[0]
    text = '1,00;"S";"";;;"";1200;8400;"";0101;"Grüße; ""quoted"" {x}"'
    spill = LineSpill(tmp_path / "spill.jsonl")
    spill.append(line_to_json(line))
    spill.append_rendered(date(2026, 10, 31), text)
    with pytest.raises(ValueError, match="line break"):
        spill.append_rendered(date(2026, 10, 31), "a\r\nb")
    assert list(spill.batch(5)) == [line, RenderedLine(date(2026, 10, 31), text, 5)]
    spill.close()
