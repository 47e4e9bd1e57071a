"""Projects: every pipeline, snapshot, run, step run, artifact, stack and component belongs to one.

A project is named by the control plane (its grants travel in tokens as ``proj``); the workspace keeps the
name on each row, so a request's project is checked with the row it reads, never with a second query.
Rows from before are in the ``default`` project, where a client that names no project keeps working.
Names become unique per project: two projects may each have a pipeline ``training``.

On SQLite, dropping the old name-only unique constraints rebuilds those tables (batch mode); the schema
manager turns foreign keys off around migrations so the rebuild cannot cascade into child rows.

Revision ID: 0006_projects
Revises: 0005_secrets
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_projects"
down_revision = "0005_secrets"
branch_labels = None
depends_on = None

_TABLES = ("pipelines", "snapshots", "runs", "step_runs", "artifacts", "stacks", "components")
#: Tables whose ``name`` was unique on its own; 0001 left those constraints unnamed.
_NAMED = ("pipelines", "artifacts", "stacks")
#: Gives SQLite's reflected unnamed unique constraints a name batch mode can drop.
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_unique(table: str) -> str:
    # PostgreSQL named them itself (<table>_<column>_key); SQLite's get one from _NAMING
    return f"{table}_name_key" if op.get_bind().dialect.name == "postgresql" else f"uq_{table}_name"


def upgrade() -> None:
    for table in _TABLES:
        op.add_column(table, sa.Column("project", sa.String(length=64), nullable=False, server_default="default"))
    op.drop_index("ix_runs_created_id", table_name="runs")
    op.create_index("ix_runs_project_created", "runs", ["project", "created", "id"])
    for table in _NAMED:
        with op.batch_alter_table(table, naming_convention=_NAMING) as batch:
            batch.drop_constraint(_old_unique(table), type_="unique")
            batch.create_unique_constraint(f"uq_{table}_project_name", ["project", "name"])
    with op.batch_alter_table("components") as batch:
        batch.drop_constraint("uq_components_type_name", type_="unique")
        batch.create_unique_constraint("uq_components_project_type_name", ["project", "type", "name"])


def downgrade() -> None:
    """Only possible while every row is in the default project (names would collide otherwise)."""
    with op.batch_alter_table("components") as batch:
        batch.drop_constraint("uq_components_project_type_name", type_="unique")
        batch.create_unique_constraint("uq_components_type_name", ["type", "name"])
    for table in _NAMED:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_project_name", type_="unique")
            batch.create_unique_constraint(_old_unique(table), ["name"])
    op.drop_index("ix_runs_project_created", table_name="runs")
    op.create_index("ix_runs_created_id", "runs", ["created", "id"])
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("project")
