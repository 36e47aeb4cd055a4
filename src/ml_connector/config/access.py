"""Which hosts may receive a customer's credentials and tokens.

A customer's Looker key goes only to its configured ``base_url``; its DATEV tokens
go only to DATEV's hosts and only when DATEV's identity provider issued them. An
endpoint override (``--looker-url``, ``--datev-url``, ``ML_CONNECTOR_DATEV_API_URL``)
or a login at another identity provider is accepted only for a customer whose
configuration says ``emulator = true``; for every other customer it is a
:class:`ConfigurationError`, so one customer's secret never reaches a host that
another setting named.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ml_connector.config.models import Customer
from ml_connector.errors import ConfigurationError

__all__ = ["DATEV_ISSUERS", "check_issuer", "emulator_override", "looker_base_url"]

#: DATEV's own identity providers, by API environment
DATEV_ISSUERS = {
    "production": "https://login.datev.de/openid",
    "sandbox": "https://login.datev.de/openidsandbox",
}


def emulator_override(
    customer_id: str, customer: Customer, *, what: str, url: str | None
) -> str | None:
    """``url`` for an emulator customer, ``None`` without one, else a clear error."""
    if not url:
        return None
    if not customer.emulator:
        raise ConfigurationError(
            f"{what} {url} is for emulators; customer {customer_id!r} is not marked as one",
            hint=f"drop the override, or set emulator = true under [customers.{customer_id}] "
            "if its endpoints really are emulators",
        )
    return url


def looker_base_url(customer_id: str, customer: Customer, override: str | None) -> str:
    """Where the customer's Looker key may go: its ``base_url`` or an emulator override."""
    url = emulator_override(customer_id, customer, what="the Looker URL", url=override)
    return url or customer.looker.base_url


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def check_issuer(customer_id: str, customer: Customer, issuer: str, api_url: str | None) -> None:
    """Refuse to send tokens of ``issuer`` to the customer's DATEV API (``api_url``: an
    emulator's) unless that API belongs to the issuer."""
    issuer = issuer.rstrip("/")
    if api_url is None:
        expected = DATEV_ISSUERS[customer.datev.environment]
        if issuer == expected:
            return
        problem = f"DATEV {customer.datev.environment} accepts only tokens of {expected}"
    else:
        if issuer not in DATEV_ISSUERS.values() and _origin(issuer) == _origin(api_url):
            return
        problem = f"the emulator at {api_url} may use only tokens its own identity provider issued"
    raise ConfigurationError(
        f"the DATEV login of customer {customer_id!r} was issued by {issuer}; {problem}",
        hint=f"log in again for this endpoint: ml-connector datev login --customer {customer_id}",
    )
