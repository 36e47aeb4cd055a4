"""Failed web logins, shared by every process of the web app (the login rate limit).

Revision ID: engine_0008
Revises: engine_0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "engine_0008"
down_revision: str | None = "engine_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_login_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("user_name", sa.String(100), nullable=False, index=True),
        sa.Column("client", sa.String(100), nullable=False, index=True),
        sa.Column("failed_at", sa.Float, nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("web_login_attempts")
