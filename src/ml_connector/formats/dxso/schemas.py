"""Validation against DATEV's DXSO v6.0 XSDs (shipped in ``ml_connector.datev.dxso_schemas``).

The schemas are loaded once per process, when first needed. :func:`entry_problems` checks
a single entry element against its ledger's type (so one bad row can be held before any
file is written); :func:`validate_ledger` and :func:`validate_document` check whole files.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ml_connector.errors import DataError
from ml_connector.formats.dxso.models import Ledger

if TYPE_CHECKING:
    import xmlschema

__all__ = [
    "DOCUMENT_NS",
    "LEDGER_NS",
    "entry_problems",
    "validate_document",
    "validate_ledger",
]

LEDGER_NS = "http://xml.datev.de/bedi/tps/ledger/v060"
DOCUMENT_NS = "http://xml.datev.de/bedi/tps/document/v06.0"
LEDGER_XSD = "Belegverwaltung_online_ledger_import_v060.xsd"
DOCUMENT_XSD = "Document_v060.xsd"


@cache
def schema(name: str) -> xmlschema.XMLSchema:
    """One of the shipped XSDs, loaded once (xmlschema imported on first use: an EXTF
    run never needs it, and it costs start-up time and memory)."""
    import xmlschema

    folder = Path(str(resources.files("ml_connector.datev") / "dxso_schemas"))
    return xmlschema.XMLSchema(str(folder / name))


@cache
def _entry_decl(ledger: Ledger) -> Any:
    root: Any = schema(LEDGER_XSD).elements["LedgerImport"]
    consolidate: Any = root.type.content[0]
    for decl in consolidate.type.content.iter_elements():
        if decl.local_name == ledger.element:
            return decl
    raise LookupError(ledger.element)  # pragma: no cover - the XSD defines all three


def _local(path: str | None) -> str:
    return (path or "").rsplit("}", 1)[-1] or "entry"


def entry_problems(ledger: Ledger, element: ET.Element) -> list[str]:
    """XSD problems of one entry element (empty when valid), each naming the element."""
    return [
        f"{_local(error.path)}: {error.reason}"
        for error in _entry_decl(ledger).iter_errors(element)
    ]


def _validate(name: str, content: bytes, what: str) -> None:
    import xmlschema

    try:
        errors = list(schema(name).iter_errors(xmlschema.XMLResource(content)))
    except (xmlschema.XMLSchemaException, ET.ParseError) as exc:
        raise DataError(f"{what} is not readable XML of DATEV's {name}: {exc}") from None
    if errors:
        first = errors[0]
        raise DataError(
            f"{what} does not validate against DATEV's {name}: {_local(first.path)}: "
            f"{first.reason} ({len(errors)} problem(s))"
        )


def validate_ledger(content: bytes) -> None:
    """Raise :class:`DataError` unless ``content`` is a valid ``LedgerImport``."""
    _validate(LEDGER_XSD, content, "ledger XML")


def validate_document(content: bytes) -> None:
    """Raise :class:`DataError` unless ``content`` is a valid ``document.xml``."""
    _validate(DOCUMENT_XSD, content, "document.xml")
