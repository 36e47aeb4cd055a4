"""The one resolver of credential references (``env:NAME`` and ``store:OWNER``).

Every secret the configuration refers to (a customer's Looker key, a DATEV app's
client secret, a webhook signing secret, an SMTP password) is resolved here, for
that customer's reference only; no variable applies to several customers.

* ``store:OWNER`` reads the encrypted credential store entry ``(OWNER, kind)``.
* ``env:NAME`` reads environment variables named after the kind: ``NAME_CLIENT_ID``
  for ``looker_client_id``, ``NAME_CLIENT_SECRET`` for ``looker_client_secret`` and
  ``datev_client_secret`` (which also accepts ``NAME`` itself), and ``NAME`` for
  every other kind.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import SecretStr

from ml_connector.config.models import CredentialRef
from ml_connector.credentials.store import CredentialStore
from ml_connector.errors import ConfigurationError

__all__ = ["ENV_SUFFIXES", "env_variables", "resolve_secret"]

#: variable suffixes an ``env:NAME`` reference reads, per kind, first match wins
ENV_SUFFIXES: dict[str, tuple[str, ...]] = {
    "looker_client_id": ("_CLIENT_ID",),
    "looker_client_secret": ("_CLIENT_SECRET",),
    "datev_client_secret": ("_CLIENT_SECRET", ""),
}


def env_variables(ref: CredentialRef, kind: str) -> tuple[str, ...]:
    """The environment variables an ``env:`` reference reads for ``kind``."""
    return tuple(ref.name + suffix for suffix in ENV_SUFFIXES.get(kind, ("",)))


def _parse(reference: str | CredentialRef) -> CredentialRef:
    if isinstance(reference, CredentialRef):
        return reference
    try:
        return CredentialRef.parse(reference)
    except ValueError:
        raise ConfigurationError(
            "a credential setting is not a reference (the value is not shown, it may be a secret)",
            hint='write "env:NAME" or "store:OWNER" and keep the secret there',
        ) from None


def resolve_secret(
    reference: str | CredentialRef,
    *,
    kind: str,
    store: CredentialStore | None,
    environ: Mapping[str, str] | None = None,
) -> SecretStr:
    """The secret of ``kind`` behind ``reference``; a :class:`ConfigurationError` says
    what to set when it is missing."""
    ref = _parse(reference)
    if ref.scheme == "env":
        env = os.environ if environ is None else environ
        names = env_variables(ref, kind)
        for name in names:
            value = env.get(name)
            if value:
                return SecretStr(value)
        raise ConfigurationError(
            f"credential {ref} is not set", hint=f"export {' or '.join(names)} before starting"
        )
    if store is None:
        raise ConfigurationError(
            f"credential {ref} lives in the credential store, which this command does not open",
            hint="run it with the store (worker, run) or refer to the secret as env:NAME",
        )
    return store.get(ref.name, kind)
