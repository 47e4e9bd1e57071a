"""The control plane's own migrations: head in step with the scripts, fresh create equals migrating."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from runyard.control_plane.db import migrate
from runyard.control_plane.db.models import Base, RoleRow
from runyard.exceptions import VersionMismatch
from runyard.workspace.db.engine import Database


def test_head_revision_matches_the_migration_scripts() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert script.get_current_head() == migrate.HEAD_REVISION
    assert set(migrate.KNOWN_REVISIONS) == {r.revision for r in script.walk_revisions()}


def test_fresh_create_equals_running_every_migration(tmp_path: Path, schema_of: Any) -> None:
    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate.ensure_schema(Database(fresh_url))
    migrated_url = f"sqlite:///{tmp_path / 'migrated.db'}"
    db = Database(migrated_url)
    with db.write_engine.connect() as conn:  # a database already holding one of our tables goes through Alembic
        conn.execute(text("CREATE TABLE organizations (placeholder INTEGER)"))
        conn.execute(text("DROP TABLE organizations"))
        conn.execute(text(f"CREATE TABLE {migrate.VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.commit()
    migrate.ensure_schema(db)
    assert schema_of(fresh_url) == schema_of(migrated_url)
    assert set(schema_of(fresh_url)) >= {t.name for t in Base.metadata.sorted_tables}
    with db.session(write=False) as session:
        assert {r.name for r in session.query(RoleRow)} == {"admin", "developer", "viewer", "stack_admin"}


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'cp.db'}")
    migrate.ensure_schema(db)
    with db.write_engine.connect() as conn:
        conn.execute(text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = 'cp9999_future'"))
        conn.commit()
    with pytest.raises(VersionMismatch):
        migrate.ensure_schema(db)


def test_the_workspace_and_control_plane_can_share_a_database_without_confusion(tmp_path: Path, schema_of: Any) -> None:
    from runyard.workspace.db.migrate import ensure_schema as ensure_workspace

    url = f"sqlite:///{tmp_path / 'both.db'}"
    ensure_workspace(Database(url))
    migrate.ensure_schema(Database(url))
    tables = set(schema_of(url))
    assert {"runs", "pipelines", "organizations", "users", migrate.VERSION_TABLE, "alembic_version"} <= tables
