"""Supporting documents of a run: planned, fetched and checked before anything is sent.

A :class:`~ml_connector.engine.ports.PreparedDocument` is what DATEV's documents API
receives and what the EXTF ``Beleglink`` names: a file name as DATEV stores it, the
file on disk, a deterministic id and the rows it belongs to (``row_keys`` ``None``:
every booking line of the run). The id is a UUID 5 of customer, pipeline, period and
source, so a retried or replayed upload is the same ``PUT`` and DATEV answers 409
(already there) instead of storing a second document. The same record serves any
channel that carries documents (``documents.json`` in the run's folder lists them).

Checks before sending (notes/datev-api.md section 6, documents v2 spec): at most
20 MB (``#DCO01016``), a PDF that parses (``#DCO01245``; pypdf), a file name in NFC
within DATEV's whitelist (:func:`~ml_connector.datev.api.names.upload_filename`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from ml_connector.config import LoadedConfig
from ml_connector.config.models import Documents, RenderedDocument
from ml_connector.datev.api.names import DOCUMENT_MAX_BYTES, upload_filename
from ml_connector.engine.ports import PreparedDocument
from ml_connector.errors import ConfigurationError, DataError
from ml_connector.mapping.spec import FieldRule

__all__ = [
    "DOCUMENTS_DIR",
    "DOCUMENT_NAMESPACE",
    "MANIFEST_FILE",
    "RenderPlan",
    "beleglink",
    "check_pdf",
    "document_id",
    "linked_config",
    "planned_document",
    "read_manifest",
    "rendered_document",
    "row_document_location",
    "store_document",
    "write_manifest",
]

#: namespace of the document ids (a fixed UUID: ids must never change between versions)
DOCUMENT_NAMESPACE = uuid.UUID("6f0b8f4e-3c1d-5a7e-9b2c-8d4e1f0a2b3c")
_PERIOD = "{period}"
#: the run folder's list of its documents, and the folder the documents are in
MANIFEST_FILE = "documents.json"
DOCUMENTS_DIR = "documents"


def document_id(customer: str, pipeline: str, period: str, source: str) -> str:
    """The deterministic id (UUID 5) of a document."""
    return str(uuid.uuid5(DOCUMENT_NAMESPACE, f"{customer}/{pipeline}/{period}/{source}"))


def beleglink(guid: str) -> str:
    """EXTF column 20 for a document in Unternehmen online: ``BEDI "<GUID>"``.

    The writer quotes the field and doubles the inner quotes (notes/extf-format.md,
    Beleglink: BEDI = Unternehmen online / Belege online).
    """
    return f'BEDI "{guid}"'


def check_pdf(content: bytes, filename: str) -> None:
    """Refuse what DATEV would refuse: over 20 MB, or a PDF that does not parse."""
    if len(content) > DOCUMENT_MAX_BYTES:
        raise DataError(
            f"document {filename} is {len(content):,} bytes, over DATEV's 20 MB limit",
            location=filename,
            hint="split or compress the document",
        )
    from pypdf import PdfReader  # only runs with documents need it (start-up time)
    from pypdf.errors import PyPdfError

    try:
        pages = len(PdfReader(io.BytesIO(content), strict=False).pages)
    except (PyPdfError, ValueError, TypeError, KeyError, OSError) as exc:
        raise DataError(
            f"document {filename} is not a PDF that can be read ({type(exc).__name__})",
            location=filename,
        ) from None
    if pages < 1:
        raise DataError(f"document {filename} is a PDF without pages", location=filename)


@dataclass(frozen=True, slots=True)
class RenderPlan:
    """What to render for a period and under which name and id."""

    dashboard_id: str
    filters: dict[str, str]
    filename: str
    source: str
    document_id: str


def rendered_document(
    render: RenderedDocument, *, customer: str, pipeline: str, period: str
) -> RenderPlan:
    """The period's dashboard render: filters and file name filled in, its id."""
    filters = {k: v.replace(_PERIOD, period) for k, v in render.filters.items()}
    name = render.filename.format(period=period, pipeline=pipeline, customer=customer)
    source = f"render:dashboard/{render.dashboard_id}?{urlencode(sorted(filters.items()))}"
    return RenderPlan(
        dashboard_id=render.dashboard_id,
        filters=filters,
        filename=upload_filename(name),
        source=source,
        document_id=document_id(customer, pipeline, period, source),
    )


