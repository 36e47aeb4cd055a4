"""The credential store: encrypted secrets in the database, keyed by owner and kind.

``owner`` names whose secret it is (a customer, a DATEV connection, a Looker
instance); ``kind`` what it is (``datev_client_secret``, ``refresh_token``,
``looker_client_secret``, ...). Ciphertexts are bound to both (see
:class:`~ml_connector.credentials.cipher.SecretCipher`); the key never sits here.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy import Connection, Engine

from ml_connector.credentials.cipher import SecretCipher
from ml_connector.errors import ConfigurationError
from ml_connector.store.db import Base

__all__ = ["CredentialNotFoundError", "CredentialStore", "credentials_table"]

credentials_table = sa.Table(
    "credentials",
    Base.metadata,
    sa.Column("owner", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(100), primary_key=True),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)


class CredentialNotFoundError(ConfigurationError):
    """No secret of this kind is stored for this owner."""


class CredentialStore:
    """Put, get, delete and re-encrypt secrets; ``conn=`` joins a caller's transaction."""

    def __init__(self, engine: Engine, cipher: SecretCipher) -> None:
        self.engine = engine
        self.cipher = cipher

    def __repr__(self) -> str:
        return f"CredentialStore({self.engine.url.render_as_string(hide_password=True)})"

    def put(
        self, owner: str, kind: str, secret: SecretStr, *, conn: Connection | None = None
    ) -> None:
        """Store (or replace) ``secret`` for ``owner``/``kind``."""
        values = {
            "ciphertext": self.cipher.encrypt(owner, kind, secret),
            "updated_at": time.time(),
        }
        key = (credentials_table.c.owner == owner) & (credentials_table.c.kind == kind)
        with _maybe_begin(self.engine, conn) as c:
            updated = c.execute(sa.update(credentials_table).where(key).values(**values))
            if updated.rowcount == 0:
                c.execute(sa.insert(credentials_table).values(owner=owner, kind=kind, **values))

    def find(self, owner: str, kind: str, *, conn: Connection | None = None) -> SecretStr | None:
        """The secret, or ``None`` when none is stored."""
        query = sa.select(credentials_table.c.ciphertext).where(
            (credentials_table.c.owner == owner) & (credentials_table.c.kind == kind)
        )
        with _maybe_begin(self.engine, conn) as c:
            ciphertext = c.execute(query).scalar_one_or_none()
        if ciphertext is None:
            return None
        return self.cipher.decrypt(owner, kind, ciphertext)

    def get(self, owner: str, kind: str, *, conn: Connection | None = None) -> SecretStr:
        """The secret; :class:`CredentialNotFoundError` when none is stored."""
        secret = self.find(owner, kind, conn=conn)
        if secret is None:
            raise CredentialNotFoundError(
                f"no {kind} stored for {owner!r}", hint="store it again (log in or configure it)"
            )
        return secret

    def delete(self, owner: str, kind: str | None = None, *, conn: Connection | None = None) -> int:
        """Delete one secret, or every secret of ``owner`` when ``kind`` is ``None``."""
        condition = credentials_table.c.owner == owner
        if kind is not None:
            condition = condition & (credentials_table.c.kind == kind)
        with _maybe_begin(self.engine, conn) as c:
            return c.execute(sa.delete(credentials_table).where(condition)).rowcount

    def kinds(self, owner: str) -> list[str]:
        """The kinds of secret stored for ``owner``."""
        query = sa.select(credentials_table.c.kind).where(credentials_table.c.owner == owner)
        with self.engine.connect() as c:
            return sorted(c.execute(query).scalars())

    def rotate_all(self) -> int:
        """Re-encrypt every stored secret with the newest key; returns how many."""
        count = 0
        with self.engine.begin() as c:
            rows = c.execute(
                sa.select(
                    credentials_table.c.owner,
                    credentials_table.c.kind,
                    credentials_table.c.ciphertext,
                )
            ).all()
            for owner, kind, ciphertext in rows:
                c.execute(
                    sa.update(credentials_table)
                    .where(
                        (credentials_table.c.owner == owner) & (credentials_table.c.kind == kind)
                    )
                    .values(ciphertext=self.cipher.rotate(owner, kind, ciphertext))
                )
                count += 1
        return count


class _maybe_begin:  # noqa: N801 - used like a function
    """The caller's connection as is, or a fresh transaction that commits on success."""

    def __init__(self, engine: Engine, conn: Connection | None) -> None:
        self._engine = engine
        self._conn = conn
        self._own: Connection | None = None

    def __enter__(self) -> Connection:
        if self._conn is not None:
            return self._conn
        self._own = self._engine.connect()
        self._own.begin()
        return self._own

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._own is None:
            return
        try:
            if exc_type is None:
                self._own.commit()
            else:
                self._own.rollback()
        finally:
            self._own.close()
