"""The protocol entries of dxso jobs (DATEV deletes them after about two months).

Revision ID: engine_0009
Revises: engine_0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "engine_0009"
down_revision: str | None = "engine_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dxso_protocol",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(200), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("datev_job_id", sa.String(100), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("time", sa.String(40), nullable=True),
        sa.Column("type", sa.String(40), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("entry_filename", sa.String(255), nullable=True),
    )
    op.create_index("ix_dxso_protocol_run_file", "dxso_protocol", ["run_id", "filename", "seq"])


def downgrade() -> None:
    op.drop_index("ix_dxso_protocol_run_file", table_name="dxso_protocol")
    op.drop_table("dxso_protocol")
