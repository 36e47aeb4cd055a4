"""Persisted DATEV OAuth connections: metadata in ``oauth_connections``, tokens encrypted.

The table is defined with the others in :mod:`ml_connector.store.tables`.

One row per named connection (usually one per customer) holds where the provider
is, which client and scope were used, the token expiries and whether the user
must give consent again. The tokens and the client secret live in the credential
store under the owner ``datev-connection:<name>``, so they are encrypted, bound to
this connection, and covered by key rotation.

:meth:`ConnectionStore.lock` serialises refreshes across threads, processes and
machines: PostgreSQL ``SELECT ... FOR UPDATE`` on the row, SQLite ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy import Connection, Engine

from ml_connector.credentials import CredentialStore
from ml_connector.datev.oauth.client import OAuthClient, TokenSet
from ml_connector.datev.oauth.endpoints import ProviderEndpoints
from ml_connector.errors import ReconsentRequiredError
from ml_connector.store.tables import OAUTH_CONNECTIONS

__all__ = [
    "STATUS_CONNECTED",
    "STATUS_RECONSENT",
    "ConnectionInfo",
    "ConnectionStore",
    "LockedConnection",
    "credential_owner",
    "needs_person",
    "open_connection_store",
    "relogin_hint",
]

STATUS_CONNECTED = "connected"
STATUS_RECONSENT = "reconsent_required"

ACCESS_TOKEN = "access_token"  # noqa: S105 - a kind name
REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a kind name
CLIENT_SECRET = "client_secret"  # noqa: S105 - a kind name


def relogin_hint(name: str) -> str:
    """How to give consent again for connection ``name``."""
    return (
        f"log in again: `ml-connector datev login --customer {name}` "
        f"(or `--connection {name}` with the same client options)"
    )


def credential_owner(name: str) -> str:
    """The credential-store owner of connection ``name``'s tokens and secret."""
    return f"datev-connection:{name}"


@dataclass(frozen=True)
class ConnectionInfo:
    """A connection's metadata (no secrets)."""

    name: str
    endpoints: ProviderEndpoints
    client_id: str
    confidential: bool
    scope: str
    status: str
    status_detail: str | None
    subject: str | None
    connected_at: float
    refreshed_at: float | None
    access_expires_at: float | None
    refresh_expires_at: float | None
    generation: int

    @property
    def reconsent_required(self) -> bool:
        """Whether the user must log in again before DATEV can be used."""
        return self.status == STATUS_RECONSENT

    def needs_person(self, now: float) -> str | None:
        """Why a person must log in again before DATEV can be used, or ``None``.

        Re-consent was recorded (refresh token refused, revoked or used twice), or the
        refresh token's stated expiry has passed (DATEV states none unless it sends
        ``refresh_expires_in``; then only a refused refresh tells).
        """
        if self.reconsent_required:
            return self.status_detail or "DATEV asks for consent again"
        if self.refresh_expires_at is not None and self.refresh_expires_at <= now:
            return "the refresh token has expired"
        return None

    def reconsent_error(self) -> ReconsentRequiredError:
        """The error to raise while the connection waits for a new login."""
        return ReconsentRequiredError(
            f"DATEV connection {self.name!r} needs consent again"
            + (f": {self.status_detail}" if self.status_detail else ""),
            hint=relogin_hint(self.name),
        )


def _info(row: sa.Row[tuple[object, ...]]) -> ConnectionInfo:
    m = row._mapping
    return ConnectionInfo(
        name=m["name"],
        endpoints=ProviderEndpoints(
            issuer=m["issuer"],
            authorization_endpoint=m["authorization_endpoint"],
            token_endpoint=m["token_endpoint"],
            revocation_endpoint=m["revocation_endpoint"],
            userinfo_endpoint=m["userinfo_endpoint"],
        ),
        client_id=m["client_id"],
        confidential=bool(m["confidential"]),
        scope=m["scope"],
        status=m["status"],
        status_detail=m["status_detail"],
        subject=m["subject"],
        connected_at=m["connected_at"],
        refreshed_at=m["refreshed_at"],
        access_expires_at=m["access_expires_at"],
        refresh_expires_at=m["refresh_expires_at"],
        generation=m["generation"],
    )


