"""``workspace/services/dashboard.py``: the aggregate queries, on SQLite and PostgreSQL, without N+1."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from runyard.schemas import PipelineCreate, RunCreate, RunUpdate, SnapshotCreate, StepRunCreate
from runyard.schemas.status import RunStatus
from runyard.workspace.db.engine import Database, get_database
from runyard.workspace.services import dashboard, pipelines, runs, steps


class Builder:
    def __init__(self, session: Session) -> None:
        self.session = session

    def pipeline(self, name: str) -> uuid.UUID:
        pid = pipelines.get_or_create_pipeline(self.session, pipeline=PipelineCreate(name=name)).id
        spec = {"name": name, "parameters": {}, "steps": [
            {"invocation_id": "a", "step_name": "a", "source": "m:a", "source_hash": "h", "parameters": {},
             "inputs": {}, "after": [], "outputs": []},
        ]}
        self.snapshot = pipelines.create_snapshot(
            self.session, snapshot=SnapshotCreate(pipeline_id=pid, spec=spec, spec_hash=name)).id
        return pid

    def run(self, status: RunStatus = RunStatus.RUNNING) -> uuid.UUID:
        run = runs.create_run(self.session, run=RunCreate(snapshot_id=self.snapshot, status=RunStatus.RUNNING))
        if status != RunStatus.RUNNING:
            runs.update_run(self.session, run_id=run.id, update=RunUpdate(status=status))
        return run.id


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(db.read_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.read_engine, "before_cursor_execute", record)


def test_recent_runs_per_pipeline_is_one_statement_newest_n_oldest_first(database_url: str) -> None:
    db = get_database(database_url)
    with db.session(write=True) as session:
        build = Builder(session)
        busy = build.pipeline("busy")
        busy_runs = [build.run(RunStatus.COMPLETED) for _ in range(5)]
        quiet = build.pipeline("quiet")
        quiet_run = build.run(RunStatus.FAILED)
        idle = build.pipeline("idle")
    with db.session(write=False) as session, statements(db) as seen:
        points = dashboard.recent_runs_per_pipeline(session, pipeline_ids=[busy, quiet, idle], per_pipeline=3)
    assert len(seen) == 1  # one UNION ALL, however many pipelines
    assert [p.id for p in points[busy]] == busy_runs[-3:]
    assert [p.id for p in points[quiet]] == [quiet_run] and points[idle] == []
    assert all(p.duration_s is not None and p.duration_s >= 0 for p in points[busy])
    assert dashboard.success_rate(points[busy]) == 1.0 and dashboard.success_rate(points[quiet]) == 0.0
    assert dashboard.success_rate(points[idle]) is None


def test_active_runs_and_failures_newest_first(database_url: str) -> None:
    db = get_database(database_url)
    with db.session(write=True) as session:
        build = Builder(session)
        build.pipeline("p")
        running = build.run(RunStatus.RUNNING)
        build.run(RunStatus.COMPLETED)
        failed = [build.run(RunStatus.FAILED) for _ in range(3)]
        newest_running = build.run(RunStatus.RUNNING)
    with db.session(write=False) as session:
        assert [r.id for r in dashboard.active_runs(session, project="default")] == [newest_running, running]
        assert [r.id for r in dashboard.recent_failures(session, project="default", limit=2)] == failed[::-1][:2]
        statuses = dashboard.run_statuses(session, run_ids=[running, failed[0], uuid.uuid4()], project="default")
        assert statuses[running][0] == RunStatus.RUNNING and statuses[running][1] is None
        assert statuses[failed[0]][0] == RunStatus.FAILED and len(statuses) == 2
        # another project's view holds none of them: not active, not failed, no status to poll
        assert dashboard.active_runs(session, project="p1") == []
        assert dashboard.recent_failures(session, project="p1") == []
        assert dashboard.run_statuses(session, run_ids=[running, failed[0]], project="p1") == {}


def test_step_briefs_specs_and_lineage_steps(database_url: str) -> None:
    db = get_database(database_url)
    with db.session(write=True) as session:
        build = Builder(session)
        pid = build.pipeline("lined")
        run_id = build.run()
        for inv in ("b", "a"):
            steps.create_step_run(session, step=StepRunCreate(run_id=run_id, invocation_id=inv, step_name=inv))
    with db.session(write=False) as session, statements(db) as seen:
        briefs = dashboard.step_briefs(session, run_id=run_id)
        assert [b.invocation_id for b in briefs] == ["b", "a"]  # by start time
        assert len(seen) == 1
        assert dashboard.latest_spec(session, pipeline_id=pid)["steps"][0]["invocation_id"] == "a"
        sid = dashboard.step_run_id(session, run_id=run_id, invocation_id="a")
        assert sid is not None and dashboard.step_run_id(session, run_id=run_id, invocation_id="zz") is None
        found = dashboard.lineage_steps(session, step_run_ids=[sid])
        assert [(s.invocation_id, s.inputs, s.outputs) for s in found] == [("a", {}, {})]
        assert found[0].run_name.startswith("lined-")
        by_run = dashboard.steps_of_runs(session, run_ids=[run_id])
        assert sorted(s.invocation_id for s in by_run[run_id]) == ["a", "b"]
