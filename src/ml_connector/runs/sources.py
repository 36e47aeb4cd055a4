"""Where a run's rows come from: the customer's Looker (the default) or JSON Lines files.

:class:`~ml_connector.runs.steps.LiveRunSteps` reads its rows through a
:class:`RowSource`; the steps themselves are the Looker source. :class:`JsonLinesRows`
reads rows files (what ``run --dry-run --rows/--totals`` and ``mapping preview --rows``
take), streamed in batches, and leaves what it has no file for to another source.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
from contextlib import aclosing, closing
from itertools import islice
from pathlib import Path
from typing import Protocol

from ml_connector.config import LoadedConfig
from ml_connector.engine.ports import RunSpec
from ml_connector.errors import DataError
from ml_connector.mapping.rows import iter_rows, read_rows
from ml_connector.runs.extract import UnassignedRows

__all__ = ["JsonLinesRows", "RowSource"]

#: rows per batch read from a rows file
BATCH_ROWS = 10_000


class RowSource(Protocol):
    """The period's detail rows (in batches) and its tie-out totals."""

    def stream_rows(
        self, config: LoadedConfig, spec: RunSpec, *, limit: int | None = None
    ) -> AsyncGenerator[list[dict[str, object]], None]:
        """The detail rows as they arrive; ``limit`` asks for no more than that many."""
        ...

    async def totals(self, config: LoadedConfig, spec: RunSpec) -> list[dict[str, object]] | None:
        """The control totals, ``None`` when the pipeline has none (or they are not read)."""
        ...

    async def unassigned(self, config: LoadedConfig, spec: RunSpec) -> UnassignedRows:
        """The source's rows whose period is empty or unreadable (no month reads them)."""
        ...


def _batches(path: Path) -> Generator[list[dict[str, object]], None, None]:
    rows = iter_rows(path)
    with closing(rows):
        while batch := list(islice(rows, BATCH_ROWS)):
            yield batch


def _read_error(path: Path, exc: OSError) -> DataError:
    return DataError(
        f"cannot read rows: {exc.strerror or exc}",
        location=str(path),
        hint="give a readable JSON Lines file",
    )


class JsonLinesRows:
    """Rows (and optionally totals) from JSON Lines files.

    Without a ``rows`` file the rows come from ``fallback`` (e.g. Looker), and so do
    the totals when no ``totals`` file is given; with a ``rows`` file and no
    ``totals`` file there are no totals (a pipeline that configures them is blocked).
    """

    def __init__(
        self, rows: Path | None, totals: Path | None = None, *, fallback: RowSource
    ) -> None:
        self.rows = rows
        self.totals_file = totals
        self.fallback = fallback

    async def stream_rows(
        self, config: LoadedConfig, spec: RunSpec, *, limit: int | None = None
    ) -> AsyncGenerator[list[dict[str, object]], None]:
        """The rows file in batches of :data:`BATCH_ROWS` (or the fallback's rows)."""
        if self.rows is None:
            async with aclosing(self.fallback.stream_rows(config, spec, limit=limit)) as rows:
                async for batch in rows:
                    yield batch
            return
        batches = _batches(self.rows)
        try:
            while batch := await asyncio.to_thread(next, batches, []):
                yield batch
        except OSError as exc:
            raise _read_error(self.rows, exc) from None
        finally:
            batches.close()

    async def totals(self, config: LoadedConfig, spec: RunSpec) -> list[dict[str, object]] | None:
        """The totals file, else the fallback's totals when the rows are not from a file."""
        if self.totals_file is not None:
            try:
                return await asyncio.to_thread(read_rows, self.totals_file)
            except OSError as exc:
                raise _read_error(self.totals_file, exc) from None
        if self.rows is None:
            return await self.fallback.totals(config, spec)
        return None

    async def unassigned(self, config: LoadedConfig, spec: RunSpec) -> UnassignedRows:
        """Nothing from a rows file (the run holds its rows without a period itself),
        else the fallback's."""
        if self.rows is None:
            return await self.fallback.unassigned(config, spec)
        return UnassignedRows([], 0)