class LockedConnection:
    """A connection row held under lock in an open transaction; commit or roll back once."""

    def __init__(self, store: ConnectionStore, name: str, conn: Connection) -> None:
        self._store = store
        self.name = name
        self._conn = conn
        row = conn.execute(
            sa.select(OAUTH_CONNECTIONS).where(OAUTH_CONNECTIONS.c.name == name).with_for_update()
        ).one_or_none()
        self.info = None if row is None else _info(row)

    def secret(self, kind: str) -> SecretStr | None:
        """A stored token or the client secret, read inside the lock."""
        return self._store.credentials.find(credential_owner(self.name), kind, conn=self._conn)

    def save_tokens(self, tokens: TokenSet, *, clock: float) -> None:
        """Store the rotated tokens (refresh token first) and bump the generation."""
        owner = credential_owner(self.name)
        if tokens.refresh_token is not None:
            self._store.credentials.put(owner, REFRESH_TOKEN, tokens.refresh_token, conn=self._conn)
        self._store.credentials.put(owner, ACCESS_TOKEN, tokens.access_token, conn=self._conn)
        values: dict[str, object] = {
            "refreshed_at": clock,
            "access_expires_at": tokens.expires_at,
            "generation": OAUTH_CONNECTIONS.c.generation + 1,
            "status": STATUS_CONNECTED,
            "status_detail": None,
        }
        if tokens.refresh_expires_at is not None:
            values["refresh_expires_at"] = tokens.refresh_expires_at
        if tokens.scope:
            values["scope"] = tokens.scope
        self._conn.execute(
            sa.update(OAUTH_CONNECTIONS)
            .where(OAUTH_CONNECTIONS.c.name == self.name)
            .values(**values)
        )

    def mark_reconsent(self, detail: str) -> None:
        """Persist "re-consent needed" and forget the dead tokens."""
        owner = credential_owner(self.name)
        self._store.credentials.delete(owner, REFRESH_TOKEN, conn=self._conn)
        self._store.credentials.delete(owner, ACCESS_TOKEN, conn=self._conn)
        self._conn.execute(
            sa.update(OAUTH_CONNECTIONS)
            .where(OAUTH_CONNECTIONS.c.name == self.name)
            .values(status=STATUS_RECONSENT, status_detail=detail, access_expires_at=None)
        )

    def commit(self) -> None:
        """Make the changes durable and release the lock."""
        try:
            self._conn.commit()
        finally:
            self._conn.close()

    def rollback(self) -> None:
        """Drop the changes and release the lock."""
        try:
            self._conn.rollback()
        finally:
            self._conn.close()


