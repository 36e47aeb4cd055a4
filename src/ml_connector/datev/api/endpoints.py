"""Where each DATEV accounting API lives: production, sandbox or the local emulator.

DATEV runs every API on its own host with a versioned base path, and the paths
overlap between APIs (``/clients`` exists in three of them), so a base URL is
configured per API rather than one gateway URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["EMULATOR_PREFIXES", "DatevApi", "Endpoints"]


class DatevApi(StrEnum):
    """The four DATEV accounting APIs ml-connector talks to."""

    CLIENTS = "accounting-clients"
    EXTF = "accounting-extf-files"
    DXSO = "accounting-dxso-jobs"
    DOCUMENTS = "accounting-documents"


#: major version in the base path per API (from DATEV's published ``servers``)
_VERSIONS: dict[DatevApi, str] = {
    DatevApi.CLIENTS: "v2",
    DatevApi.EXTF: "v3",
    DatevApi.DXSO: "v2",
    DatevApi.DOCUMENTS: "v2",
}

#: path prefix of each API on the emulator's single port (host name becomes a path segment)
EMULATOR_PREFIXES: dict[DatevApi, str] = {
    api: f"/{api.value}/platform/{version}" for api, version in _VERSIONS.items()
}


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Base URL per API, without trailing slash."""

    clients: str
    extf: str
    dxso: str
    documents: str

    def base_url(self, api: DatevApi) -> str:
        """The base URL of ``api``."""
        return {
            DatevApi.CLIENTS: self.clients,
            DatevApi.EXTF: self.extf,
            DatevApi.DXSO: self.dxso,
            DatevApi.DOCUMENTS: self.documents,
        }[api]

    @classmethod
    def production(cls) -> Endpoints:
        """DATEV's production hosts."""
        return cls._datev("platform")

    @classmethod
    def sandbox(cls) -> Endpoints:
        """DATEV's sandbox (same hosts, ``platform-sandbox`` paths)."""
        return cls._datev("platform-sandbox")

    @classmethod
    def emulator(cls, base_url: str) -> Endpoints:
        """The ml-connector DATEV emulator listening at ``base_url`` (e.g. ``http://127.0.0.1:8766``)."""
        root = base_url.rstrip("/")
        urls = {api: root + prefix for api, prefix in EMULATOR_PREFIXES.items()}
        return cls(
            clients=urls[DatevApi.CLIENTS],
            extf=urls[DatevApi.EXTF],
            dxso=urls[DatevApi.DXSO],
            documents=urls[DatevApi.DOCUMENTS],
        )

    @classmethod
    def preset(cls, name: str, *, base_url: str | None = None) -> Endpoints:
        """``production``, ``sandbox`` or ``emulator`` (which needs ``base_url``)."""
        if name == "production":
            return cls.production()
        if name == "sandbox":
            return cls.sandbox()
        if name == "emulator":
            if not base_url:
                raise ValueError("the emulator preset needs base_url")
            return cls.emulator(base_url)
        raise ValueError(f"unknown DATEV endpoint preset {name!r}")

    @classmethod
    def _datev(cls, platform: str) -> Endpoints:
        def url(api: DatevApi) -> str:
            return f"https://{api.value}.api.datev.de/{platform}/{_VERSIONS[api]}"

        return cls(
            clients=url(DatevApi.CLIENTS),
            extf=url(DatevApi.EXTF),
            dxso=url(DatevApi.DXSO),
            documents=url(DatevApi.DOCUMENTS),
        )
