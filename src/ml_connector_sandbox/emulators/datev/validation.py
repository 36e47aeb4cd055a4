"""DATEV's OpenAPI specs, loaded once, checking requests and responses with openapi-core.

Each spec is loaded with its ``servers`` replaced by ``/`` so paths are matched
relative to the API's base path (the emulator and DATEV differ only in the base).
One known defect of DATEV's dxso-jobs spec is patched in memory: it declares
``accounting_month`` as ``format: date`` while its own text and example use
``YYYY-MM``, which no ``date`` accepts; the emulator checks ``YYYY-MM`` itself.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from starlette.datastructures import Headers, QueryParams

from ml_connector.datev.api.endpoints import DatevApi

__all__ = ["SPEC_FILES", "spec_for", "validate_request", "validate_response"]

_DIR = Path(__file__).parent / "openapi"
SPEC_FILES: dict[DatevApi, str] = {
    DatevApi.CLIENTS: "accounting-clients-2.0.json",
    DatevApi.EXTF: "accounting_extf-files-3.0.1.json",
    DatevApi.DXSO: "accounting_dxso-jobs-2.1.7.json",
    DatevApi.DOCUMENTS: "accounting_documents-2.1.12.json",
}


def _patch(api: DatevApi, spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    spec["servers"] = [{"url": "/"}]
    if api is DatevApi.DXSO:
        month = spec["components"]["schemas"]["DXSoJobCreationInfo"]["properties"]
        month["accounting_month"].pop("format", None)
    return spec


_GUID = re.compile(r"[0-9A-Fa-f]{8}-?([0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}")


def _is_guid(value: object) -> bool:
    return isinstance(value, str) and _GUID.fullmatch(value) is not None


def _merge_patch(body: bytes) -> Any:
    return json.loads(body)


_CONFIG = Config(
    extra_format_validators={"guid": _is_guid},
    extra_media_type_deserializers={"application/merge-patch+json": _merge_patch},
)


@cache
def spec_for(api: DatevApi) -> OpenAPI:
    """The (patched) OpenAPI document of ``api``; loaded once per process."""
    raw = json.loads((_DIR / SPEC_FILES[api]).read_text("utf-8"))
    return OpenAPI.from_dict(_patch(api, raw), config=_CONFIG)


@dataclass
class _Request:
    parameters: RequestParameters
    method: str
    path: str
    body: bytes | None
    content_type: str
    host_url: str = "http://emulator"


@dataclass
class _Response:
    status_code: int
    headers: Headers
    data: bytes | None
    content_type: str


def _message(error: Any) -> str:
    text = str(error)
    cause = error.__cause__
    inner = getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None)
    if inner:
        text += ": " + "; ".join(getattr(e, "message", str(e)) for e in inner)
    elif cause is not None:
        text += f": {cause}"
    return text


def _messages(errors: Any) -> list[str]:
    out = []
    for error in errors:
        try:
            out.append(_message(error))
        except UnicodeDecodeError:  # openapi-core quotes the body, which is not UTF-8
            out.append(f"{type(error).__name__}: the request body is not valid UTF-8")
    return out


def _request(
    method: str,
    path: str,
    query: Mapping[str, str] | list[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes | None,
) -> _Request:
    items = list(query.items()) if isinstance(query, Mapping) else list(query)
    header = Headers(
        raw=[
            (k.lower().encode("latin-1"), v.encode("latin-1", "replace"))
            for k, v in headers.items()
        ]
    )
    return _Request(
        parameters=RequestParameters(query=QueryParams(items), header=header, cookie={}),
        method=method.lower(),
        path=path,
        body=body,
        content_type=header.get("Content-Type", "application/octet-stream"),
    )


def validate_request(
    api: DatevApi,
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | list[tuple[str, str]] = (),  # type: ignore[assignment]
    headers: Mapping[str, str],
    body: bytes | None = None,
    check_body: bool = True,
) -> list[str]:
    """Spec violations of a request (``path`` relative to the API's base path)."""
    request = _request(method, path, query, headers, body if check_body else None)
    with warnings.catch_warnings():
        # openapi-core warns that it cannot check oauth2; the emulator checks bearer tokens
        warnings.simplefilter("ignore", UserWarning)
        result = spec_for(api).unmarshal_request(request)
    errors = result.errors
    if not check_body:
        errors = [e for e in errors if "body" not in type(e).__name__.lower()]
    return _messages(errors)


def validate_response(
    api: DatevApi,
    method: str,
    path: str,
    *,
    status: int,
    headers: Mapping[str, str],
    body: bytes | None,
    request_headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> list[str]:
    """Spec violations of a response to ``method path``."""
    request = _request(method, path, query, request_headers or {}, None)
    header = Headers(
        raw=[
            (k.lower().encode("latin-1"), v.encode("latin-1", "replace"))
            for k, v in headers.items()
        ]
    )
    response = _Response(
        status_code=status,
        headers=header,
        data=body,
        content_type=header.get("Content-Type", ""),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        result = spec_for(api).unmarshal_response(request, response)
    return _messages(result.errors)