def row_document_location(
    value: object, documents: Documents, *, base_dir: Path, looker_base_url: str
) -> Path | str:
    """Where a row's document is: a file under the configured folder or a URL on the
    customer's own Looker host; anything else is a :class:`DataError` (the row is held)."""
    text = str(value or "").strip()
    if not text:
        raise DataError("no document named in the row's document column")
    if "://" in text:
        own = urlsplit(looker_base_url)
        try:
            url = urlsplit(text)
        except ValueError:
            raise DataError(f"document URL {text!r} is not a URL") from None
        if url.scheme != "https" or (url.hostname or "").lower() != (own.hostname or "").lower():
            raise DataError(
                f"document URL {text} is not on the customer's Looker host {own.hostname}",
                hint="only documents on the customer's own Looker instance are fetched",
            )
        return text
    rows = documents.rows
    if rows is None or rows.folder is None:
        raise DataError(
            f"document path {text} given but no documents folder is configured",
            hint="set folder under [pipelines.<name>.documents.rows]",
        )
    folder = (base_dir / rows.folder).resolve()
    try:
        path = (folder / text).resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # NUL, too long, a symlink loop
        raise DataError(f"document path {text!r} cannot be used ({exc})") from None
    if not path.is_relative_to(folder):
        raise DataError(f"document path {text} is outside the documents folder {folder}")
    return path


def linked_config(config: LoadedConfig, pipeline: str, link: str) -> LoadedConfig:
    """``config`` with the pipeline's booking lines linked to one document (``Beleglink``)."""
    mapping = config.mapping(pipeline)
    if "beleglink" in mapping.fields:
        raise ConfigurationError(
            f"pipeline {pipeline} maps beleglink itself and also has [documents.render]",
            hint="remove beleglink from the mapping's fields: the document sets it",
        )
    rule = FieldRule(target="beleglink", kind="constant", constant=link)
    linked = dataclasses.replace(mapping, fields={**mapping.fields, "beleglink": rule})
    return dataclasses.replace(config, mappings={**config.mappings, pipeline: linked})


def planned_document(plan: RenderPlan, document_type: str) -> PreparedDocument:
    """A document known by id and name only, not rendered (``path`` empty, ``size`` 0)."""
    return PreparedDocument(
        document_id=plan.document_id,
        filename=plan.filename,
        path="",
        sha256="",
        document_type=document_type,
        source=plan.source,
        size=0,
    )


def store_document(
    workdir: Path, plan: RenderPlan, content: bytes, document_type: str
) -> PreparedDocument:
    """Check ``content`` and write it under ``workdir``; the record of the document."""
    check_pdf(content, plan.filename)
    folder = workdir / DOCUMENTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / plan.filename
    path.write_bytes(content)
    return PreparedDocument(
        document_id=plan.document_id,
        filename=plan.filename,
        path=str(path),
        sha256=hashlib.sha256(content).hexdigest(),
        document_type=document_type,
        source=plan.source,
        size=len(content),
    )


def write_manifest(workdir: Path, documents: list[PreparedDocument]) -> None:
    """``documents.json``: the run's documents (what a dry run shows, what a run uploads)."""
    items = [dataclasses.asdict(d) for d in documents]
    (workdir / MANIFEST_FILE).write_text(json.dumps(items, indent=2) + "\n", encoding="utf-8")


def read_manifest(workdir: Path) -> tuple[PreparedDocument, ...]:
    """The documents :func:`write_manifest` listed (none without a manifest)."""
    path = workdir / MANIFEST_FILE
    if not path.exists():
        return ()
    items = json.loads(path.read_text(encoding="utf-8"))
    return tuple(
        PreparedDocument(
            **{**item, "row_keys": None if item["row_keys"] is None else tuple(item["row_keys"])}
        )
        for item in items
    )
