"""Bundled sample data: 21 realistic German bookings of one month (SKR03).

Used by ``ml-connector demo`` and the tests.  The rows are keyed by the column
headings of the spec table, exactly as ``ml-connector extf render`` expects them.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from importlib import resources

from ml_connector.formats.extf.models import BatchHeader, BookingLine
from ml_connector.formats.extf.rows import line_from_row

__all__ = [
    "SAMPLE_AUTOMATIC_ACCOUNTS",
    "SAMPLE_ROWS_RESOURCE",
    "sample_header",
    "sample_lines",
    "sample_rows",
]

#: package resource holding the sample rows (JSON Lines)
SAMPLE_ROWS_RESOURCE = "examples/buchungen_2024_03.jsonl"
#: the automatic (AM) revenue/expense accounts the sample uses (SKR03)
SAMPLE_AUTOMATIC_ACCOUNTS = frozenset({3400, 8300, 8400})


def sample_rows() -> list[dict[str, str]]:
    """The sample rows, keyed by column heading."""
    text = (
        resources.files("ml_connector.formats.extf")
        .joinpath(SAMPLE_ROWS_RESOURCE)
        .read_text("utf-8")
    )
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def sample_header(*, erzeugt_am: datetime | None = None) -> BatchHeader:
    """Header for the sample rows: DATEV's sample client 29098-55003, March 2024, SKR03."""
    return BatchHeader(
        beraternummer=29098,
        mandantennummer=55003,
        wj_beginn=date(2024, 1, 1),
        sachkontenlaenge=4,
        datum_vom=date(2024, 3, 1),
        datum_bis=date(2024, 3, 31),
        festschreibung=False,
        skr="03",
        erzeugt_am=erzeugt_am or datetime(2024, 4, 2, 9, 30, 0),
        bezeichnung="Looker Hauptbuch 03-2024",
        diktatkuerzel="ML",
        herkunft="ML",
        exportiert_von="mlconnector",
        anwendungsinformation="ml-connector",
    )


def sample_lines() -> list[BookingLine]:
    """The sample rows as booking models."""
    header = sample_header()
    return [
        line_from_row(row, row_number=n, header=header) for n, row in enumerate(sample_rows(), 1)
    ]
