"""The operator web app's records: users, sessions, API tokens, failed logins and the
web audit.

Secrets never reach this table as plain text: passwords arrive hashed (argon2, by the
web interface), session and API tokens are stored as their SHA-256 (they are 256-bit
random values, so a fast hash is enough to make a stolen table useless).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from ml_connector.errors import ConfigurationError
from ml_connector.store.db import Base
from ml_connector.store.transactions import utc_now

__all__ = [
    "ROLES",
    "ApiToken",
    "Role",
    "Session",
    "User",
    "WebAuditEntry",
    "add_user",
    "clear_failed_logins",
    "connection_statuses",
    "create_session",
    "create_token",
    "delete_session",
    "failed_logins",
    "find_session",
    "find_token",
    "get_user",
    "list_tokens",
    "list_users",
    "list_web_audit",
    "record_action",
    "record_failed_login",
    "revoke_token",
    "set_user",
    "token_digest",
]

Role = Literal["viewer", "operator", "admin"]
#: roles in ascending power: each may do what the ones before it may
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")

WEB_USERS = Table(
    "web_users",
    Base.metadata,
    Column("name", String(100), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", String(40), nullable=False),
)
WEB_SESSIONS = Table(
    "web_sessions",
    Base.metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_name", String(100), ForeignKey("web_users.name")),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)
WEB_API_TOKENS = Table(
    "web_api_tokens",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(200), nullable=False),
    Column("user_name", String(100), ForeignKey("web_users.name")),
    Column("scope", String(20), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40), nullable=True),
)
#: one row per failed login, so every process of the app sees the same count
WEB_LOGIN_ATTEMPTS = Table(
    "web_login_attempts",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_name", String(100), nullable=False, index=True),
    Column("client", String(100), nullable=False, index=True),
    Column("failed_at", Float, nullable=False, index=True),
)
WEB_AUDIT = Table(
    "web_audit",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recorded_at", String(40), nullable=False),
    Column("user_name", String(100), nullable=False),
    Column("action", String(60), nullable=False),
    Column("target", Text, nullable=True),
    Column("detail", Text, nullable=True),
)


@dataclass(frozen=True, slots=True)
class User:
    """A person who may log in to the web app."""

    name: str
    role: Role
    password_hash: str
    disabled: bool
    created_at: str


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in browser: its user and the CSRF token its forms must carry."""

    user: User
    csrf_token: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An API token (never its value): whose, what it may do, whether revoked."""

    id: int
    label: str
    user_name: str
    scope: Literal["read", "operate"]
    created_at: str
    revoked_at: str | None


@dataclass(frozen=True, slots=True)
class WebAuditEntry:
    """One action a user took in the web app."""

    recorded_at: str
    user_name: str
    action: str
    target: str | None
    detail: str | None


def token_digest(token: str) -> str:
    """What the store keeps of a session or API token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise ConfigurationError(f"unknown role {role!r}", hint="use " + ", ".join(ROLES))


def add_user(engine: Engine, name: str, role: str, password_hash: str) -> User:
    """Create the user ``name``; a :class:`ConfigurationError` if it exists."""
    user = User(name, _check_role(role), password_hash, False, utc_now())
    if get_user(engine, name) is not None:
        raise ConfigurationError(
            f"user {name!r} exists", hint="use 'ml-connector users set' to change it"
        )
    with engine.begin() as conn:
        conn.execute(
            insert(WEB_USERS).values(
                name=user.name,
                role=user.role,
                password_hash=user.password_hash,
                disabled=False,
                created_at=user.created_at,
            )
        )
    return user


def set_user(
    engine: Engine,
    name: str,
    *,
    role: str | None = None,
    password_hash: str | None = None,
    disabled: bool | None = None,
) -> None:
    """Change a user's role, password or disabled flag; disabling ends their sessions."""
    values: dict[str, object] = {}
    if role is not None:
        values["role"] = _check_role(role)
    if password_hash is not None:
        values["password_hash"] = password_hash
    if disabled is not None:
        values["disabled"] = disabled
    with engine.begin() as conn:
        done = conn.execute(update(WEB_USERS).where(WEB_USERS.c.name == name).values(**values))
        if done.rowcount == 0:
            raise ConfigurationError(f"no user {name!r}", hint="see 'ml-connector users list'")
        if disabled or password_hash is not None:
            conn.execute(delete(WEB_SESSIONS).where(WEB_SESSIONS.c.user_name == name))


