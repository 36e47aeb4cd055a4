"""Tables of the sync engine (runs, their files, the audit trail and the posted records)
and of the DATEV connections (``oauth_connections``).

``audit_events`` and ``posted_records`` are append-only: the migration installs
triggers that abort every UPDATE and DELETE on them (SQLite and PostgreSQL).
``audit_chain_heads`` may only move forward onto an existing event (triggers too).
``runs``, ``run_files`` and ``engine_executors`` hold operational state and are
updated in place; ``audit verify`` checks ``runs`` and ``posted_records`` against
the audit chain.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ml_connector.store.db import Base

__all__ = [
    "AUDIT_EVENTS",
    "CHAIN_HEADS",
    "DXSO_PROTOCOL",
    "EXECUTORS",
    "OAUTH_CONNECTIONS",
    "OAUTH_PENDING_LOGINS",
    "POSTED_RECORDS",
    "RUNS",
    "RUN_FILES",
    "WEBHOOK_DELIVERIES",
    "AuditChainHeadRow",
    "AuditEventRow",
    "DxsoProtocolRow",
    "ExecutorRow",
    "PostedRecordRow",
    "RunFileRow",
    "RunRow",
]


class RunRow(Base):
    """One run: a pipeline for one period, for one customer's DATEV client."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(200), index=True)
    customer: Mapped[str] = mapped_column(String(200), index=True)
    datev_client: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(20))
    replay_of: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_mapped: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    files_written: Mapped[int] = mapped_column(Integer, default=0)
    jobs_succeeded: Mapped[int] = mapped_column(Integer, default=0)
    jobs_failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[str | None] = mapped_column(Text)
    rows_unassigned: Mapped[int] = mapped_column(Integer, default=0)
    data_changes: Mapped[str | None] = mapped_column(Text)
    """JSON counts of what the mapping changed in booked rows (see mapping.changes)."""
    money: Mapped[str | None] = mapped_column(Text)
    """JSON of the batch's money: debit and credit per account, held amounts (mapping.money)."""
    created_at: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[str | None] = mapped_column(String(40))
    finished_at: Mapped[str | None] = mapped_column(String(40))


class RunFileRow(Base):
    """One file written by a run, and what DATEV did with it."""

    __tablename__ = "run_files"
    __table_args__ = (UniqueConstraint("run_id", "filename", name="uq_run_files_run_filename"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    part: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    reference_id: Mapped[str] = mapped_column(String(100))
    lines: Mapped[int] = mapped_column(Integer)
    datev_job_id: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)


class DxsoProtocolRow(Base):
    """One protocol entry of a run's dxso job, kept because DATEV deletes them after
    about two months (dxso-jobs spec, ``protocol-entries``)."""

    __tablename__ = "dxso_protocol"
    __table_args__ = (Index("ix_dxso_protocol_run_file", "run_id", "filename", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    filename: Mapped[str] = mapped_column(String(255))
    datev_job_id: Mapped[str] = mapped_column(String(100))
    seq: Mapped[int] = mapped_column(Integer)
    time: Mapped[str | None] = mapped_column(String(40))
    type: Mapped[str | None] = mapped_column(String(40))
    text: Mapped[str | None] = mapped_column(Text)
    context: Mapped[str | None] = mapped_column(Text)
    entry_filename: Mapped[str | None] = mapped_column(String(255))


class AuditEventRow(Base):
    """One append-only, hash-chained audit event (one chain per DATEV client)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("chain", "seq", name="uq_audit_events_chain_seq"),
        Index("ix_audit_events_run_kind", "run_id", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain: Mapped[str] = mapped_column(String(100))
    seq: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[str] = mapped_column(String(40))
    run_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    row_key: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditChainHeadRow(Base):
    """Last sequence number and hash of one chain; the row appends lock."""

    __tablename__ = "audit_chain_heads"

    chain: Mapped[str] = mapped_column(String(100), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))


class PostedRecordRow(Base):
    """What was posted to DATEV for one record key (append-only; newest row wins)."""

    __tablename__ = "posted_records"
    __table_args__ = (
        Index("ix_posted_records_key", "pipeline", "datev_client", "period", "row_key", "id"),
        Index("ix_posted_records_run_file", "run_id", "filename", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline: Mapped[str] = mapped_column(String(200))
    datev_client: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(20))
    row_key: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str | None] = mapped_column(String(255))
    datev_job_id: Mapped[str | None] = mapped_column(String(100))
    recorded_at: Mapped[str] = mapped_column(String(40))


class ExecutorRow(Base):
    """A worker process and its last heartbeat (dead-executor recovery)."""

    __tablename__ = "engine_executors"

    executor_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column()
    heartbeat_at: Mapped[float] = mapped_column()
    recovered_at: Mapped[float | None] = mapped_column()


RUNS = cast(Table, RunRow.__table__)
RUN_FILES = cast(Table, RunFileRow.__table__)
AUDIT_EVENTS = cast(Table, AuditEventRow.__table__)
DXSO_PROTOCOL = cast(Table, DxsoProtocolRow.__table__)
CHAIN_HEADS = cast(Table, AuditChainHeadRow.__table__)
POSTED_RECORDS = cast(Table, PostedRecordRow.__table__)
EXECUTORS = cast(Table, ExecutorRow.__table__)

#: one DATEV OAuth connection per name: provider endpoints, client, scope, status and
#: token expiries (the tokens themselves live encrypted in the credential store)
OAUTH_CONNECTIONS = Table(
    "oauth_connections",
    Base.metadata,
    Column("name", String(200), primary_key=True),
    Column("issuer", Text, nullable=False),
    Column("authorization_endpoint", Text, nullable=False),
    Column("token_endpoint", Text, nullable=False),
    Column("revocation_endpoint", Text, nullable=True),
    Column("userinfo_endpoint", Text, nullable=True),
    Column("client_id", String(200), nullable=False),
    Column("confidential", Boolean, nullable=False),
    Column("scope", Text, nullable=False),
    Column("status", String(40), nullable=False),
    Column("status_detail", Text, nullable=True),
    Column("subject", Text, nullable=True),
    Column("connected_at", Float, nullable=False),
    Column("refreshed_at", Float, nullable=True),
    Column("access_expires_at", Float, nullable=True),
    Column("refresh_expires_at", Float, nullable=True),
    Column("generation", Integer, nullable=False),
)

#: logins begun and waiting for their callback: state, nonce and where to send the code;
#: the PKCE verifier lives encrypted in the credential store (owner ``datev-login:<state>``)
OAUTH_PENDING_LOGINS = Table(
    "oauth_pending_logins",
    Base.metadata,
    Column("state", String(200), primary_key=True),
    Column("connection", String(200), nullable=False, index=True),
    Column("nonce", Text, nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("issuer", Text, nullable=False),
    Column("client_id", String(200), nullable=False),
    Column("scope", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("started_by", Text, nullable=True),
)

#: Looker webhook deliveries that queued a run: one row per (pipeline, period, delivery)
WEBHOOK_DELIVERIES = Table(
    "webhook_deliveries",
    Base.metadata,
    Column("key", String(64), primary_key=True),
    Column("pipeline", String(200), nullable=False, index=True),
    Column("period", String(20), nullable=False),
    Column("run_id", String(200), nullable=False),
    Column("plan_id", Text, nullable=True),
    Column("received_at", Float, nullable=False),
)
