"""Deterministic identities of a submitted file (pure)."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["file_sha256", "reference_id_for"]

_PREFIX = "mlc_"


def reference_id_for(filename: str) -> str:
    """The ``Reference-Id`` sent with ``filename``: ``mlc_`` plus the file's stem.

    EXTF file names carry a digest of client, period, part, pipeline and booking
    lines, so the same batch always gets the same name and id, and a different batch
    never does. The result stays within DATEV's pattern ``[-0-9A-Za-z_...]{0,254}``.
    """
    stem = filename[:-4] if filename.lower().endswith(".csv") else filename
    return _PREFIX + stem


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes, as 64 hex digits."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
