"""Logins begun and waiting for their callback: per connection, short-lived, single use.

A login's ``state``, ``nonce`` and redirect URI sit in ``oauth_pending_logins``; its
PKCE verifier sits encrypted in the credential store under ``datev-login:<state>``.
:meth:`PendingLogins.take` removes the login in the same transaction that reads it,
so a callback is completed at most once, even by two processes at the same time.
Both the web callback and the CLI's loopback receiver go through here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa
from pydantic import SecretStr

from ml_connector.credentials import CredentialStore
from ml_connector.datev.oauth.flow import (
    PENDING_LIFETIME,
    CallbackRejectedError,
    PendingAuthorization,
)
from ml_connector.store.tables import OAUTH_PENDING_LOGINS

__all__ = ["CODE_VERIFIER", "PendingLogins", "StartedLogin", "login_owner"]

CODE_VERIFIER = "code_verifier"


def login_owner(state: str) -> str:
    """The credential-store owner of a pending login's PKCE verifier."""
    return f"datev-login:{state}"


@dataclass(frozen=True)
class StartedLogin:
    """A login taken from the store: for which connection, begun by whom."""

    connection: str
    pending: PendingAuthorization
    started_by: str | None


class PendingLogins:
    """The pending logins on one database."""

    def __init__(self, credentials: CredentialStore) -> None:
        self.credentials = credentials
        self.engine = credentials.engine

    def put(
        self,
        connection: str,
        pending: PendingAuthorization,
        *,
        started_by: str | None = None,
        clock: float | None = None,
    ) -> None:
        """Keep ``pending`` for ``connection`` until its callback; drops expired logins."""
        now = time.time() if clock is None else clock
        with self.engine.begin() as conn:
            self._purge(conn, now)
            conn.execute(
                sa.insert(OAUTH_PENDING_LOGINS).values(
                    state=pending.state,
                    connection=connection,
                    nonce=pending.nonce,
                    redirect_uri=pending.redirect_uri,
                    issuer=pending.issuer,
                    client_id=pending.client_id,
                    scope=pending.scope,
                    created_at=pending.created_at,
                    started_by=started_by,
                )
            )
            self.credentials.put(
                login_owner(pending.state), CODE_VERIFIER, pending.code_verifier, conn=conn
            )

    def take(self, state: str | None) -> StartedLogin:
        """Remove and return the login begun with ``state``; refused when unknown or used.

        The age is checked by :func:`~ml_connector.datev.oauth.flow.check_callback`.
        """
        if not state:
            raise CallbackRejectedError(
                "the login callback carries no state", hint="start the login again"
            )
        key = OAUTH_PENDING_LOGINS.c.state == state
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(OAUTH_PENDING_LOGINS).where(key).with_for_update()
            ).one_or_none()
            deleted = conn.execute(sa.delete(OAUTH_PENDING_LOGINS).where(key)).rowcount
            verifier = self.credentials.find(login_owner(state), CODE_VERIFIER, conn=conn)
            self.credentials.delete(login_owner(state), conn=conn)
        if row is None or not deleted or verifier is None:
            raise CallbackRejectedError(
                "this login is unknown, expired or already completed "
                "(an old browser tab, or a forged callback)",
                hint="start the login again and finish it in the browser tab it opens",
            )
        m = row._mapping
        pending = PendingAuthorization(
            state=m["state"],
            nonce=m["nonce"],
            code_verifier=SecretStr(verifier.get_secret_value()),
            redirect_uri=m["redirect_uri"],
            issuer=m["issuer"],
            client_id=m["client_id"],
            scope=m["scope"],
            created_at=m["created_at"],
        )
        return StartedLogin(m["connection"], pending, m["started_by"])

    def waiting(self, connection: str) -> int:
        """How many logins of ``connection`` wait for their callback (expired ones too)."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(OAUTH_PENDING_LOGINS)
                    .where(OAUTH_PENDING_LOGINS.c.connection == connection)
                ).scalar_one()
            )

    def _purge(self, conn: sa.Connection, now: float) -> None:
        stale = OAUTH_PENDING_LOGINS.c.created_at < now - PENDING_LIFETIME
        for state in conn.execute(sa.select(OAUTH_PENDING_LOGINS.c.state).where(stale)).scalars():
            self.credentials.delete(login_owner(state), conn=conn)
        conn.execute(sa.delete(OAUTH_PENDING_LOGINS).where(stale))