def get_user(engine: Engine, name: str) -> User | None:
    """The user ``name``, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(WEB_USERS).where(WEB_USERS.c.name == name)).first()
    return None if row is None else User(**row._asdict())


def list_users(engine: Engine) -> list[User]:
    """Every user, by name."""
    with engine.connect() as conn:
        rows = conn.execute(select(WEB_USERS).order_by(WEB_USERS.c.name))
        return [User(**row._asdict()) for row in rows]


def create_session(engine: Engine, user: str, token: str, csrf: str, lifetime: float) -> None:
    """Store a session for ``user`` under ``token`` (kept only as its digest)."""
    now = time.time()
    with engine.begin() as conn:
        conn.execute(delete(WEB_SESSIONS).where(WEB_SESSIONS.c.expires_at < now))
        conn.execute(
            insert(WEB_SESSIONS).values(
                token_hash=token_digest(token),
                user_name=user,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + lifetime,
            )
        )


def find_session(engine: Engine, token: str) -> Session | None:
    """The live session of ``token`` whose user is enabled, or None."""
    query = (
        select(WEB_SESSIONS.c.csrf_token, WEB_SESSIONS.c.expires_at, WEB_USERS)
        .join(WEB_USERS, WEB_USERS.c.name == WEB_SESSIONS.c.user_name)
        .where(WEB_SESSIONS.c.token_hash == token_digest(token))
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or row.expires_at < time.time() or row.disabled:
        return None
    user = User(row.name, row.role, row.password_hash, row.disabled, row.created_at)
    return Session(user, row.csrf_token, row.expires_at)


def delete_session(engine: Engine, token: str) -> None:
    """End the session of ``token``."""
    with engine.begin() as conn:
        conn.execute(delete(WEB_SESSIONS).where(WEB_SESSIONS.c.token_hash == token_digest(token)))


def create_token(engine: Engine, user: str, label: str, scope: str, token: str) -> None:
    """Store an API token of ``user`` (its digest only)."""
    if scope not in ("read", "operate"):
        raise ConfigurationError(f"unknown token scope {scope!r}", hint="use read or operate")
    with engine.begin() as conn:
        conn.execute(
            insert(WEB_API_TOKENS).values(
                token_hash=token_digest(token),
                label=label,
                user_name=user,
                scope=scope,
                created_at=utc_now(),
            )
        )


def _token(row: object) -> ApiToken:
    values = row._asdict()  # type: ignore[attr-defined]
    values.pop("token_hash", None)
    return ApiToken(**values)


def find_token(engine: Engine, token: str) -> tuple[ApiToken, User] | None:
    """The unrevoked API token ``token`` and its enabled user, or None."""
    with engine.connect() as conn:
        row = conn.execute(
            select(WEB_API_TOKENS).where(WEB_API_TOKENS.c.token_hash == token_digest(token))
        ).first()
    if row is None or row.revoked_at is not None:
        return None
    user = get_user(engine, row.user_name)
    if user is None or user.disabled:
        return None
    return _token(row), user


def list_tokens(engine: Engine, user: str | None = None) -> list[ApiToken]:
    """API tokens (never their values), newest first; of ``user`` only if given."""
    query = select(WEB_API_TOKENS).order_by(WEB_API_TOKENS.c.id.desc())
    if user is not None:
        query = query.where(WEB_API_TOKENS.c.user_name == user)
    with engine.connect() as conn:
        return [_token(row) for row in conn.execute(query)]


def revoke_token(engine: Engine, token_id: int, *, user: str | None = None) -> bool:
    """Revoke a token (of ``user`` only, if given); False if there is no such token."""
    query = update(WEB_API_TOKENS).where(
        WEB_API_TOKENS.c.id == token_id, WEB_API_TOKENS.c.revoked_at.is_(None)
    )
    if user is not None:
        query = query.where(WEB_API_TOKENS.c.user_name == user)
    with engine.begin() as conn:
        return conn.execute(query.values(revoked_at=utc_now())).rowcount > 0


def record_failed_login(engine: Engine, user: str, client: str, now: float, keep: float) -> None:
    """Count a failed login of ``user`` from ``client``; forget failures older than ``keep`` s."""
    with engine.begin() as conn:
        conn.execute(delete(WEB_LOGIN_ATTEMPTS).where(WEB_LOGIN_ATTEMPTS.c.failed_at <= now - keep))
        conn.execute(
            insert(WEB_LOGIN_ATTEMPTS).values(
                user_name=user[:100], client=client[:100], failed_at=now
            )
        )


def failed_logins(engine: Engine, user: str, client: str, since: float) -> tuple[int, int]:
    """Failed logins after ``since``: (of ``user`` from anywhere, from ``client`` as anyone)."""
    table = WEB_LOGIN_ATTEMPTS
    recent = table.c.failed_at > since

    by_user = select(func.count()).where(recent, table.c.user_name == user[:100])
    by_client = select(func.count()).where(recent, table.c.client == client[:100])
    with engine.connect() as conn:
        return int(conn.execute(by_user).scalar_one()), int(conn.execute(by_client).scalar_one())


def clear_failed_logins(engine: Engine, user: str, client: str) -> None:
    """Forget the failed logins of ``user`` and from ``client`` (after a good login)."""
    table = WEB_LOGIN_ATTEMPTS
    with engine.begin() as conn:
        conn.execute(
            delete(table).where(
                or_(table.c.user_name == user[:100], table.c.client == client[:100])
            )
        )


def record_action(
    engine: Engine, user: str, action: str, target: str | None = None, detail: str | None = None
) -> None:
    """Write one user action to the web audit."""
    with engine.begin() as conn:
        conn.execute(
            insert(WEB_AUDIT).values(
                recorded_at=utc_now(), user_name=user, action=action, target=target, detail=detail
            )
        )


def list_web_audit(engine: Engine, limit: int = 200) -> list[WebAuditEntry]:
    """The newest web actions first."""
    query = select(WEB_AUDIT).order_by(WEB_AUDIT.c.id.desc()).limit(limit)
    with engine.connect() as conn:
        return [
            WebAuditEntry(r.recorded_at, r.user_name, r.action, r.target, r.detail)
            for r in conn.execute(query)
        ]


def connection_statuses(engine: Engine) -> dict[str, dict[str, object]]:
    """Each DATEV connection's status (by connection name, i.e. customer id); no secrets."""
    from ml_connector.store.tables import OAUTH_CONNECTIONS

    table = OAUTH_CONNECTIONS

    query = select(
        table.c.name,
        table.c.status,
        table.c.status_detail,
        table.c.refreshed_at,
        table.c.refresh_expires_at,
    )
    with engine.connect() as conn:
        return {
            row.name: {
                "status": row.status,
                "detail": row.status_detail,
                "refreshed_at": row.refreshed_at,
                "refresh_expires_at": row.refresh_expires_at,
            }
            for row in conn.execute(query)
        }
