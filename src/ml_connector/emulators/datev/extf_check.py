"""The checks the emulator runs on every EXTF upload, as DATEV's import does.

First the header checks DATEV documents codes for (readable file, EXTF label,
version, consultant/client numbers equal to the URL's client id, date range), then
ml-connector's own EXTF validator on the whole file. A failed check fails the job
with ``validation_details`` (1008833 unreadable file, 1008834 header or content
errors), never the HTTP request.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml_connector.emulators.datev.extf_file import ExtfContent, ExtfReadError, read_extf
from ml_connector.extf.validate import validate_bytes

__all__ = ["ExtfVerdict", "check_extf"]

_MAX_RECORDS = 99999


@dataclass(frozen=True, slots=True)
class ExtfVerdict:
    """Outcome of the checks: ``code`` is None when the file passed."""

    content: ExtfContent | None
    code: str | None = None
    title: str | None = None
    detail: str | None = None
    affected_elements: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        """The file passed every check."""
        return self.code is None


def project_validator(content: bytes, client_id: str) -> list[tuple[str, str]]:
    """Findings of ml-connector's EXTF validator as (element, reason) pairs."""
    report = validate_bytes(content, expected_client_id=client_id, max_problems=50)
    return [(f"{p.location} [{p.rule}]", p.message) for p in report.problems]


def check_extf(content: bytes, *, consultant_number: int, client_number: int) -> ExtfVerdict:
    """Run DATEV's upload checks on ``content`` for the client in the request URL."""
    try:
        parsed = read_extf(content)
    except ExtfReadError as exc:
        return ExtfVerdict(None, "1008833", "Invalid file", str(exc))
    if len(parsed.rows) > _MAX_RECORDS:
        return ExtfVerdict(parsed, "1008833", "Invalid file", "more than 99999 postings")
    problems: list[tuple[str, str]] = []
    if parsed.field(1) not in ("EXTF", "DTVF"):
        problems.append(("(1) DATEV Format Identifier", "must be 'EXTF'"))
    if parsed.field(2) != "700":
        problems.append(("(2) Version number", "must be 700"))
    if len(parsed.header) < 16:
        problems.append(("EXTF header", "columns missing"))
    if parsed.consultant_number != str(consultant_number):
        problems.append(("(11) Consultant number", "does not match the client-id of the request"))
    if parsed.client_number != str(client_number):
        problems.append(("(12) Client number", "does not match the client-id of the request"))
    date_from, date_to = parsed.field(15), parsed.field(16)
    if date_from and date_to and date_from > date_to:
        problems.append(("(15) Date from", "DateFrom is after DateTo"))
    if problems:
        return ExtfVerdict(
            parsed, "1008834", "Invalid EXTF-header", "Fields with error", tuple(problems)
        )
    findings = project_validator(content, f"{consultant_number}-{client_number}")
    if findings:
        return ExtfVerdict(
            parsed, "1008834", "Invalid EXTF file", "Fields with error", tuple(findings)
        )
    return ExtfVerdict(parsed)
