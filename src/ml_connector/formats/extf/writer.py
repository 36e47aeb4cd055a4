"""Streaming writer: header + booking models -> one EXTF file (bytes).

Lines are pulled from an iterator, rendered, buffered in chunks and encoded; the
writer never holds more than one chunk.  ``;`` separates fields, every line ends with
CR LF, text is NFC-normalised and quoted with inner quotes doubled, numbers use a
decimal comma.  The default encoding is UTF-8 with byte-order mark (DATEV reads
Windows-1252 unless a BOM says otherwise); with ``encoding="cp1252"`` a character
Windows-1252 cannot represent is an :class:`InvalidBatchError` naming line, column
and character, never a silent ``?``.

With ``validate=True`` (the default) the header and every line are checked before
they are written and the first invalid line raises :class:`InvalidBatchError`;
:func:`write_file` then leaves no file behind.  ``validate=False`` is for lines that
were validated already (it skips the per-field checks on the hot path).
"""

from __future__ import annotations

import codecs
import hashlib
import io
import itertools
import os
import tempfile
from collections.abc import Collection, Iterable
from datetime import date
from pathlib import Path
from typing import BinaryIO

from ml_connector.formats.extf.columns import COLUMNS
from ml_connector.formats.extf.models import BatchHeader, BookingLine, RenderedLine
from ml_connector.formats.extf.render import (
    checked_line_renderer,
    header_line,
    headings_line,
    line_renderer,
)
from ml_connector.formats.extf.spec import HEADER_FIELD_NAMES
from ml_connector.formats.extf.validate import (
    MAX_BOOKINGS,
    Encoding,
    InvalidBatchError,
    Problem,
    validate_header,
    validate_line,
)

__all__ = ["BatchWriter", "Encoding", "render_bytes", "write_batch", "write_file"]

_CRLF = "\r\n"


