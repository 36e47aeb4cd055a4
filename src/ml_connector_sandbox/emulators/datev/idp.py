"""The emulator's identity provider: DATEV's OAuth 2.0 / OpenID Connect side.

Authorization Code with PKCE (S256 only), ``state`` and ``nonce`` of at least 20
characters, a login/consent form (or, as an emulator option, consent without a
person), 15-minute opaque access tokens, single-use rotating refresh tokens whose
reuse revokes the whole grant, revocation, userinfo, RS256 ID tokens and a
discovery document. Paths follow DATEV (issuer ``<base>/openid``, authorize under
it, token/revoke/userinfo/certs at the root). Fault hooks let tests and the
emulator's admin endpoint revoke every token or expire every refresh token.
``response_type`` is ``code`` or ``code id_token`` (DATEV's discovery document lists
both; a shipping client uses the latter with ``response_mode=query``). Given an
:class:`~ml_connector_sandbox.emulators.datev.store.EmulatorStore`, grants and tokens are
written through to it and survive a restart.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ml_connector_sandbox.emulators.datev.grants import AccessGrant
from ml_connector_sandbox.emulators.datev.idp_jwt import IdTokenSigner
from ml_connector_sandbox.emulators.datev.idp_pages import consent_page, error_page
from ml_connector_sandbox.emulators.datev.static_tokens import ALL_SCOPES
from ml_connector_sandbox.emulators.datev.store import EmulatorStore

__all__ = [
    "DEFAULT_USERS",
    "ISSUER_PATH",
    "SUPPORTED_SCOPES",
    "EmulatorUser",
    "IdentityProvider",
    "MintedTokens",
    "OAuthClientRegistration",
    "create_idp_app",
]

#: the issuer is ``<base URL><ISSUER_PATH>``, like ``https://login.datev.de/openid``
ISSUER_PATH = "/openid"
MIN_STATE_LENGTH = 20
MIN_NONCE_LENGTH = 20
INTERACTION_TTL = 600.0
_STORE_KIND, _STORE_KEY = "idp", "grants"
#: response types DATEV's discovery document lists that the emulator serves
RESPONSE_TYPES = (frozenset({"code"}), frozenset({"code", "id_token"}))

#: the OpenID Connect scopes and every accounting API scope
SUPPORTED_SCOPES: frozenset[str] = (
    frozenset({"openid", "profile", "email", "account_id", "offline_access"}) | ALL_SCOPES
)


@dataclass(frozen=True)
class OAuthClientRegistration:
    """A registered OAuth client; public when ``client_secret`` is ``None``.

    With ``loopback_any_port`` a redirect URI on ``127.0.0.1`` / ``localhost`` /
    ``[::1]`` matches a registered one that differs only in the port (RFC 8252 7.3);
    with no ``redirect_uris`` at all, any ``http`` loopback redirect is accepted.
    """

    client_id: str
    client_secret: SecretStr | None = None
    redirect_uris: tuple[str, ...] = ("http://127.0.0.1/callback",)
    loopback_any_port: bool = True

    def redirect_allowed(self, uri: str) -> bool:
        """Whether ``uri`` is a registered redirect URI for this client."""
        if uri in self.redirect_uris:
            return True
        if not self.loopback_any_port:
            return False
        asked = urlsplit(uri)
        if asked.scheme != "http" or asked.hostname not in {"127.0.0.1", "localhost", "::1"}:
            return False
        if not self.redirect_uris:
            return True  # nothing registered: any loopback redirect
        for registered in map(urlsplit, self.redirect_uris):
            if (
                registered.scheme == asked.scheme
                and registered.hostname == asked.hostname
                and registered.path == asked.path
                and registered.query == asked.query
            ):
                return True
        return False


@dataclass(frozen=True)
class EmulatorUser:
    """A person who can sign in at the emulator's consent page."""

    username: str
    password: SecretStr
    name: str
    email: str
    subject: str


