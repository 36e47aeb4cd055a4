"""Audit integrity: the chain head only moves forward; posted records findable per file.

The database refuses to delete a chain head, to move it back, to point it at an
event that does not exist, and to create one that does not start at the genesis.
``posted_records`` gets an index on (run, file, id), which the outcome step and
``audit verify`` use to hash a file's posted rows.

Revision ID: engine_0003
Revises: engine_0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "engine_0003"
down_revision: str | None = "engine_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
#: an UPDATE of a head is refused unless it moves forward onto an existing event
_BACKWARDS = (
    "NEW.chain <> OLD.chain OR NEW.seq < OLD.seq "
    "OR (NEW.seq = OLD.seq AND NEW.head_hash <> OLD.head_hash) "
    "OR (NEW.seq > OLD.seq AND NOT EXISTS (SELECT 1 FROM audit_events e "
    "WHERE e.chain = NEW.chain AND e.seq = NEW.seq AND e.row_hash = NEW.head_hash))"
)
_BAD_START = f"NEW.seq <> 0 OR NEW.head_hash <> '{GENESIS}'"


def _postgresql() -> None:
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION mlc_head_forward_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' THEN
                RAISE EXCEPTION 'audit_chain_heads: % refused', TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF TG_OP = 'INSERT' AND ({_BAD_START}) THEN
                RAISE EXCEPTION 'audit_chain_heads: a new chain starts at the genesis'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF TG_OP = 'UPDATE' AND ({_BACKWARDS}) THEN
                RAISE EXCEPTION 'audit_chain_heads may only move forward'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_chain_heads_forward_only BEFORE INSERT OR UPDATE OR DELETE "
        "ON audit_chain_heads FOR EACH ROW EXECUTE FUNCTION mlc_head_forward_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_chain_heads_no_truncate BEFORE TRUNCATE ON audit_chain_heads "
        "FOR EACH STATEMENT EXECUTE FUNCTION mlc_head_forward_only()"
    )


def _sqlite() -> None:
    refuse = "BEGIN SELECT RAISE(ABORT, 'audit_chain_heads {}'); END"
    op.execute(
        "CREATE TRIGGER audit_chain_heads_no_delete BEFORE DELETE ON audit_chain_heads "
        + refuse.format("DELETE refused")
    )
    op.execute(
        "CREATE TRIGGER audit_chain_heads_genesis BEFORE INSERT ON audit_chain_heads "
        f"WHEN {_BAD_START} " + refuse.format("a new chain starts at the genesis")
    )
    op.execute(
        "CREATE TRIGGER audit_chain_heads_forward_only BEFORE UPDATE ON audit_chain_heads "
        f"WHEN {_BACKWARDS} " + refuse.format("may only move forward")
    )


def upgrade() -> None:
    op.create_index("ix_posted_records_run_file", "posted_records", ["run_id", "filename", "id"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
    else:
        _sqlite()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_chain_heads_forward_only ON audit_chain_heads")
        op.execute("DROP TRIGGER IF EXISTS audit_chain_heads_no_truncate ON audit_chain_heads")
        op.execute("DROP FUNCTION IF EXISTS mlc_head_forward_only()")
    else:
        for name in ("no_delete", "genesis", "forward_only"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_chain_heads_{name}")
    op.drop_index("ix_posted_records_run_file", table_name="posted_records")
