"""Secrets: metadata in plain text, values encrypted (AES-GCM) by the ``database`` secret store.

Revision ID: 0005_secrets
Revises: 0004_runs_pipeline_status_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_secrets"
down_revision = "0004_runs_pipeline_status_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "secrets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("store", sa.String(length=50), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_by", sa.String(length=320), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("secrets")
