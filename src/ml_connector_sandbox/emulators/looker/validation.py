"""Requests checked against Looker's published API 4.0 spec, as a Looker instance does.

A body that breaks its schema (wrong types, missing required properties) gets 422
``Validation Failed`` with one ``errors[]`` entry per offending field; a query or path
parameter of the wrong type gets 400. Paths the spec does not know are left to routing.

The spec is large (about 500 operations), so requests are matched against a path
index built once, and each operation's JSON schemas are compiled once and checked
with the OpenAPI 3.0 validator of ``openapi-schema-validator`` (what openapi-core
uses inside) in a fraction of the time a full openapi-core request check takes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from openapi_schema_validator import OAS30WriteValidator, oas30_format_checker
from starlette.requests import Request

__all__ = [
    "API_PREFIX",
    "SPEC_PATH",
    "FieldError",
    "RequestErrors",
    "check_request",
    "load_raw_spec",
]

SPEC_PATH = Path(__file__).with_name("openapi") / "Looker.4.0.oas.json"
API_PREFIX = "/api/4.0"
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


@cache
def _raw_spec() -> dict[str, Any]:
    raw = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    raw["servers"] = [{"url": API_PREFIX}]
    patched: dict[str, Any] = _drop_type_any(raw)
    return patched


def load_raw_spec() -> dict[str, Any]:
    """The official spec as a dict, servers relative to ``/api/4.0``, ``type: any`` dropped."""
    return json.loads(json.dumps(_raw_spec()))  # type: ignore[no-any-return]


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


@dataclass(frozen=True)
class _Param:
    name: str
    location: str
    required: bool
    schema: dict[str, Any]
    validator: OAS30WriteValidator


@dataclass(frozen=True)
class _Operation:
    params: tuple[_Param, ...]
    body: OAS30WriteValidator | None


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """A ``$ref``-ed parameter or body object, followed within the spec."""
    while "$ref" in node:
        target: Any = _raw_spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _validator(schema: dict[str, Any]) -> OAS30WriteValidator:
    """A validator for ``schema``; its ``#/components/...`` references resolve in the spec."""
    rooted = {"allOf": [schema], "components": _raw_spec()["components"]}
    return OAS30WriteValidator(rooted, format_checker=oas30_format_checker)


def _compile(item: dict[str, Any], method: str) -> _Operation:
    op = item[method]
    params = []
    for raw in [*item.get("parameters", []), *op.get("parameters", [])]:
        p = _resolve(raw)
        schema = p.get("schema", {})
        params.append(
            _Param(p["name"], p["in"], bool(p.get("required")), schema, _validator(schema))
        )
    content = _resolve(op.get("requestBody", {})).get("content", {})
    body = content.get("application/json", {}).get("schema")
    return _Operation(tuple(params), _validator(body) if body is not None else None)


@cache
def _paths() -> dict[str, tuple[tuple[re.Pattern[str], str], ...]]:
    """Path templates as patterns by first segment, the most literal first."""
    templates = sorted(_raw_spec()["paths"], key=lambda t: (t.count("{"), -len(t)))
    index: dict[str, list[tuple[re.Pattern[str], str]]] = {}
    for t in templates:
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(t)) + "$")
        index.setdefault(t.split("/")[1], []).append((pattern, t))
    return {first: tuple(entries) for first, entries in index.items()}


@cache
def _operation(template: str, method: str) -> _Operation | None:
    item = _raw_spec()["paths"][template]
    return _compile(item, method) if method in item else None


def _find(path: str, method: str) -> tuple[_Operation, dict[str, str]] | None:
    if not path.startswith(API_PREFIX + "/"):
        return None
    rest = path[len(API_PREFIX) :]
    for pattern, template in _paths().get(rest.split("/")[1], ()):
        if pattern.match(rest):
            op = _operation(template, method)
            if op is None:
                continue
            names = re.findall(r"\{([^}]+)\}", template)
            parts = zip(rest.split("/"), template.split("/"), strict=True)
            slots = [value for value, t in parts if "{" in t]
            return op, dict(zip(names, slots, strict=True))
    return None


def _coerce(text: str, schema: Mapping[str, Any]) -> Any:
    """A parameter's text as its schema's type (ValueError if it is not one)."""
    kind = schema.get("type")
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        if text.lower() not in {"true", "false"}:
            raise ValueError(f"{text!r} is not a boolean")
        return text.lower() == "true"
    if kind == "array":
        item = schema.get("items", {})
        return [_coerce(part, item) for part in text.split(",")]
    return text


def _parameter_errors(request: Request, op: _Operation, path: Mapping[str, str]) -> list[str]:
    errors: list[str] = []
    for p in op.params:
        if p.location == "path":
            text: str | None = path.get(p.name)
        elif p.location == "query":
            text = request.query_params.get(p.name) or None  # empty counts as absent
        else:
            continue
        if text is None:
            if p.required:
                errors.append(f"Missing required {p.location} parameter: {p.name}")
            continue
        try:
            value = _coerce(text, p.schema)
        except ValueError:
            errors.append(
                f"{p.location} parameter {p.name}: {text!r} is not {p.schema.get('type')}"
            )
            continue
        errors += [
            f"{p.location} parameter {p.name}: {e.message}" for e in p.validator.iter_errors(value)
        ]
    return errors


def _field_error(err: Any) -> FieldError:
    """A 422 entry for one ``jsonschema`` validation error."""
    path = ".".join(str(p) for p in err.absolute_path)
    if err.validator == "required":
        found = _REQUIRED.search(err.message)
        name = found.group(1) if found else ""
        return FieldError(".".join(filter(None, (path, name))), "missing", err.message)
    return FieldError(path or "body", "invalid", err.message)


def check_request(request: Request, body: bytes | None) -> RequestErrors:
    """Spec violations of ``request`` (whose body is ``body``)."""
    found = _find(request.url.path, request.method.lower())
    if found is None:
        return RequestErrors()
    op, path = found
    params = tuple(_parameter_errors(request, op, path))
    fields: tuple[FieldError, ...] = ()
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if op.body is not None and body and ctype.endswith("json"):
        try:
            document = json.loads(body)
        except ValueError:
            document = None  # not JSON at all: the handler answers 400
        else:
            errors = sorted(op.body.iter_errors(document), key=lambda e: list(e.absolute_path))
            fields = tuple(_field_error(e) for e in errors)
    return RequestErrors(fields, params)
