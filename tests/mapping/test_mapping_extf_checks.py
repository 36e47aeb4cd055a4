"""The mapper's EXTF line check says what the EXTF validator says, line by line."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from ml_connector.formats.extf.models import BookingLine
from ml_connector.formats.extf.samples import sample_header, sample_lines
from ml_connector.formats.extf.validate import validate_line
from ml_connector.mapping.extf_checks import line_problems

HEADER = sample_header()


def _line(**changes: object) -> BookingLine:
    return dataclasses.replace(sample_lines()[0], **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"buchungstext": "x" * 61},
        {"belegdatum": date(2023, 12, 31)},
        {"konto": 123456},
        {"wkz_umsatz": "USD"},
        {"kurs": Decimal("1.1")},
        {"umsatz": Decimal("0.00")},
        {"belegfeld_1": "Ä" * 40},
        {"bu_schluessel": "abc"},
        {"kost1": "a;b"},
        {"umsatz": "12"},
    ],
)
def test_the_mapper_check_and_the_validator_agree(changes: dict[str, object]) -> None:
    line = _line(**changes)
    expected = [f"{p.heading or p.location}: {p.message}" for p in validate_line(line, HEADER)]
    assert line_problems(line, HEADER, HEADER.sachkontenlaenge) == expected
    for line in sample_lines():
        assert line_problems(line, HEADER, HEADER.sachkontenlaenge) == []