class BatchWriter:
    """Writes one EXTF file to a binary stream, line by line.

    With ``track_digest`` the writer keeps ``digest`` (SHA-256 of the encoded booking
    lines, hex), which identifies the content independently of the creation time.
    """

    def __init__(
        self,
        header: BatchHeader,
        out: BinaryIO,
        *,
        encoding: Encoding = "utf-8-sig",
        validate: bool = True,
        automatic_accounts: Collection[int] | None = None,
        expected_client_id: str | None = None,
        chunk_lines: int = 1024,
        track_digest: bool = False,
    ) -> None:
        if encoding not in ("utf-8-sig", "cp1252"):
            raise ValueError(f"unsupported encoding {encoding!r}; use 'utf-8-sig' or 'cp1252'")
        if validate:
            problems = validate_header(header, expected_client_id=expected_client_id)
            if problems:
                raise InvalidBatchError(problems)
        self.header = header
        self.encoding: Encoding = encoding
        self.validate = validate
        self.automatic_accounts = automatic_accounts
        self._out = out
        self._codec = "utf-8" if encoding == "utf-8-sig" else "cp1252"
        self._render = line_renderer()
        self._checked = checked_line_renderer()
        self._checked_args = (
            header.sachkontenlaenge + 1,
            header.datum_vom,
            header.datum_bis,
            frozenset(automatic_accounts) if automatic_accounts else None,
        )
        self._buffer: list[str] = []
        self._buffer_chars = 0
        self._chunk_lines = chunk_lines
        self._hash = hashlib.sha256() if track_digest else None
        #: booking lines accepted so far
        self.bookings = 0
        #: bytes written to ``out`` so far (buffered lines not included)
        self.bytes_written = 0
        preamble = codecs.BOM_UTF8 if encoding == "utf-8-sig" else b""
        head = self._encode_lines([header_line(header), headings_line()], first_line=1)
        self._emit(preamble + head, digest=False)

    # -- rendering ------------------------------------------------------------------

    def render(self, line: BookingLine) -> str:
        """The text of ``line`` as the next booking line (validated unless disabled)."""
        return self._render_one(line, self.bookings + 3)

    def rendered(self, line: RenderedLine) -> str:
        """The text of a line the compiled checks accepted already (see
        :class:`~ml_connector.formats.extf.models.RenderedLine`), as the next booking line.

        Its Belegdatum is checked against the period; a line checked under other rules
        (another Sachkontenlänge, or this writer checks automatic accounts) is refused:
        pass it as a :class:`BookingLine`.
        """
        if not self.validate:
            return line.text
        maxacc, vom, bis, automatic = self._checked_args
        if line.account_digits != maxacc or automatic is not None:
            raise ValueError("the line was rendered under other rules; pass it as a BookingLine")
        if not vom <= line.belegdatum <= bis:
            raise InvalidBatchError([_outside_period(line.belegdatum, self.header, self.bookings)])
        return line.text

    def _render_one(self, line: BookingLine, number: int) -> str:
        if self.validate:
            try:
                text = self._checked(line, *self._checked_args)
            except Exception:  # a value of the wrong type: let the validator name it
                text = None
            if text is not None:
                return text
            problems = validate_line(
                line,
                self.header,
                line_number=number,
                encoding=self.encoding,
                automatic_accounts=self.automatic_accounts,
            )
            if problems:
                raise InvalidBatchError(problems)
        try:
            return self._render(line)
        except Exception as exc:  # a wrong type on the unvalidated path
            problems = validate_line(line, self.header, line_number=number, encoding=self.encoding)
            if problems:
                raise InvalidBatchError(problems) from exc
            raise

    def pending_bytes_upper_bound(self) -> int:
        """Upper bound of the bytes the buffered lines will take."""
        per_char = 4 if self._codec == "utf-8" else 1
        return self._buffer_chars * per_char

    def append(self, text: str) -> None:
        """Queue one rendered booking line."""
        self._buffer.append(text)
        self._buffer_chars += len(text) + 2
        self.bookings += 1
        if len(self._buffer) >= self._chunk_lines:
            self.flush()

    def write(self, line: BookingLine) -> None:
        """Render and queue one booking line."""
        self.append(self.render(line))

    def write_all(self, lines: Iterable[BookingLine], *, max_bookings: int | None = None) -> None:
        """Render, check and write every line of ``lines`` (the streaming hot loop).

        The loop renders in chunks of ``chunk_lines``; a line the one-pass renderer
        cannot take (a rule failed or a value has the wrong type) goes through
        :meth:`render`, which raises the located :class:`InvalidBatchError`.
        """
        limit = max_bookings if max_bookings is not None else -1
        buffer, chunk, slow = self._buffer, self._chunk_lines, self._render_one
        number = self.bookings + 2
        repeat = itertools.repeat
        if self.validate:
            # one pass formats and checks; None marks a line the detailed validator must see
            checked, (maxacc, vom, bis, am) = self._checked, self._checked_args

            def render(batch: list[BookingLine]) -> list[str | None]:
                return list(
                    map(checked, batch, repeat(maxacc), repeat(vom), repeat(bis), repeat(am))
                )
        else:
            plain = self._render

            def render(batch: list[BookingLine]) -> list[str | None]:
                return list(map(plain, batch))

        source = iter(lines)
        while True:
            batch = list(itertools.islice(source, chunk))
            if not batch:
                break
            if limit >= 0 and number - 2 + len(batch) > limit:
                self._too_many(limit)
            try:
                texts = render(batch)
            except Exception:  # a value of the wrong type somewhere in the chunk
                texts = [None] * len(batch)
            if None in texts:
                for offset, text in enumerate(texts):
                    buffer.append(
                        slow(batch[offset], number + 1 + offset) if text is None else text
                    )
            else:
                buffer.extend(texts)  # type: ignore[arg-type]
            number += len(batch)
            self.bookings = number - 2
            self.flush()
        self.bookings = number - 2
        self.flush()

    def _too_many(self, limit: int) -> None:
        raise InvalidBatchError(
            [
                Problem(
                    "file.rows",
                    f"more than {limit} bookings for one file",
                    "split the batch (ml_connector.formats.extf.split.write_split)",
                    limit + 3,
                )
            ]
        )

    def encoded_size(self, text: str) -> int:
        """Bytes ``text`` plus line end will take in the file."""
        return len((text + _CRLF).encode(self._codec, errors="replace"))

    def flush(self) -> None:
        """Encode and write the buffered lines."""
        if not self._buffer:
            return
        first = self.bookings - len(self._buffer) + 3
        data = self._encode_lines(self._buffer, first_line=first)
        self._buffer.clear()
        self._buffer_chars = 0
        self._emit(data, digest=True)

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the booking lines written so far (needs ``track_digest``)."""
        if self._hash is None:
            raise RuntimeError("BatchWriter was created without track_digest=True")
        return self._hash.hexdigest()

    # -- internals ------------------------------------------------------------------

    def _emit(self, data: bytes, *, digest: bool) -> None:
        self._out.write(data)
        self.bytes_written += len(data)
        if digest and self._hash is not None:
            self._hash.update(data)

    def _encode_lines(self, lines: list[str], *, first_line: int) -> bytes:
        text = _CRLF.join(lines) + _CRLF
        try:
            return text.encode(self._codec)
        except UnicodeEncodeError:
            pass
        for offset, line in enumerate(lines):
            try:
                line.encode(self._codec)
            except UnicodeEncodeError as exc:
                raise InvalidBatchError(
                    [_encoding_problem(line, exc.start, first_line + offset)]
                ) from None
        raise AssertionError(
            "unreachable: chunk failed to encode but no line did"
        )  # pragma: no cover


def _outside_period(booked: date, header: BatchHeader, bookings: int) -> Problem:
    return Problem(
        "row.belegdatum_period",
        f"Belegdatum {booked} is outside the period "
        f"{header.datum_vom:%d.%m.%Y}-{header.datum_bis:%d.%m.%Y}",
        "put the booking into the batch of its period",
        bookings + 3,
        10,
        "Belegdatum",
        str(booked),
    )


def _encoding_problem(line: str, position: int, number: int) -> Problem:
    char = line[position]
    column, in_quotes = 1, False
    for ch in line[:position]:
        if ch == '"':
            in_quotes = not in_quotes
        elif ch == ";" and not in_quotes:
            column += 1
    if number == 1:
        heading = HEADER_FIELD_NAMES[column - 1] if column <= len(HEADER_FIELD_NAMES) else None
    else:
        heading = COLUMNS[column - 1].heading if column <= len(COLUMNS) else None
    return Problem(
        "row.encoding" if number > 2 else "header.encoding",
        f"character {char!r} (U+{ord(char):04X}) cannot be written in Windows-1252",
        "write UTF-8 with BOM (the default) or replace the character",
        number,
        column,
        heading,
        char,
    )


def write_batch(
    header: BatchHeader,
    lines: Iterable[BookingLine],
    out: BinaryIO,
    *,
    encoding: Encoding = "utf-8-sig",
    validate: bool = True,
    automatic_accounts: Collection[int] | None = None,
    expected_client_id: str | None = None,
    max_bookings: int | None = MAX_BOOKINGS,
) -> int:
    """Write ``header`` and ``lines`` as one EXTF file to ``out``; return the booking count.

    Raises :class:`InvalidBatchError` on the first invalid line (the stream then holds
    a partial file: write to a file with :func:`write_file` to get all-or-nothing),
    and when more than ``max_bookings`` lines arrive (DATEV's limit; ``None`` lifts it,
    e.g. for benchmarks; :func:`ml_connector.formats.extf.split.write_split` splits instead).
    """
    writer = BatchWriter(
        header,
        out,
        encoding=encoding,
        validate=validate,
        automatic_accounts=automatic_accounts,
        expected_client_id=expected_client_id,
    )
    writer.write_all(lines, max_bookings=max_bookings)
    writer.flush()
    return writer.bookings


def render_bytes(
    header: BatchHeader,
    lines: Iterable[BookingLine],
    *,
    encoding: Encoding = "utf-8-sig",
    validate: bool = True,
    automatic_accounts: Collection[int] | None = None,
) -> bytes:
    """The EXTF file for ``header`` and ``lines`` as bytes (small batches, tests)."""
    buffer = io.BytesIO()
    write_batch(
        header,
        lines,
        buffer,
        encoding=encoding,
        validate=validate,
        automatic_accounts=automatic_accounts,
    )
    return buffer.getvalue()


def write_file(
    header: BatchHeader,
    lines: Iterable[BookingLine],
    path: str | Path,
    *,
    encoding: Encoding = "utf-8-sig",
    validate: bool = True,
    automatic_accounts: Collection[int] | None = None,
    max_bookings: int | None = MAX_BOOKINGS,
) -> int:
    """Write the file at ``path`` all-or-nothing (temporary file, then rename)."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".extf-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            count = write_batch(
                header,
                lines,
                out,
                encoding=encoding,
                validate=validate,
                automatic_accounts=automatic_accounts,
                max_bookings=max_bookings,
            )
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count
