"""File-name rules of the DATEV APIs, applied before anything is sent."""

from __future__ import annotations

import re
import unicodedata

from ml_connector.errors import DataError

__all__ = [
    "DOCUMENT_MAX_BYTES",
    "EXTF_FILENAME",
    "EXTF_MAX_BYTES",
    "check_extf_filename",
    "upload_filename",
]

#: extf-files ``Filename`` header pattern (matched against the whole name)
EXTF_FILENAME = re.compile(r"EXTF_.{0,51}\.csv")
EXTF_MAX_BYTES = 50 * 1024 * 1024
#: documents and dxso-jobs file limit
DOCUMENT_MAX_BYTES = 20 * 1024 * 1024
_ALLOWED = re.compile(r"[^ &()+\-._0-9A-Za-z\u00c0-\u00ff]")


def check_extf_filename(filename: str) -> str:
    """Return ``filename`` if DATEV accepts it as EXTF ``Filename``, else raise DataError.

    Besides the pattern the name must be ASCII: it travels in an HTTP header.
    """
    if not EXTF_FILENAME.fullmatch(filename) or not filename.isascii():
        raise DataError(
            "EXTF file name not accepted by DATEV",
            location="Filename",
            value=filename,
            hint="use EXTF_ + at most 51 ASCII characters + .csv, e.g. EXTF_BS_2026_01.csv",
        )
    return filename


def upload_filename(filename: str) -> str:
    """A documents/dxso file name as DATEV stores it: NFC, whitelisted characters only.

    DATEV does not support decomposed characters and replaces characters outside
    ``Space &()+-._ 0-9 A-Z a-z À-ÿ`` with ``_``; doing it here keeps our records equal
    to DATEV's.
    """
    return _ALLOWED.sub("_", unicodedata.normalize("NFC", filename))