DEFAULT_USERS: tuple[EmulatorUser, ...] = (
    EmulatorUser(
        username="demo",
        password=SecretStr("demo"),
        name="Demo Berater",
        email="demo@example.invalid",
        subject="emulator-user-demo",
    ),
)


@dataclass(frozen=True)
class MintedTokens:
    """Tokens issued by :meth:`IdentityProvider.mint_tokens` (for API tests)."""

    access_token: str
    refresh_token: str
    expires_in: int


@dataclass
class _AuthRequest:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    nonce: str
    code_challenge: str
    issuer: str
    created_at: float
    with_id_token: bool = False
    #: where the answer goes: ``query`` or ``fragment``
    response_mode: str = "query"


@dataclass
class _Code:
    request: _AuthRequest
    subject: str
    expires_at: float
    grant_id: str | None = None  # set once redeemed


@dataclass
class _Grant:
    client_id: str
    subject: str
    scopes: frozenset[str]
    refresh_expires_at: float
    revoked: bool = False


@dataclass
class _AccessToken:
    grant_id: str
    expires_at: float


@dataclass
class _RefreshToken:
    grant_id: str
    used: bool = False


class _OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class _Faults:
    token_failures: int = 0
    token_failure_status: int = 503
    token_latency: float = 0.0


@dataclass
class _State:
    interactions: dict[str, _AuthRequest] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    grants: dict[str, _Grant] = field(default_factory=dict)
    access: dict[str, _AccessToken] = field(default_factory=dict)
    refresh: dict[str, _RefreshToken] = field(default_factory=dict)