class ConnectionStore:
    """Named DATEV OAuth connections on one database."""

    def __init__(self, engine: Engine, credentials: CredentialStore) -> None:
        self.engine = engine
        self.credentials = credentials

    def save_login(
        self,
        name: str,
        *,
        endpoints: ProviderEndpoints,
        client: OAuthClient,
        requested_scope: str,
        tokens: TokenSet,
        subject: str | None = None,
        clock: float | None = None,
    ) -> ConnectionInfo:
        """Store a fresh login: replaces any earlier tokens and clears "re-consent needed"."""
        now = time.time() if clock is None else clock
        owner = credential_owner(name)
        values = {
            "issuer": endpoints.issuer,
            "authorization_endpoint": endpoints.authorization_endpoint,
            "token_endpoint": endpoints.token_endpoint,
            "revocation_endpoint": endpoints.revocation_endpoint,
            "userinfo_endpoint": endpoints.userinfo_endpoint,
            "client_id": client.client_id,
            "confidential": client.confidential,
            "scope": tokens.scope or requested_scope,
            "status": STATUS_CONNECTED,
            "status_detail": None,
            "subject": subject,
            "connected_at": now,
            "refreshed_at": None,
            "access_expires_at": tokens.expires_at,
            "refresh_expires_at": tokens.refresh_expires_at,
        }
        with self.engine.begin() as conn:
            key = OAUTH_CONNECTIONS.c.name == name
            exists = conn.execute(
                sa.select(OAUTH_CONNECTIONS.c.name).where(key).with_for_update()
            ).one_or_none()
            if exists:
                conn.execute(
                    sa.update(OAUTH_CONNECTIONS)
                    .where(key)
                    .values(generation=OAUTH_CONNECTIONS.c.generation + 1, **values)
                )
            else:
                conn.execute(sa.insert(OAUTH_CONNECTIONS).values(name=name, generation=0, **values))
            self.credentials.delete(owner, conn=conn)
            if client.client_secret is not None:
                self.credentials.put(owner, CLIENT_SECRET, client.client_secret, conn=conn)
            if tokens.refresh_token is not None:
                self.credentials.put(owner, REFRESH_TOKEN, tokens.refresh_token, conn=conn)
            self.credentials.put(owner, ACCESS_TOKEN, tokens.access_token, conn=conn)
        info = self.info(name)
        assert info is not None
        return info

    def info(self, name: str) -> ConnectionInfo | None:
        """Metadata of connection ``name``, or ``None``."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(OAUTH_CONNECTIONS).where(OAUTH_CONNECTIONS.c.name == name)
            ).one_or_none()
        return None if row is None else _info(row)

    def names(self) -> list[str]:
        """All stored connection names."""
        with self.engine.connect() as conn:
            return sorted(conn.execute(sa.select(OAUTH_CONNECTIONS.c.name)).scalars())

    def access_token(self, name: str) -> tuple[ConnectionInfo, SecretStr | None] | None:
        """Metadata and the stored access token, read without a lock."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(OAUTH_CONNECTIONS).where(OAUTH_CONNECTIONS.c.name == name)
            ).one_or_none()
            if row is None:
                return None
            token = self.credentials.find(credential_owner(name), ACCESS_TOKEN, conn=conn)
        return _info(row), token

    def client(self, info: ConnectionInfo, locked: LockedConnection | None = None) -> OAuthClient:
        """The OAuth client of a connection, with its stored secret when confidential."""
        if not info.confidential:
            return OAuthClient(info.client_id)
        if locked is not None:
            secret = locked.secret(CLIENT_SECRET)
        else:
            secret = self.credentials.find(credential_owner(info.name), CLIENT_SECRET)
        if secret is None:
            raise info.reconsent_error()
        return OAuthClient(info.client_id, secret)

    def lock(self, name: str) -> LockedConnection:
        """Open a transaction holding connection ``name`` exclusively (blocks while taken)."""
        conn = self.engine.connect()
        try:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.begin()
            return LockedConnection(self, name, conn)
        except BaseException:
            conn.rollback()
            conn.close()
            raise

    def delete(self, name: str) -> bool:
        """Forget connection ``name`` and its secrets; whether it existed."""
        with self.engine.begin() as conn:
            self.credentials.delete(credential_owner(name), conn=conn)
            deleted = conn.execute(
                sa.delete(OAUTH_CONNECTIONS).where(OAUTH_CONNECTIONS.c.name == name)
            ).rowcount
        return bool(deleted)


def needs_person(store: ConnectionStore, name: str, now: float | None = None) -> str | None:
    """Why connection ``name`` needs a person to log in (consent missing too), or ``None``."""
    info = store.info(name)
    if info is None:
        return "DATEV is not connected yet (no consent given)"
    return info.needs_person(time.time() if now is None else now)


def open_connection_store(engine: Engine, data_dir: Path | None = None) -> ConnectionStore:
    """A connection store on ``engine`` with the configured credential keys.

    Keys come from :func:`ml_connector.credentials.load_keys` (environment, keyring,
    or the data directory's key file); the database must be migrated.
    """
    from ml_connector.credentials import open_credential_store

    return ConnectionStore(engine, open_credential_store(engine, data_dir))
