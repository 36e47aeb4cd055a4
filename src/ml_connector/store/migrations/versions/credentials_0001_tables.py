"""Encrypted credentials and DATEV OAuth connections.

Revision ID: credentials_0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "credentials_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("credentials",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credentials",
        sa.Column("owner", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(100), primary_key=True),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "oauth_connections",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("issuer", sa.Text, nullable=False),
        sa.Column("authorization_endpoint", sa.Text, nullable=False),
        sa.Column("token_endpoint", sa.Text, nullable=False),
        sa.Column("revocation_endpoint", sa.Text, nullable=True),
        sa.Column("userinfo_endpoint", sa.Text, nullable=True),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("confidential", sa.Boolean, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("status_detail", sa.Text, nullable=True),
        sa.Column("subject", sa.Text, nullable=True),
        sa.Column("connected_at", sa.Float, nullable=False),
        sa.Column("refreshed_at", sa.Float, nullable=True),
        sa.Column("access_expires_at", sa.Float, nullable=True),
        sa.Column("refresh_expires_at", sa.Float, nullable=True),
        sa.Column("generation", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("oauth_connections")
    op.drop_table("credentials")
