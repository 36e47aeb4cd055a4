"""Verify an ID token: signature against the issuer's JWKS, then iss, aud, nonce and time.

The keys come from the provider's ``jwks_uri`` (DATEV publishes its keys; the
emulator's identity provider too), fetched per login. Decoding and checking are
done by ``joserfc``; a token that fails any check is refused as an
:class:`IdTokenRejectedError` (a :class:`NeedsUserError`: the user starts the login
again), a provider without usable keys as a :class:`ConfigurationError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from ml_connector.datev.oauth.endpoints import ProviderEndpoints
from ml_connector.errors import ConfigurationError, NeedsUserError, RetriableError

if TYPE_CHECKING:  # joserfc is imported by the login only, not by every run
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

__all__ = ["ID_TOKEN_ALGORITHMS", "IdTokenRejectedError", "fetch_jwks", "verify_id_token"]

#: signature algorithms accepted for ID tokens (asymmetric only: no "none", no HMAC)
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384")
#: clock difference tolerated for exp / iat / nbf, seconds
LEEWAY = 60
_HINT = "start the login again; if it repeats, check the clock and the identity provider URL"


class IdTokenRejectedError(NeedsUserError):
    """The ID token failed its signature or a claim check."""


async def fetch_jwks(endpoints: ProviderEndpoints, http: httpx.AsyncClient) -> KeySet:
    """The provider's signing keys."""
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    if not endpoints.jwks_uri:
        raise ConfigurationError(
            f"the identity provider {endpoints.issuer} publishes no signing keys (jwks_uri)",
            hint="use an OpenID Connect provider whose discovery document names jwks_uri",
        )
    try:
        response = await http.get(endpoints.jwks_uri, headers={"Accept": "application/json"})
    except httpx.TransportError as exc:
        raise RetriableError(
            f"cannot fetch the signing keys at {endpoints.jwks_uri}: {exc}"
        ) from None
    if response.status_code >= 500:
        raise RetriableError(f"{endpoints.jwks_uri} answered {response.status_code}")
    try:
        if response.status_code != 200:
            raise ValueError(response.status_code)
        return KeySet.import_key_set(response.json())
    except (ValueError, TypeError, KeyError, JoseError):
        raise ConfigurationError(
            f"{endpoints.jwks_uri} does not serve a usable JWK Set",
            hint="check the identity provider URL",
        ) from None


def _claims_problem(exc: JoseError) -> str:
    from joserfc.errors import ExpiredTokenError, InvalidClaimError, MissingClaimError

    if isinstance(exc, ExpiredTokenError):
        return "the ID token has expired"
    if isinstance(exc, InvalidClaimError | MissingClaimError):
        claim = str(getattr(exc, "claim", "") or exc.description or "")
        names = {"iss": "another issuer", "aud": "another client", "nonce": "another login"}
        for name, meaning in names.items():
            if name in claim:
                return f"the ID token was issued for {meaning} ({name} does not match)"
        return f"the ID token has an invalid claim ({exc.error})"
    return f"the ID token was refused ({exc.error})"


def verify_id_token(
    id_token: SecretStr,
    keys: KeySet,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The verified claims of ``id_token``; :class:`IdTokenRejectedError` otherwise."""
    from joserfc import jwt
    from joserfc.errors import JoseError

    try:
        token = jwt.decode(id_token.get_secret_value(), keys, algorithms=list(ID_TOKEN_ALGORITHMS))
    except JoseError:
        raise IdTokenRejectedError(
            "the ID token's signature does not verify against the identity provider's keys",
            hint=_HINT,
        ) from None
    except ValueError:
        raise IdTokenRejectedError(
            "the identity provider sent a malformed ID token", hint=_HINT
        ) from None
    registry = jwt.JWTClaimsRegistry(
        now=lambda: int(clock()),
        leeway=LEEWAY,
        iss={"essential": True, "values": [issuer.rstrip("/"), issuer.rstrip("/") + "/"]},
        aud={"essential": True, "value": client_id},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
    )
    try:
        registry.validate(token.claims)
    except JoseError as exc:
        raise IdTokenRejectedError(_claims_problem(exc), hint=_HINT) from None
    return dict(token.claims)
