"""Artifact sizes as 64-bit integers: artifacts over 2 GiB are ordinary (models, datasets).

Revision ID: 0003_artifact_size_bigint
Revises: 0002_log_lines
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_artifact_size_bigint"
down_revision = "0002_log_lines"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("artifact_versions") as batch:
        batch.alter_column("size", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("artifact_versions") as batch:
        batch.alter_column("size", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False)
