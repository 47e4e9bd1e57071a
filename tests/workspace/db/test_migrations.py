"""The schema from migrations equals the schema from the models, and opening a workspace migrates it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from runyard.exceptions import VersionMismatch
from runyard.workspace.db import migrate
from runyard.workspace.db.engine import Database, get_database, reset_databases
from runyard.workspace.db.models import Base


def test_head_revision_matches_the_migration_scripts() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(migrate._MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    assert script.get_current_head() == migrate.HEAD_REVISION
    assert set(migrate.KNOWN_REVISIONS) == {r.revision for r in script.walk_revisions()}


def test_fresh_create_equals_running_every_migration(tmp_path: Path, schema_of: Any) -> None:
    fresh_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate.ensure_schema(Database(fresh_url))  # empty database: create_all + stamp

    migrated_url = f"sqlite:///{tmp_path / 'migrated.db'}"
    db = Database(migrated_url)
    with db.write_engine.connect() as conn:  # a non-empty database goes through Alembic
        conn.execute(text("CREATE TABLE placeholder (x INTEGER)"))
        conn.commit()
    migrate.ensure_schema(db)

    fresh, migrated = schema_of(fresh_url), schema_of(migrated_url)
    migrated.pop("placeholder")
    assert fresh == migrated
    assert set(fresh) >= {t.name for t in Base.metadata.sorted_tables}


def test_opening_twice_is_cheap_and_seeds_the_default_stack(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    db = get_database(url)
    with db.session(write=False) as session:
        names = [r[0] for r in session.execute(text("SELECT name FROM stacks"))]
        assert names == ["default"]
    reset_databases()
    get_database(url)  # the second open only reads alembic_version
    with db.read_engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == migrate.HEAD_REVISION


def test_a_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    db = Database(url)
    migrate.ensure_schema(db)
    with db.write_engine.connect() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        conn.commit()
    with pytest.raises(VersionMismatch, match="newer than this Runyard knows"):
        migrate.ensure_schema(Database(url))


def test_postgres_schema_is_created_and_migrations_are_idempotent(postgres_url: str) -> None:
    reset_databases()
    db = get_database(postgres_url)
    migrate.ensure_schema(db)  # second call under the advisory lock: no-op
    with db.read_engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == migrate.HEAD_REVISION
