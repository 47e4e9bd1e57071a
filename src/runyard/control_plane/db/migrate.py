"""The control-plane database's schema, kept current the same way as the workspace's.

The version table is named ``cp_alembic_version`` so pointing both services at one database by mistake
cannot make either believe the other's schema is its own. Mechanics: :mod:`runyard.workspace.db.schema`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import MetaData
from sqlalchemy.orm import Session

from runyard.workspace.db.schema import SchemaManager

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest migration in ``control_plane/migrations/versions``; a test keeps the two in step.
HEAD_REVISION = "cp0003_shares"
KNOWN_REVISIONS = ("cp0001_initial", "cp0002_login_codes", "cp0003_shares")
VERSION_TABLE = "cp_alembic_version"

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _metadata() -> MetaData:
    from runyard.control_plane.db.models import Base

    return Base.metadata


def _seed_rows(session: Session) -> None:
    """The built-in roles exist from the start, so granting one never needs to create it."""
    from runyard.control_plane.services.roles import ensure_builtin_roles

    ensure_builtin_roles(session)


SCHEMA = SchemaManager(
    label="control-plane",
    head=HEAD_REVISION,
    known=KNOWN_REVISIONS,
    migrations_dir=MIGRATIONS_DIR,
    version_table=VERSION_TABLE,
    pg_lock_id=7_246_813_101,
    metadata=_metadata,
    seed_rows=_seed_rows,
)


# the module-level names callers and tests use
current_revision = SCHEMA.current_revision
ensure_schema = SCHEMA.ensure
seed = SCHEMA.seed
upgrade = SCHEMA.upgrade


def alembic_config() -> Config:
    """Alembic configuration pointing at the control plane's own migration folder."""
    return SCHEMA.alembic_config()
