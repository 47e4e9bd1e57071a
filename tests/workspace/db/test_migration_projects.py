"""Migration 0006: a workspace created before projects keeps every row, now in the ``default`` project."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from runyard.workspace.db import migrate
from runyard.workspace.db.engine import Database, reset_databases

BEFORE = "0004_runs_pipeline_status_index"


def _at_revision(db: Database, revision: str) -> None:
    from alembic import command

    cfg = migrate.SCHEMA.alembic_config()
    with db.write_engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def _seed_old_rows(db: Database) -> dict[str, uuid.UUID]:
    ids = {k: uuid.uuid4() for k in ("pipeline", "snapshot", "run", "step", "artifact", "version", "orch", "store",
                                     "stack")}
    now = datetime.now(UTC).replace(tzinfo=None)
    statements = [
        ("INSERT INTO pipelines (id, name, created, updated) VALUES (:pipeline, 'training', :now, :now)"),
        ("INSERT INTO components (id, name, type, flavor, config, created) VALUES "
         "(:orch, 'default', 'orchestrator', 'local', '{}', :now), (:store, 'default', 'artifact_store', 'local', "
         "'{}', :now)"),
        "INSERT INTO stacks (id, name, created) VALUES (:stack, 'default', :now)",
        ("INSERT INTO stack_components (stack_id, type, component_id) VALUES (:stack, 'orchestrator', :orch), "
         "(:stack, 'artifact_store', :store)"),
        ("INSERT INTO snapshots (id, pipeline_id, stack_id, spec, spec_hash, config, created) VALUES "
         "(:snapshot, :pipeline, :stack, '{}', 'h', '{}', :now)"),
        ("INSERT INTO runs (id, name, pipeline_id, snapshot_id, stack_id, status, parameters, created, updated, "
         "metadata_json) VALUES (:run, 'r1', :pipeline, :snapshot, :stack, 'completed', '{}', :now, :now, '{}')"),
        ("INSERT INTO step_runs (id, run_id, pipeline_id, invocation_id, step_name, status, parameters, cache_parts, "
         "attempts, created, metadata_json) VALUES (:step, :run, :pipeline, 's1', 's1', 'completed', '{}', '{}', 1, "
         ":now, '{}')"),
        "INSERT INTO artifacts (id, name, latest_version, created) VALUES (:artifact, 'model', 1, :now)",
        ("INSERT INTO artifact_versions (id, artifact_id, version, uri, content_hash, size, materializer, data_type, "
         "producer_step_run_id, metadata_json, created) VALUES (:version, :artifact, 1, '/x', 'c', 1, 'm', 'd', "
         ":step, '{}', :now)"),
        ("INSERT INTO step_run_artifacts (step_run_id, kind, name, artifact_version_id) VALUES "
         "(:step, 'output', 'model', :version)"),
    ]
    params = {k: (str(v) if db.url.startswith("postgresql") else v.hex) for k, v in ids.items()}
    with db.write_engine.connect() as conn:
        for statement in statements:
            conn.execute(text(statement), {**params, "now": now})
        conn.commit()
    return ids


@pytest.fixture(params=["sqlite", "postgresql"])
def old_workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        reset_databases()
        with Database(url).write_engine.connect() as conn:  # start from nothing, not from the shared schema
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
            conn.commit()
    db = Database(url)
    _at_revision(db, BEFORE)
    return db


def test_upgrading_keeps_every_row_in_the_default_project(old_workspace: Database) -> None:
    db = old_workspace
    _seed_old_rows(db)
    migrate.ensure_schema(db)
    with db.read_engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == migrate.HEAD_REVISION
        for table in ("pipelines", "snapshots", "runs", "step_runs", "artifacts", "stacks", "components"):
            projects = [r[0] for r in conn.execute(text(f"SELECT project FROM {table}"))]
            assert projects and set(projects) == {"default"}, table
        # the stack rebuilds cascaded into nothing: every child row is still there
        for table, count in (("runs", 1), ("step_runs", 1), ("snapshots", 1), ("artifact_versions", 1),
                             ("step_run_artifacts", 1), ("stack_components", 2)):
            assert conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() == count, table
        if db.is_sqlite:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1  # switched back on after migrating
            assert list(conn.execute(text("PRAGMA foreign_key_check"))) == []


def test_after_upgrading_names_are_unique_per_project(old_workspace: Database) -> None:
    db = old_workspace
    _seed_old_rows(db)
    migrate.ensure_schema(db)
    now = datetime.now(UTC).replace(tzinfo=None)

    def add(project: str) -> None:
        with db.write_engine.connect() as conn:
            pid = uuid.uuid4()
            conn.execute(text("INSERT INTO pipelines (id, project, name, created, updated) VALUES "
                              "(:id, :project, 'training', :now, :now)"),
                         {"id": str(pid) if not db.is_sqlite else pid.hex, "project": project, "now": now})
            conn.commit()

    add("p2")  # the same name in another project
    with pytest.raises(IntegrityError):
        add("default")  # still unique within one
