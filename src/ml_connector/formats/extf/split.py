"""Splitting a batch into uploadable files, with deterministic file names.

DATEV accepts at most 99,999 bookings and 50 MB per file, and a file's period must
lie inside one fiscal year (``Belegdatum`` has no year).  :func:`write_split` streams
the lines into as many files as needed: one group of parts per fiscal year touched by
the header period, a new part whenever a limit would be crossed.  Parts are written to
temporary files and renamed only when the whole input was written without an error,
so an invalid line anywhere leaves no file behind.

File names are ``EXTF_`` + at most 51 characters + ``.csv``, built only from what
identifies the batch: client, period, part number, pipeline and a digest of all of
them plus the booking lines (not the creation timestamp), so the same batch always
gets the same name and a different batch never does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import tempfile
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO

from ml_connector.formats.extf.models import BatchHeader, BookingLine, RenderedLine
from ml_connector.formats.extf.validate import (
    MAX_BOOKINGS,
    MAX_BYTES,
    Encoding,
    InvalidBatchError,
    Problem,
    fiscal_year_end,
    validate_header,
)
from ml_connector.formats.extf.writer import BatchWriter

__all__ = ["WrittenFile", "extf_filename", "fiscal_year_start", "write_split"]

_NAME_BUDGET = 51
_DIGEST_CHARS = 10


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """One file written by :func:`write_split`."""

    path: Path
    header: BatchHeader
    part: int
    bookings: int
    size: int
    digest: str


def fiscal_year_start(day: date, wj_beginn: date) -> date:
    """Start of the fiscal year (anchored at ``wj_beginn``'s month and day) containing ``day``."""

    def anchor(year: int) -> date:
        try:
            return wj_beginn.replace(year=year)
        except ValueError:  # 29 February
            return date(year, 3, 1)

    start = anchor(day.year)
    return start if start <= day else anchor(day.year - 1)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]+", "-", text).strip("-")


def extf_filename(header: BatchHeader, *, pipeline: str, part: int, content_digest: str) -> str:
    """``EXTF_<client>_<period>_<part>_<pipeline>_<digest>.csv`` within DATEV's 51 characters.

    The pipeline name is shortened to fit; the digest covers the full pipeline name,
    client, period, part and ``content_digest`` (of the booking lines), so two batches
    that differ in anything get different names.
    """
    identity = "\n".join(
        (
            str(header.beraternummer),
            str(header.mandantennummer),
            header.datum_vom.isoformat(),
            header.datum_bis.isoformat(),
            str(part),
            pipeline,
            content_digest,
        )
    )
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]
    fixed = (
        f"{header.beraternummer}-{header.mandantennummer}"
        f"_{header.datum_vom:%y%m%d}-{header.datum_bis:%y%m%d}_{part:03d}"
    )
    room = _NAME_BUDGET - len(fixed) - len(digest) - 2  # two '_' separators
    slug = _slug(pipeline)[: max(room, 0)].strip("-")
    stem = f"{fixed}_{slug}_{digest}" if slug else f"{fixed}_{digest}"
    return f"EXTF_{stem}.csv"


class _Part:
    """A part being written to a temporary file."""

    def __init__(
        self, header: BatchHeader, number: int, directory: Path, **options: object
    ) -> None:
        fd, name = tempfile.mkstemp(prefix=".extf-", suffix=".tmp", dir=directory)
        self.tmp = Path(name)
        self.stream: BinaryIO = os.fdopen(fd, "wb")
        self.header = header
        self.number = number
        self.writer = BatchWriter(header, self.stream, track_digest=True, **options)  # type: ignore[arg-type]

    def close(self) -> None:
        self.writer.flush()
        self.stream.close()


