"""The workspace database's schema: head revision, migrations folder, and the rows it starts with.

The mechanics (cheap check on open, fresh create + stamp, locked Alembic upgrades) live in
:mod:`runyard.workspace.db.schema`, shared with the control plane.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import MetaData
from sqlalchemy.orm import Session

from runyard.workspace.db.schema import SchemaManager

#: The newest migration in ``workspace/migrations/versions``; a test keeps the two in step.
HEAD_REVISION = "0006_projects"
KNOWN_REVISIONS = (
    "0001_initial",
    "0002_log_lines",
    "0003_artifact_size_bigint",
    "0004_runs_pipeline_status_index",
    "0005_secrets",
    "0006_projects",
)

_MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _metadata() -> MetaData:
    from runyard.workspace.db.models import Base

    return Base.metadata


def _seed_rows(session: Session) -> None:
    """The default stack exists from the start, so reads never need to write."""
    from runyard.workspace.services.stacks import ensure_default_stack

    ensure_default_stack(session)


SCHEMA = SchemaManager(
    label="workspace",
    head=HEAD_REVISION,
    known=KNOWN_REVISIONS,
    migrations_dir=_MIGRATIONS_DIR,
    version_table="alembic_version",
    pg_lock_id=7_246_813_001,
    metadata=_metadata,
    seed_rows=_seed_rows,
)


# the module-level names callers and tests use
current_revision = SCHEMA.current_revision
ensure_schema = SCHEMA.ensure
seed = SCHEMA.seed
upgrade = SCHEMA.upgrade
