"""Splitting into uploadable files and deterministic file names."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from extf_helpers import header, line

from ml_connector.formats.extf.models import BatchHeader, BookingLine, RenderedLine
from ml_connector.formats.extf.reader import read_file
from ml_connector.formats.extf.render import checked_line_renderer
from ml_connector.formats.extf.samples import sample_header, sample_lines
from ml_connector.formats.extf.split import extf_filename, fiscal_year_start, write_split
from ml_connector.formats.extf.validate import InvalidBatchError, validate_file

NAME = re.compile(r"EXTF_.{0,51}\.csv")


def test_one_file_for_a_small_batch(tmp_path: Path) -> None:
    written = write_split(sample_header(), sample_lines(), tmp_path, pipeline="general-ledger")
    assert len(written) == 1
    assert written[0].bookings == 21
    assert NAME.fullmatch(written[0].path.name)
    assert validate_file(written[0].path).valid
    assert read_file(written[0].path).lines == sample_lines()


def test_split_by_booking_count(tmp_path: Path) -> None:
    written = write_split(sample_header(), sample_lines(), tmp_path, pipeline="gl", max_bookings=8)
    assert [w.bookings for w in written] == [8, 8, 5]
    assert [w.part for w in written] == [1, 2, 3]
    assert len({w.path for w in written}) == 3
    rejoined = [b for w in written for b in read_file(w.path).lines]
    assert rejoined == sample_lines()
    assert all(validate_file(w.path).valid for w in written)


def test_split_by_size(tmp_path: Path) -> None:
    limit = 5000
    written = write_split(sample_header(), sample_lines(), tmp_path, pipeline="gl", max_bytes=limit)
    assert len(written) > 1
    assert all(w.path.stat().st_size <= limit for w in written)
    assert all(w.size == w.path.stat().st_size for w in written)
    assert sum(w.bookings for w in written) == 21


def test_no_file_period_crosses_a_fiscal_year(tmp_path: Path) -> None:
    h = header(wj_beginn=date(2023, 7, 1), datum_vom=date(2024, 6, 1), datum_bis=date(2024, 7, 31))
    lines = [
        line(belegdatum=date(2024, 6, 15)),
        line(belegdatum=date(2024, 7, 2)),
        line(belegdatum=date(2024, 6, 30)),
    ]
    written = write_split(h, lines, tmp_path, pipeline="gl")
    assert [
        (w.header.wj_beginn, w.header.datum_vom, w.header.datum_bis, w.bookings) for w in written
    ] == [
        (date(2023, 7, 1), date(2024, 6, 1), date(2024, 6, 30), 2),
        (date(2024, 7, 1), date(2024, 7, 1), date(2024, 7, 31), 1),
    ]
    assert all(validate_file(w.path).valid for w in written)


def test_fiscal_year_start() -> None:
    assert fiscal_year_start(date(2024, 6, 30), date(2020, 7, 1)) == date(2023, 7, 1)
    assert fiscal_year_start(date(2024, 7, 1), date(2020, 7, 1)) == date(2024, 7, 1)
    assert fiscal_year_start(date(2024, 1, 1), date(2024, 1, 1)) == date(2024, 1, 1)


def test_invalid_line_leaves_no_file(tmp_path: Path) -> None:
    lines = [*sample_lines(), line(belegfeld_1="RE 1")]
    with pytest.raises(InvalidBatchError) as info:
        write_split(sample_header(), lines, tmp_path, pipeline="gl", max_bookings=8)
    assert "booking 22 of the input" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_line_outside_the_period_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidBatchError):
        write_split(sample_header(), [line(belegdatum=date(2024, 5, 1))], tmp_path, pipeline="gl")
    assert list(tmp_path.iterdir()) == []


def test_same_batch_same_names_regardless_of_creation_time(tmp_path: Path) -> None:
    first = write_split(
        sample_header(), sample_lines(), tmp_path / "a", pipeline="gl", max_bookings=10
    )
    later = sample_header(erzeugt_am=datetime(2025, 1, 1, 12, 0))
    second = write_split(later, sample_lines(), tmp_path / "b", pipeline="gl", max_bookings=10)
    assert [w.path.name for w in first] == [w.path.name for w in second]


def test_different_batches_get_different_names(tmp_path: Path) -> None:
    base = write_split(sample_header(), sample_lines(), tmp_path / "0", pipeline="gl")[0].path.name
    changed = [*sample_lines()[:-1], dataclasses.replace(sample_lines()[-1], buchungstext="anders")]
    others = [
        write_split(sample_header(), changed, tmp_path / "1", pipeline="gl")[0].path.name,
        write_split(sample_header(), sample_lines(), tmp_path / "2", pipeline="gl2")[0].path.name,
        write_split(header(mandantennummer=55004), sample_lines(), tmp_path / "3", pipeline="gl")[
            0
        ].path.name,
    ]
    assert len({base, *others}) == 4


def test_filename_fits_datev_pattern_for_long_inputs() -> None:
    h = header(beraternummer=9999999, mandantennummer=99999)
    name = extf_filename(
        h, pipeline="a very long pipeline name äöü / with: odd chars", part=123, content_digest="x"
    )
    assert NAME.fullmatch(name), name
    assert re.fullmatch(r"EXTF_[A-Za-z0-9_-]+\.csv", name)
    assert name.startswith("EXTF_9999999-99999_240301-240331_123_")


def test_inverted_period_is_rejected_before_anything_is_written(tmp_path: Path) -> None:
    h = header(datum_vom=date(2024, 3, 31), datum_bis=date(2024, 3, 1))
    with pytest.raises(InvalidBatchError) as info:
        write_split(h, sample_lines(), tmp_path, pipeline="gl")
    assert info.value.problems[0].rule == "header.period"
    assert list(tmp_path.iterdir()) == []


def _rendered(h: BatchHeader, lines: list[BookingLine]) -> list[BookingLine | RenderedLine]:
    """The lines as the mapper hands them over: rendered by the compiled checks."""
    digits, check = h.sachkontenlaenge + 1, checked_line_renderer()
    out: list[BookingLine | RenderedLine] = []
    for item in lines:
        text = check(item, digits, h.datum_vom, h.datum_bis, None)
        assert text is not None
        out.append(RenderedLine(item.belegdatum, text, digits))
    return out


def test_rendered_lines_write_the_same_file_as_booking_lines(tmp_path: Path) -> None:
    h = sample_header()
    plain = write_split(h, sample_lines(), tmp_path / "plain", pipeline="gl", max_bookings=8)
    mixed = [*sample_lines()[:3], *_rendered(h, sample_lines()[3:])]
    rendered = write_split(h, mixed, tmp_path / "rendered", pipeline="gl", max_bookings=8)
    assert [w.path.name for w in rendered] == [w.path.name for w in plain]
    assert [w.path.read_bytes() for w in rendered] == [w.path.read_bytes() for w in plain]


def test_a_rendered_line_outside_the_period_writes_nothing(tmp_path: Path) -> None:
    h = sample_header()
    [item] = _rendered(h, sample_lines()[:1])
    assert isinstance(item, RenderedLine)
    late = dataclasses.replace(item, belegdatum=h.datum_bis.replace(year=h.datum_bis.year + 1))
    with pytest.raises(InvalidBatchError, match="outside the period"):
        write_split(h, [late], tmp_path, pipeline="gl")
    assert list(tmp_path.iterdir()) == []


def test_a_line_rendered_under_other_rules_is_refused(tmp_path: Path) -> None:
    h = sample_header()
    [item] = _rendered(h, sample_lines()[:1])
    assert isinstance(item, RenderedLine)
    other = dataclasses.replace(item, account_digits=item.account_digits + 1)
    with pytest.raises(ValueError, match="other rules"):
        write_split(h, [other], tmp_path, pipeline="gl")
    with pytest.raises(ValueError, match="other rules"):
        write_split(h, [item], tmp_path, pipeline="gl", automatic_accounts={1776})
    assert list(tmp_path.iterdir()) == []