def write_split(
    header: BatchHeader,
    lines: Iterable[BookingLine | RenderedLine],
    out_dir: str | Path,
    *,
    pipeline: str,
    encoding: Encoding = "utf-8-sig",
    validate: bool = True,
    automatic_accounts: Collection[int] | None = None,
    expected_client_id: str | None = None,
    max_bookings: int = MAX_BOOKINGS,
    max_bytes: int = MAX_BYTES,
) -> list[WrittenFile]:
    """Stream ``lines`` into EXTF files under ``out_dir``; return them in order.

    ``header`` describes the whole batch; its period may span several fiscal years
    (anchored at ``wj_beginn``): each file gets the part of the period inside its
    fiscal year.  Raises :class:`InvalidBatchError` (and writes nothing) when a line is
    invalid or outside the period.  A :class:`RenderedLine` (checked when it was
    rendered) is written as it is: each line is rendered and checked once.
    """
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    if validate:
        # the whole-batch header may span fiscal years; each part header is checked below
        problems = [
            p
            for p in validate_header(header, expected_client_id=expected_client_id)
            if p.rule != "header.fiscal_year"
        ]
        if problems:
            raise InvalidBatchError(problems)
    options: dict[str, object] = {
        "encoding": encoding,
        "validate": validate,
        "automatic_accounts": automatic_accounts,
        "expected_client_id": expected_client_id,
    }
    open_parts: dict[date, _Part] = {}
    done: list[_Part] = []
    parts_per_year: dict[date, int] = {}
    try:
        for index, line in enumerate(lines):
            booked = line.belegdatum
            if not isinstance(booked, date) or not header.datum_vom <= booked <= header.datum_bis:
                raise InvalidBatchError(
                    [
                        Problem(
                            "row.belegdatum_period",
                            f"Belegdatum {booked} of booking {index + 1} is outside the period "
                            f"{header.datum_vom:%d.%m.%Y}-{header.datum_bis:%d.%m.%Y}",
                            "put the booking into the batch of its period",
                            None,
                            10,
                            "Belegdatum",
                            str(booked),
                        )
                    ]
                )
            year = fiscal_year_start(booked, header.wj_beginn)
            part = open_parts.get(year)
            if part is None:
                part = open_parts[year] = _new_part(
                    header, year, parts_per_year, directory, options
                )
            text = _render(part, line, index)
            if part.writer.bookings >= max_bookings or _too_big(part.writer, text, max_bytes):
                part.close()
                done.append(part)
                part = open_parts[year] = _new_part(
                    header, year, parts_per_year, directory, options
                )
                text = _render(part, line, index)
            part.writer.append(text)
        for part in open_parts.values():
            part.close()
            done.append(part)
        return _finish(done, directory, pipeline)
    except BaseException:
        for part in [*done, *open_parts.values()]:
            part.stream.close()
            part.tmp.unlink(missing_ok=True)
        raise


def _render(part: _Part, line: BookingLine | RenderedLine, index: int) -> str:
    try:
        if isinstance(line, RenderedLine):
            return part.writer.rendered(line)
        return part.writer.render(line)
    except InvalidBatchError as exc:
        where = f" (booking {index + 1} of the input, part {part.number})"
        raise InvalidBatchError(
            [dataclasses.replace(p, message=p.message + where) for p in exc.problems]
        ) from None


def _too_big(writer: BatchWriter, text: str, max_bytes: int) -> bool:
    if writer.bookings == 0:
        return False
    estimate = writer.bytes_written + writer.pending_bytes_upper_bound() + 4 * (len(text) + 2)
    if estimate <= max_bytes:
        return False
    writer.flush()
    return writer.bytes_written + writer.encoded_size(text) > max_bytes


def _new_part(
    header: BatchHeader,
    year: date,
    parts_per_year: dict[date, int],
    directory: Path,
    options: dict[str, object],
) -> _Part:
    number = parts_per_year.get(year, 0) + 1
    parts_per_year[year] = number
    part_header = dataclasses.replace(
        header,
        wj_beginn=year,
        datum_vom=max(header.datum_vom, year),
        datum_bis=min(header.datum_bis, fiscal_year_end(year)),
    )
    return _Part(part_header, number, directory, **options)


def _finish(parts: list[_Part], directory: Path, pipeline: str) -> list[WrittenFile]:
    written = []
    parts.sort(key=lambda p: (p.header.datum_vom, p.number))
    for part in parts:
        digest = part.writer.digest
        name = extf_filename(
            part.header, pipeline=pipeline, part=part.number, content_digest=digest
        )
        target = directory / name
        os.replace(part.tmp, target)
        written.append(
            WrittenFile(
                path=target,
                header=part.header,
                part=part.number,
                bookings=part.writer.bookings,
                size=part.writer.bytes_written,
                digest=digest,
            )
        )
    return written
