"""Requests checked against Looker's published API 4.0 spec, as a Looker instance does.

A body that breaks its schema (wrong types, missing required properties) gets 422
``Validation Failed`` with one ``errors[]`` entry per offending field; a query or path
parameter of the wrong type gets 400. Paths the spec does not know are left to routing.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from openapi_core import Config, OpenAPI
from openapi_core.contrib.starlette.requests import StarletteOpenAPIRequest
from openapi_core.deserializing.styles.exceptions import EmptyQueryParameterValue
from openapi_core.templating.paths.exceptions import PathError
from starlette.requests import Request

__all__ = [
    "SPEC_PATH",
    "FieldError",
    "RequestErrors",
    "check_request",
    "load_raw_spec",
    "looker_spec",
]

SPEC_PATH = Path(__file__).with_name("openapi") / "Looker.4.0.oas.json"
_REQUIRED = re.compile(r"'([^']+)' is a required property")


def _drop_type_any(node: Any) -> Any:
    """The spec writes ``"type": "any"`` (no OpenAPI type) for "any value": drop it."""
    if isinstance(node, dict):
        return {
            k: _drop_type_any(v)
            for k, v in node.items()
            if not (k in {"type", "format"} and v == "any")
        }
    if isinstance(node, list):
        return [_drop_type_any(v) for v in node]
    return node


def load_raw_spec() -> dict[str, Any]:
    """The official spec as a dict, servers relative to ``/api/4.0``, ``type: any`` dropped."""
    raw = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    raw["servers"] = [{"url": "/api/4.0"}]
    patched: dict[str, Any] = _drop_type_any(raw)
    return patched


@cache
def looker_spec() -> OpenAPI:
    """The official spec (see :func:`load_raw_spec`), loaded once per process."""
    return OpenAPI.from_dict(load_raw_spec(), config=Config(spec_validator_cls=None))


@dataclass(frozen=True)
class FieldError:
    """One entry of a 422 ``errors[]`` list."""

    field: str
    code: str
    message: str


@dataclass(frozen=True)
class RequestErrors:
    """What is wrong with a request: body fields (422) and parameters (400)."""

    body: tuple[FieldError, ...] = ()
    parameters: tuple[str, ...] = ()


def _field_errors(schema_errors: Any) -> list[FieldError]:
    out: list[FieldError] = []
    for err in schema_errors:
        path = ".".join(str(p) for p in err.path)
        if err.validator == "required":
            found = _REQUIRED.search(err.message)
            name = found.group(1) if found else ""
            out.append(FieldError(".".join(filter(None, (path, name))), "missing", err.message))
        else:
            out.append(FieldError(path or "body", "invalid", err.message))
    return out


def check_request(request: Request, body: bytes | None) -> RequestErrors:
    """Spec violations of ``request`` (whose body is ``body``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = looker_spec().unmarshal_request(StarletteOpenAPIRequest(request, body))
        except PathError:
            return RequestErrors()
    fields: list[FieldError] = []
    params: list[str] = []
    for error in result.errors:
        kind = type(error).__name__
        if isinstance(error, PathError) or "Security" in kind:
            continue
        if "Body" in kind:
            # a body that is not JSON at all is the handler's to answer (400)
            fields.extend(_field_errors(getattr(error.__cause__, "schema_errors", None) or ()))
        elif not isinstance(error.__cause__, EmptyQueryParameterValue):
            # an empty optional parameter (``?fields=``) counts as absent
            cause = error.__cause__
            params.append(f"{error}: {cause}" if cause is not None else str(error))
    return RequestErrors(tuple(fields), tuple(params))