def _token() -> str:
    return secrets.token_urlsafe(32)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", errors="replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _with_query(uri: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


class IdentityProvider:
    """DATEV's identity provider, emulated; implements ``AccessTokenChecker``.

    ``issuer`` may be ``None`` and set later with :meth:`set_issuer` (the port is
    known only after binding); until then it is derived from each request.
    ``auto_consent`` completes the consent step without a person, signed in as
    ``auto_consent_user`` (default: the first user). It is an emulator option only.
    """

    def __init__(
        self,
        *,
        issuer: str | None = None,
        oauth_clients: Sequence[OAuthClientRegistration],
        users: Sequence[EmulatorUser] = DEFAULT_USERS,
        auto_consent: bool = False,
        auto_consent_user: str | None = None,
        access_token_ttl: int = 900,
        refresh_token_ttl: int = 11 * 3600,
        offline_refresh_token_ttl: int = 2 * 365 * 86400,
        code_ttl: int = 60,
        supported_scopes: Iterable[str] = SUPPORTED_SCOPES,
        clock: Callable[[], float] = time.time,
        store: EmulatorStore | None = None,
    ) -> None:
        self._issuer = issuer.rstrip("/") if issuer else None
        self.clients = {c.client_id: c for c in oauth_clients}
        self.users = {u.username: u for u in users}
        self._subjects = {u.subject: u for u in users}
        self.auto_consent = auto_consent
        self.auto_consent_user = auto_consent_user or (users[0].username if users else None)
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.offline_refresh_token_ttl = offline_refresh_token_ttl
        self.code_ttl = code_ttl
        self.supported_scopes = frozenset(supported_scopes)
        self._clock = clock
        self._lock = threading.Lock()
        self._state = _State()
        self._faults = _Faults()
        self._signer = IdTokenSigner()
        self._store = store
        if store is not None:
            self._load(store)
        #: requests per kind: ``authorization_code``, ``refresh_token``, ``refused``, ...
        self.counts: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"IdentityProvider(issuer={self._issuer!r}, clients={sorted(self.clients)})"

    def _load(self, store: EmulatorStore) -> None:
        """Grants and tokens a previous run left in ``store``."""
        saved = dict(store.objects(_STORE_KIND)).get(_STORE_KEY)
        if not saved:
            return
        self._state.grants = {
            k: _Grant(**(v | {"scopes": frozenset(v["scopes"])}))
            for k, v in saved["grants"].items()
        }
        self._state.access = {k: _AccessToken(**v) for k, v in saved["access"].items()}
        self._state.refresh = {k: _RefreshToken(**v) for k, v in saved["refresh"].items()}

    def _save(self) -> None:
        """Write grants and tokens through to the store (call without the lock)."""
        if self._store is None:
            return
        with self._lock:
            data = {
                "grants": {
                    k: asdict(v) | {"scopes": sorted(v.scopes)}
                    for k, v in self._state.grants.items()
                },
                "access": {k: asdict(v) for k, v in self._state.access.items()},
                "refresh": {k: asdict(v) for k, v in self._state.refresh.items()},
            }
            self._store.put(_STORE_KIND, _STORE_KEY, data)

    # ----------------------------------------------------------------- admin and faults

    @property
    def issuer(self) -> str | None:
        """The configured issuer, or ``None`` while it is derived from requests."""
        return self._issuer

    def set_issuer(self, issuer: str) -> None:
        """Fix the issuer, e.g. ``f"{server.url}/openid"`` once the port is known."""
        self._issuer = issuer.rstrip("/")

    def revoke_all_tokens(self) -> int:
        """Revoke every grant (its access and refresh tokens); returns how many."""
        with self._lock:
            live = [g for g in self._state.grants.values() if not g.revoked]
            for grant in live:
                grant.revoked = True
        self._save()
        return len(live)

    def expire_refresh_tokens(self) -> int:
        """Let every refresh token expire now (refresh then answers ``invalid_grant``)."""
        now = self._clock()
        with self._lock:
            for grant in self._state.grants.values():
                grant.refresh_expires_at = min(grant.refresh_expires_at, now - 1)
            count = len(self._state.grants)
        self._save()
        return count

    def expire_access_tokens(self) -> int:
        """Let every access token expire now (the APIs then answer 401)."""
        now = self._clock()
        with self._lock:
            for token in self._state.access.values():
                token.expires_at = min(token.expires_at, now - 1)
            count = len(self._state.access)
        self._save()
        return count

    def fail_token_requests(self, count: int, *, status: int = 503) -> None:
        """Answer the next ``count`` token requests with ``status`` (transient failure)."""
        with self._lock:
            self._faults.token_failures = count
            self._faults.token_failure_status = status

    def set_token_latency(self, seconds: float) -> None:
        """Delay every token response by ``seconds`` (to widen race windows in tests)."""
        with self._lock:
            self._faults.token_latency = seconds

    def mint_tokens(
        self,
        client_id: str,
        scopes: Iterable[str],
        *,
        subject: str | None = None,
    ) -> MintedTokens:
        """Issue tokens without the browser flow (for tests of the API side)."""
        if client_id not in self.clients:
            raise KeyError(f"unknown client {client_id!r}")
        user = subject or next(iter(self._subjects), "emulator-user")
        with self._lock:
            access, refresh = self._issue(client_id, user, frozenset(scopes), grant_id=None)
        self._save()
        return MintedTokens(access, refresh, self.access_token_ttl)

    # ----------------------------------------------------------------- the seam

    def check_access_token(self, token: str) -> AccessGrant | None:
        """The grant behind ``token`` when it is known, unexpired and not revoked."""
        with self._lock:
            entry = self._state.access.get(token)
            if entry is None or entry.expires_at <= self._clock():
                return None
            grant = self._state.grants[entry.grant_id]
            if grant.revoked:
                return None
            return AccessGrant(
                client_id=grant.client_id,
                scopes=grant.scopes,
                subject=grant.subject,
                expires_at=entry.expires_at,
            )

    # ----------------------------------------------------------------- routes

    def routes(self) -> list[BaseRoute]:
        """Starlette routes to mount at the root of the emulator app."""
        return [
            Route(f"{ISSUER_PATH}/.well-known/openid-configuration", self._discovery),
            Route(f"{ISSUER_PATH}/authorize", self._authorize, methods=["GET"]),
            Route(f"{ISSUER_PATH}/authorize", self._authorize_submit, methods=["POST"]),
            Route("/token", self._token_endpoint, methods=["POST"]),
            Route("/revoke", self._revoke, methods=["POST"]),
            Route("/userinfo", self._userinfo, methods=["GET", "POST"]),
            Route("/certs", self._certs, methods=["GET"]),
        ]

    def issuer_for(self, request: Request) -> str:
        """The issuer: configured, else ``<request base URL>/openid``."""
        return self._issuer or str(request.base_url).rstrip("/") + ISSUER_PATH

    def discovery_document(self, issuer: str) -> dict[str, Any]:
        """The OpenID Connect discovery document for ``issuer``."""
        base = issuer[: -len(ISSUER_PATH)] if issuer.endswith(ISSUER_PATH) else issuer
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{base}/token",
            "revocation_endpoint": f"{base}/revoke",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/certs",
            "response_types_supported": ["code", "code id_token"],
            "response_modes_supported": ["query", "fragment"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": sorted(self.supported_scopes),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "name", "given_name", "family_name", "email"],
            "authorization_response_iss_parameter_supported": True,
        }

    async def _discovery(self, request: Request) -> Response:
        return JSONResponse(self.discovery_document(self.issuer_for(request)))

    async def _certs(self, request: Request) -> Response:
        return JSONResponse(self._signer.jwks())

    # ----------------------------------------------------------------- authorize

    async def _authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        issuer = self.issuer_for(request)
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            return HTMLResponse(error_page("Unknown client", "client_id is not registered"), 400)
        redirect_uri = params.get("redirect_uri", "")
        if not client.redirect_allowed(redirect_uri):
            return HTMLResponse(
                error_page("Invalid redirect_uri", "redirect_uri is not registered"), 400
            )
        state = params.get("state", "")

        def fail(error: str, description: str) -> Response:
            query = {"error": error, "error_description": description, "iss": issuer}
            if state:
                query["state"] = state
            return RedirectResponse(_with_query(redirect_uri, query), 302)

        response_type = frozenset(params.get("response_type", "").split())
        if response_type not in RESPONSE_TYPES:
            return fail(
                "unsupported_response_type", "response_type must be 'code' or 'code id_token'"
            )
        with_id_token = "id_token" in response_type
        # OIDC Core 3.3.2.5: a hybrid answer goes in the fragment unless asked otherwise
        response_mode = params.get("response_mode") or ("fragment" if with_id_token else "query")
        if response_mode not in ("query", "fragment"):
            return fail("invalid_request", "response_mode must be 'query' or 'fragment'")
        if not params.get("code_challenge"):
            return fail("invalid_request", "code_challenge missing")
        if params.get("code_challenge_method") != "S256":
            return fail("invalid_request", "code_challenge_method must be S256")
        if len(state) < MIN_STATE_LENGTH:
            return fail("invalid_request", "state too short" if state else "state missing")
        nonce = params.get("nonce", "")
        if len(nonce) < MIN_NONCE_LENGTH:
            return fail("invalid_request", "nonce too short" if nonce else "nonce missing")
        scopes = tuple(dict.fromkeys(params.get("scope", "").split()))
        unknown = [s for s in scopes if s not in self.supported_scopes]
        if not scopes or unknown:
            return fail("invalid_scope", f"unsupported scope: {' '.join(unknown) or '(none)'}")
        auth = _AuthRequest(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            state=state,
            nonce=nonce,
            code_challenge=params["code_challenge"],
            issuer=issuer,
            created_at=self._clock(),
            with_id_token=with_id_token,
            response_mode=response_mode,
        )
        if self.auto_consent and self.auto_consent_user in self.users:
            self.counts["auto_consent"] += 1
            return self._approve(auth, self.users[self.auto_consent_user])
        interaction = _token()
        with self._lock:
            self._prune_interactions()
            self._state.interactions[interaction] = auth
        return self._consent_page(request, interaction, auth)

    def _consent_page(
        self, request: Request, interaction: str, auth: _AuthRequest, message: str | None = None
    ) -> Response:
        page = consent_page(
            interaction=interaction,
            client_id=auth.client_id,
            scopes=auth.scopes,
            action=str(request.url.replace(query="")),
            message=message,
            demo_logins=[
                (u.username, u.password.get_secret_value())
                for u in self.users.values()
                if u in DEFAULT_USERS
            ],
        )
        response = HTMLResponse(page, 401 if message else 200)
        response.headers["Cache-Control"] = "no-store"
        return response

    async def _authorize_submit(self, request: Request) -> Response:
        form = await request.form()
        interaction = str(form.get("interaction", ""))
        with self._lock:
            self._prune_interactions()
            auth = self._state.interactions.get(interaction)
        if auth is None:
            return HTMLResponse(
                error_page("Login expired", "This login page is no longer valid; start again."),
                400,
            )
        if form.get("decision") == "deny":
            with self._lock:
                self._state.interactions.pop(interaction, None)
            query = {
                "error": "access_denied",
                "error_description": "the user denied access",
                "state": auth.state,
                "iss": auth.issuer,
            }
            return RedirectResponse(_with_query(auth.redirect_uri, query), 302)
        user = self.users.get(str(form.get("username", "")))
        password = str(form.get("password", ""))
        if user is None or not hmac.compare_digest(
            password.encode(), user.password.get_secret_value().encode()
        ):
            self.counts["login_failed"] += 1
            return self._consent_page(request, interaction, auth, "Wrong user or password.")
        with self._lock:
            self._state.interactions.pop(interaction, None)
        self.counts["consent"] += 1
        return self._approve(auth, user)

    def _approve(self, auth: _AuthRequest, user: EmulatorUser) -> Response:
        code = _token()
        with self._lock:
            self._state.codes[code] = _Code(auth, user.subject, self._clock() + self.code_ttl)
        answer = {"code": code, "state": auth.state, "iss": auth.issuer}
        if auth.with_id_token:
            answer["id_token"] = self._signer.sign(self._hybrid_claims(auth, user, code))
        if auth.response_mode == "fragment":
            return RedirectResponse(f"{auth.redirect_uri}#{urlencode(answer)}", 302)
        return RedirectResponse(_with_query(auth.redirect_uri, answer), 302)

    def _hybrid_claims(self, auth: _AuthRequest, user: EmulatorUser, code: str) -> dict[str, Any]:
        """ID-token claims of a ``code id_token`` answer, with ``c_hash`` (OIDC Core 3.3.2.11)."""
        digest = hashlib.sha256(code.encode("ascii")).digest()
        now = int(self._clock())
        return {
            "iss": auth.issuer,
            "sub": user.subject,
            "aud": auth.client_id,
            "iat": now,
            "exp": now + self.access_token_ttl,
            "nonce": auth.nonce,
            "c_hash": base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii"),
        }

    def _prune(self, now: float) -> None:
        """Forget long-expired codes and access tokens (call with the lock held)."""
        horizon = now - 3600
        for code in [k for k, v in self._state.codes.items() if v.expires_at < horizon]:
            del self._state.codes[code]
        for token in [k for k, v in self._state.access.items() if v.expires_at < horizon]:
            del self._state.access[token]

    def _prune_interactions(self) -> None:
        horizon = self._clock() - INTERACTION_TTL
        for key in [k for k, v in self._state.interactions.items() if v.created_at < horizon]:
            del self._state.interactions[key]

    # ----------------------------------------------------------------- token endpoint

    def _authenticate(self, request: Request, form: Mapping[str, str]) -> OAuthClientRegistration:
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
                raw_id, _, raw_secret = decoded.partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise _OAuthError("invalid_client", "malformed Basic credentials", 401) from None
            client = self.clients.get(unquote_plus(raw_id))
            if client is None or client.client_secret is None:
                raise _OAuthError("invalid_client", "Invalid client id or secret", 401)
            expected = client.client_secret.get_secret_value().encode()
            if not hmac.compare_digest(unquote_plus(raw_secret).encode(), expected):
                raise _OAuthError("invalid_client", "Invalid client id or secret", 401)
            if form.get("client_id") not in (None, client.client_id):
                raise _OAuthError("invalid_request", "client_id differs from the Basic user")
            return client
        client_id = form.get("client_id")
        if not client_id:
            raise _OAuthError("invalid_client", "no client authentication provided", 401)
        client = self.clients.get(client_id)
        if client is None:
            raise _OAuthError("invalid_client", "Invalid client id or secret", 401)
        if client.client_secret is not None:
            raise _OAuthError(
                "invalid_client", "this client must authenticate with HTTP Basic", 401
            )
        return client

    async def _token_endpoint(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        if self._faults.token_latency > 0:
            await asyncio.sleep(self._faults.token_latency)
        with self._lock:
            if self._faults.token_failures > 0:
                self._faults.token_failures -= 1
                status = self._faults.token_failure_status
                self.counts["injected_failure"] += 1
                return _no_store(
                    JSONResponse(
                        {"error": "temporarily_unavailable", "error_description": "injected"},
                        status,
                        headers={"Retry-After": "1"},
                    )
                )
        grant_type = form.get("grant_type", "")
        try:
            client = self._authenticate(request, form)
            if grant_type == "authorization_code":
                body = self._redeem_code(client, form, request)
            elif grant_type == "refresh_token":
                body = self._redeem_refresh(client, form)
            else:
                raise _OAuthError("unsupported_grant_type", f"unsupported grant {grant_type!r}")
        except _OAuthError as exc:
            self._save()  # a refused reuse revokes a grant
            self.counts[f"refused_{grant_type or 'unknown'}"] += 1
            headers = {"WWW-Authenticate": "Basic"} if exc.status == 401 else None
            return _no_store(
                JSONResponse(
                    {"error": exc.error, "error_description": exc.description},
                    exc.status,
                    headers=headers,
                )
            )
        self._save()
        self.counts[grant_type] += 1
        return _no_store(JSONResponse(body))

    def _redeem_code(
        self, client: OAuthClientRegistration, form: Mapping[str, str], request: Request
    ) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            code = self._state.codes.get(form.get("code", ""))
            if code is None:
                raise _OAuthError("invalid_grant", "unknown authorization code")
            if code.grant_id is not None:
                # RFC 6749 4.1.2: a reused code revokes what it issued.
                self._state.grants[code.grant_id].revoked = True
                raise _OAuthError("invalid_grant", "authorization code already used")
            auth = code.request
            if code.expires_at <= now:
                raise _OAuthError("invalid_grant", "authorization code expired")
            if auth.client_id != client.client_id:
                raise _OAuthError("invalid_grant", "authorization code issued to another client")
            if form.get("redirect_uri") != auth.redirect_uri:
                raise _OAuthError("invalid_grant", "redirect_uri does not match the authorization")
            verifier = form.get("code_verifier", "")
            if not 43 <= len(verifier) <= 128:
                raise _OAuthError("invalid_grant", "code_verifier missing or of wrong length")
            if not hmac.compare_digest(_s256(verifier), auth.code_challenge):
                raise _OAuthError("invalid_grant", "PKCE verification failed")
            grant_id = _token()
            code.grant_id = grant_id
            scopes = frozenset(auth.scopes)
            access, refresh = self._issue(client.client_id, code.subject, scopes, grant_id=grant_id)
        claims = {
            "iss": auth.issuer,
            "sub": code.subject,
            "aud": client.client_id,
            "iat": int(now),
            "exp": int(now) + self.access_token_ttl,
            "nonce": auth.nonce,
        }
        user = self._subjects.get(code.subject)
        if user is not None and "profile" in scopes:
            claims["name"] = user.name
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_token_ttl,
            "refresh_token": refresh,
            "scope": " ".join(auth.scopes),
            "id_token": self._signer.sign(claims),
        }

    def _redeem_refresh(
        self, client: OAuthClientRegistration, form: Mapping[str, str]
    ) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            entry = self._state.refresh.get(form.get("refresh_token", ""))
            if entry is None:
                raise _OAuthError("invalid_grant", "unknown refresh token")
            grant = self._state.grants[entry.grant_id]
            if grant.client_id != client.client_id:
                raise _OAuthError("invalid_grant", "refresh token issued to another client")
            if entry.used:
                grant.revoked = True  # reuse detected: the whole grant dies
                raise _OAuthError("invalid_grant", "refresh token already used; grant revoked")
            if grant.revoked:
                raise _OAuthError("invalid_grant", "grant revoked")
            if grant.refresh_expires_at <= now:
                raise _OAuthError("invalid_grant", "refresh token expired")
            scopes = grant.scopes
            if form.get("scope"):
                asked = frozenset(form["scope"].split())
                if not asked <= grant.scopes:
                    raise _OAuthError("invalid_scope", "scope exceeds the grant")
                scopes = asked
            entry.used = True
            access, refresh = self._issue(
                client.client_id, grant.subject, scopes, grant_id=entry.grant_id
            )
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_token_ttl,
            "refresh_token": refresh,
            "scope": " ".join(sorted(scopes)),
        }

    def _issue(
        self, client_id: str, subject: str, scopes: frozenset[str], *, grant_id: str | None
    ) -> tuple[str, str]:
        """New access + refresh token; call with the lock held."""
        now = self._clock()
        self._prune(now)
        if grant_id is None or grant_id not in self._state.grants:
            ttl = (
                self.offline_refresh_token_ttl
                if "offline_access" in scopes
                else self.refresh_token_ttl
            )
            grant_id = grant_id or _token()
            self._state.grants[grant_id] = _Grant(client_id, subject, scopes, now + ttl)
        else:
            grant = self._state.grants[grant_id]
            if scopes != grant.scopes:
                self._state.grants[grant_id] = replace(grant, scopes=scopes)
        access, refresh = _token(), _token()
        self._state.access[access] = _AccessToken(grant_id, now + self.access_token_ttl)
        self._state.refresh[refresh] = _RefreshToken(grant_id)
        return access, refresh

    # ----------------------------------------------------------------- revoke, userinfo

    async def _revoke(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            client = self._authenticate(request, form)
            hint = form.get("token_type_hint")
            if hint not in {"access_token", "refresh_token"}:
                raise _OAuthError("invalid_request", "token_type_hint is required")
        except _OAuthError as exc:
            return _no_store(
                JSONResponse({"error": exc.error, "error_description": exc.description}, exc.status)
            )
        token = form.get("token", "")
        with self._lock:
            entry: _AccessToken | _RefreshToken | None = self._state.refresh.get(
                token
            ) or self._state.access.get(token)
            if entry is not None:
                grant = self._state.grants[entry.grant_id]
                if grant.client_id == client.client_id:
                    if isinstance(entry, _RefreshToken):
                        grant.revoked = True  # the refresh token carries the whole grant
                    else:
                        entry.expires_at = min(entry.expires_at, self._clock() - 1)
        self._save()
        self.counts["revocation"] += 1
        return _no_store(Response(status_code=200))

    async def _userinfo(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        grant = (
            self.check_access_token(header[7:].strip()) if header[:7].lower() == "bearer " else None
        )
        if grant is None:
            return JSONResponse(
                {"error": "invalid_token"},
                401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        user = self._subjects.get(grant.subject)
        info: dict[str, Any] = {"sub": grant.subject}
        if user is not None:
            given, _, family = user.name.partition(" ")
            info.update(name=user.name, given_name=given, family_name=family, email=user.email)
        return JSONResponse(info)


def create_idp_app(idp: IdentityProvider) -> Starlette:
    """A standalone app serving only the identity provider."""
    return Starlette(routes=idp.routes())
