"""DATEV-side checks for ``ml-connector ping``: can this customer's connection work?

:func:`check_datev` runs the checks in order (token, client, service, and document
types where the channel uses documents) and never raises for a failed check: each
becomes a :class:`CheckResult` with the fix in one line (``ml-connector ping`` shows
them, the Looker checks too, as a table).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ml_connector.datev.api.models import SERVICE_BY_CHANNEL
from ml_connector.datev.client import DatevClient
from ml_connector.errors import MlConnectorError, NeedsUserError, ReconsentRequiredError

__all__ = ["DOCUMENT_CHANNELS", "CheckResult", "check_datev", "datev_check_names"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of the ping table."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


def _failure(name: str, exc: MlConnectorError, default_fix: str) -> CheckResult:
    return CheckResult(name, False, exc.message, exc.hint or default_fix)


def _skipped(names: Iterable[str], reason: str) -> list[CheckResult]:
    return [
        CheckResult(n, False, f"not checked: {reason}", "fix the check above first") for n in names
    ]


#: channels that upload documents and so need the document types (EXTF needs none)
DOCUMENT_CHANNELS = frozenset({"dxso", "documents"})


def datev_check_names(channel: str) -> list[str]:
    """The names of the DATEV checks for ``channel``, in order."""
    names = ["DATEV token", "DATEV client", "DATEV service"]
    return [*names, "DATEV document types"] if channel in DOCUMENT_CHANNELS else names


async def check_datev(
    client: DatevClient, *, berater: int, mandant: int, channel: str
) -> list[CheckResult]:
    """Token, client, service for ``channel`` (extf, dxso, documents), and the document
    types where the channel uses documents."""
    if channel not in SERVICE_BY_CHANNEL:
        raise ValueError(f"unknown channel {channel!r}")
    later = datev_check_names(channel)[1:]
    results: list[CheckResult] = []
    try:
        await client.tokens.get_access_token()
    except MlConnectorError as exc:
        fix = (
            "run `ml-connector datev login`"
            if isinstance(exc, ReconsentRequiredError)
            else "check the DATEV login configuration"
        )
        results.append(_failure("DATEV token", exc, fix))
        return results + _skipped(later, "no valid DATEV token")
    results.append(CheckResult("DATEV token", True, "access token valid or refreshable"))

    try:
        found = await client.find_client(berater, mandant)
    except MlConnectorError as exc:
        fix = "run `ml-connector datev login`" if isinstance(exc, NeedsUserError) else "retry later"
        results.append(_failure("DATEV client", exc, fix))
        return results + _skipped(later[1:], "client lookup failed")
    if found is None:
        results.append(
            CheckResult(
                "DATEV client",
                False,
                f"Berater {berater} / Mandant {mandant} not visible to this login",
                "check the Berater/Mandant numbers and grant the DATEV user access to this client",
            )
        )
        return results + _skipped(later[1:], "client not found")
    results.append(CheckResult("DATEV client", True, f"{found.id} {found.name}"))

    service, scope = SERVICE_BY_CHANNEL[channel]
    if found.has_service(channel):
        results.append(CheckResult("DATEV service", True, f"{service} ({scope})"))
    else:
        booked = ", ".join(s.name for s in found.services) or "none"
        results.append(
            CheckResult(
                "DATEV service",
                False,
                f"{service} missing for {found.id} (booked: {booked})",
                f"book '{service}' for this client in DATEV and grant it to ml-connector",
            )
        )
    if channel not in DOCUMENT_CHANNELS:
        return results

    try:
        types = await client.document_types(found.id, refresh=True)
    except MlConnectorError as exc:
        results.append(
            _failure(
                "DATEV document types",
                exc,
                "book 'Belegbilderservice' and log in with scope accounting:documents",
            )
        )
    else:
        names = ", ".join(t.name for t in types) or "none defined"
        results.append(CheckResult("DATEV document types", True, f"{len(types)}: {names}"))
    return results
