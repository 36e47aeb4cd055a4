"""Authorization Code + PKCE (S256) as two pure steps around the user's browser.

:func:`begin_authorization` returns the consent URL and a :class:`PendingAuthorization`
(state, nonce and PKCE verifier) that the caller keeps: in memory for the CLI's
loopback receiver, server-side in a session for a web service.
:func:`complete_authorization` checks the callback against it and exchanges the code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from pydantic import SecretStr

from ml_connector.datev.oauth.client import TokenEndpointClient, TokenSet
from ml_connector.datev.oauth.endpoints import ProviderEndpoints
from ml_connector.datev.oauth.idtoken import fetch_jwks, verify_id_token
from ml_connector.errors import NeedsUserError, RemoteRejectedError

__all__ = [
    "MIN_RANDOM_LENGTH",
    "CallbackRejectedError",
    "PendingAuthorization",
    "begin_authorization",
    "complete_authorization",
    "random_token",
    "s256_challenge",
]

#: DATEV refuses ``state`` and ``nonce`` shorter than 20 characters
MIN_RANDOM_LENGTH = 20
#: how long a started login may wait for its callback
PENDING_LIFETIME = 15 * 60


class CallbackRejectedError(NeedsUserError):
    """The authorization response failed a check (state, iss, nonce, age, error)."""


def s256_challenge(verifier: str) -> str:
    """The PKCE ``code_challenge`` for ``verifier`` (RFC 7636 4.2, S256)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def random_token(nbytes: int = 32) -> str:
    """URL-safe random text; 32 bytes give 43 characters (well over the 20 DATEV needs)."""
    return secrets.token_urlsafe(nbytes)


@dataclass(frozen=True)
class PendingAuthorization:
    """A started login: what the callback must match, and the PKCE verifier.

    Keep it server-side (it holds the verifier); :meth:`to_dict` / :meth:`from_dict`
    let a web service put it into its session store.
    """

    state: str
    nonce: str
    code_verifier: SecretStr
    redirect_uri: str
    issuer: str
    client_id: str
    scope: str
    created_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (includes the verifier: store it where secrets may live)."""
        return {
            "state": self.state,
            "nonce": self.nonce,
            "code_verifier": self.code_verifier.get_secret_value(),
            "redirect_uri": self.redirect_uri,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "scope": self.scope,
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PendingAuthorization:
        """Inverse of :meth:`to_dict`."""
        return cls(
            state=str(data["state"]),
            nonce=str(data["nonce"]),
            code_verifier=SecretStr(str(data["code_verifier"])),
            redirect_uri=str(data["redirect_uri"]),
            issuer=str(data["issuer"]),
            client_id=str(data["client_id"]),
            scope=str(data["scope"]),
            created_at=float(data["created_at"]),
        )


def begin_authorization(
    endpoints: ProviderEndpoints,
    *,
    client_id: str,
    redirect_uri: str,
    scope: str,
    prompt: str | None = "consent",
    extra_params: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.time,
) -> tuple[str, PendingAuthorization]:
    """The consent URL to open, and the pending state to keep until the callback."""
    pending = PendingAuthorization(
        state=random_token(),
        nonce=random_token(),
        code_verifier=SecretStr(random_token(48)),  # 64 characters, within RFC 7636's 43..128
        redirect_uri=redirect_uri,
        issuer=endpoints.issuer,
        client_id=client_id,
        scope=scope,
        created_at=clock(),
    )
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": pending.state,
        "nonce": pending.nonce,
        "code_challenge": s256_challenge(pending.code_verifier.get_secret_value()),
        "code_challenge_method": "S256",
    }
    if prompt:
        params["prompt"] = prompt  # OIDC Core 11: offline_access needs prompt=consent
    params.update(extra_params or {})
    separator = "&" if "?" in endpoints.authorization_endpoint else "?"
    return f"{endpoints.authorization_endpoint}{separator}{urlencode(params)}", pending


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def check_callback(
    params: Mapping[str, str],
    pending: PendingAuthorization,
    *,
    iss_required: bool = False,
    clock: Callable[[], float] = time.time,
) -> str:
    """The authorization code, after checking ``state``, ``iss``, errors and age."""
    if clock() - pending.created_at > PENDING_LIFETIME:
        raise CallbackRejectedError(
            "the login took too long and has expired", hint="start the login again"
        )
    if not _same(params.get("state"), pending.state):
        raise CallbackRejectedError(
            "the login callback carries a state that does not match this login "
            "(possible cross-site request forgery, or an old browser tab)",
            hint="start the login again and finish it in the browser tab it opens",
        )
    iss = params.get("iss")
    if iss is not None and iss.rstrip("/") != pending.issuer.rstrip("/"):
        raise CallbackRejectedError(
            f"the login callback comes from issuer {iss!r}, expected {pending.issuer!r} "
            "(possible mix-up attack)",
            hint="start the login again; check which identity provider is configured",
        )
    if iss is None and iss_required:
        raise CallbackRejectedError(
            "the login callback lacks the iss parameter its provider promises",
            hint="start the login again",
        )
    error = params.get("error")
    if error:
        description = params.get("error_description", "")
        if error == "access_denied":
            raise CallbackRejectedError(
                f"consent was refused at the identity provider ({description or error})",
                hint="start the login again and allow access",
            )
        raise RemoteRejectedError(
            f"the identity provider refused the login ({error}: {description})",
            detail=f"{error}: {description}",
        )
    code = params.get("code")
    if not code:
        raise CallbackRejectedError(
            "the login callback carries no authorization code", hint="start the login again"
        )
    return code


async def complete_authorization(
    params: Mapping[str, str],
    pending: PendingAuthorization,
    token_client: TokenEndpointClient,
    *,
    clock: Callable[[], float] = time.time,
) -> TokenSet:
    """Check the callback query ``params`` against ``pending`` and exchange the code."""
    if token_client.client.client_id != pending.client_id:
        raise CallbackRejectedError("this login was started for another OAuth client")
    code = check_callback(
        params,
        pending,
        iss_required=token_client.endpoints.iss_parameter_supported,
        clock=clock,
    )
    tokens = await token_client.exchange_code(
        code,
        redirect_uri=pending.redirect_uri,
        code_verifier=pending.code_verifier.get_secret_value(),
    )
    if tokens.id_token is not None:
        keys = await fetch_jwks(token_client.endpoints, token_client.http)
        verify_id_token(
            tokens.id_token,
            keys,
            issuer=pending.issuer,
            client_id=pending.client_id,
            nonce=pending.nonce,
            clock=clock,
        )
    return tokens
