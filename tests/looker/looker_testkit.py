"""Helpers for the Looker tests: a fake clock and spec-checking transport."""

from __future__ import annotations

from typing import Any

import httpx
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.responses.exceptions import ResponseNotFound
from werkzeug.datastructures import Headers, ImmutableMultiDict

from ml_connector_sandbox.emulators.looker.validation import load_raw_spec

#: results are opaque text in the spec (the body is in the requested format)
RESULT_OPERATIONS = ("/run/", "/results")
#: statuses real Looker sends that the spec does not document
UNDOCUMENTED = {401, 500, 502, 503, 504}
SECRET = "s3cr3t-Looker-Secret-Value"
CLIENT_ID = "cid-1"


class FakeClock:
    """A monotonic clock the test moves forward."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def load_spec() -> OpenAPI:
    """The official spec with a relative server URL (its self-validation skipped).

    Its ``"type": "any"`` schemas (not an OpenAPI type) mean "any value" and are
    dropped, as the emulator does.
    """
    return OpenAPI.from_dict(load_raw_spec(), config=Config(spec_validator_cls=None))


class _SpecRequest:
    def __init__(self, request: httpx.Request, body: bytes) -> None:
        self.host_url = f"{request.url.scheme}://{request.url.netloc.decode()}"
        self.path = request.url.path
        self.method = request.method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
            path={},
        )
        ctype = request.headers.get("content-type", "")
        self.content_type = ctype.split(";")[0].strip().lower()
        self.body = body or None


class _SpecResponse:
    def __init__(self, response: httpx.Response, as_text: bool) -> None:
        self.status_code = response.status_code
        self.data: bytes | str = response.content.decode() if as_text else response.content
        ctype = response.headers.get("content-type", "application/json").split(";")[0]
        self.content_type = "text" if as_text else ctype
        self.headers = Headers(list(response.headers.items()))


def _binary(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith(("application/pdf", "image/"))


def check_exchange(
    spec: OpenAPI, request: httpx.Request, body: bytes, response: httpx.Response
) -> None:
    """Raise if the request or the response breaks the spec."""
    if request.url.path.startswith("/__admin") or not request.url.path.startswith("/api/4.0"):
        return
    req = _SpecRequest(request, body)
    spec.validate_request(req)
    if response.status_code in UNDOCUMENTED:
        return
    as_text = any(part in request.url.path for part in RESULT_OPERATIONS)
    if response.status_code == 204 or (response.status_code == 202 and not response.content):
        return  # no body; the spec's "string" schema has nothing to check
    checked = _SpecResponse(response, as_text and not _binary(response))
    if _binary(response):
        # the spec types a document as {"type": "string"} without a binary format:
        # check status and content type, not the bytes
        checked.data = "binary"
    try:
        spec.validate_response(req, checked)
    except ResponseNotFound:
        raise AssertionError(
            f"{request.method} {request.url.path}: status {response.status_code} not in spec"
        ) from None


class SpecCheckingTransport(httpx.AsyncBaseTransport):
    """ASGI transport to the emulator that validates every exchange against the spec."""

    def __init__(self, app: Any, spec: OpenAPI) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.spec = spec
        self.exchanges = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        self.exchanges += 1
        checked = httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )
        check_exchange(self.spec, request, body, checked)
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )
