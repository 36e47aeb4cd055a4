"""Row keys stored in full (TEXT); a run's warnings and its rows without a period.

``audit_events.row_key`` and ``posted_records.row_key`` become TEXT: a Looker row
key is whatever the mapping's key expression yields; a key longer than
255 characters made PostgreSQL refuse the whole run. SQLite does not enforce a
``VARCHAR`` length (and rebuilding its tables would drop the append-only triggers),
so only PostgreSQL's column types change.

``runs.warnings`` holds what a successful run must still tell (e.g. Looker returned no
rows), one per line; ``runs.rows_unassigned`` counts the pipeline's rows that carry no
readable period, found by the run's completeness check.

Revision ID: engine_0002
Revises: engine_0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "engine_0002"
down_revision: str | None = "engine_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYED = ("audit_events", "posted_records")


def upgrade() -> None:
    op.add_column("runs", sa.Column("warnings", sa.Text))
    op.add_column(
        "runs", sa.Column("rows_unassigned", sa.Integer, nullable=False, server_default="0")
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _KEYED:
        op.alter_column(table, "row_key", type_=sa.Text(), existing_type=sa.String(255))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("rows_unassigned")
        batch.drop_column("warnings")
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _KEYED:
        op.alter_column(table, "row_key", type_=sa.String(255), existing_type=sa.Text())
