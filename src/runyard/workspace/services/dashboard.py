"""Read-only aggregates the dashboard shows, each one or two indexed queries whatever the table sizes.

The API's own services answer "one resource" and "a page of resources"; the dashboard also needs
"the last runs of each pipeline", "every step of one run with only the columns a graph needs" and "the
edges around a few step runs". Doing those through the per-resource services would cost one query per
pipeline or per step (N+1) or read whole rows where four columns do; these functions do them in one
statement each. None counts rows: a COUNT(*) over a million runs is a full scan on PostgreSQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, select, union_all
from sqlalchemy.orm import Session

from runyard.exceptions import NotFound
from runyard.schemas.artifacts import ArtifactVersionRead
from runyard.schemas.runs import RunRead
from runyard.schemas.stacks import ComponentRead
from runyard.schemas.status import RunStatus, StepStatus
from runyard.workspace.db import tables as t
from runyard.workspace.db.models import ComponentRow, RunRow, SnapshotRow
from runyard.workspace.services import runs as runs_service

if TYPE_CHECKING:
    from runyard.artifacts.stores.base import ArtifactStore

#: Statuses of runs that are not finished yet: the overview's "running now" and the pages' live polling.
ACTIVE_RUN_STATUSES = (RunStatus.INITIALIZING, RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLING)
#: A run page draws at most this many steps; more would not be readable in a browser anyway.
MAX_GRAPH_STEPS = 20_000
#: Most runs one status poll may ask about (the runs page shows at most a page of them).
MAX_STATUS_IDS = 200

_sr = t.step_runs.c
_r = t.runs.c


@dataclass(frozen=True)
class RunPoint:
    """One run as a point of a pipeline's trend: when, how it ended and how long it took."""

    id: uuid.UUID
    name: str
    status: RunStatus
    created: datetime
    duration_s: float | None


@dataclass(frozen=True)
class StepBrief:
    """The columns of a step run a graph, a timeline or a live poll needs (not its artifacts or errors)."""

    id: uuid.UUID
    invocation_id: str
    step_name: str
    status: StepStatus
    started: datetime | None
    ended: datetime | None
    source_hash: str | None


@dataclass(frozen=True)
class LineageStep:
    """A step run next to an artifact version in the lineage graph, with the artifacts it read and wrote."""

    id: uuid.UUID
    run_id: uuid.UUID
    run_name: str
    invocation_id: str
    status: StepStatus
    inputs: dict[str, tuple[uuid.UUID, str, int]]  # input name -> (version id, artifact name, version)
    outputs: dict[str, tuple[uuid.UUID, str, int]]


def duration_s(started: datetime | None, ended: datetime | None) -> float | None:
    if started is None or ended is None:
        return None
    return max((ended - started).total_seconds(), 0.0)


def active_runs(session: Session, *, project: str, limit: int = 20) -> list[RunRead]:
    """Unfinished runs of ``project``, newest first.

    One ``LIMIT`` branch per status, so each is a short range scan of ``ix_runs_status_created``: a plain
    ``status IN (...) ORDER BY created`` may be planned as a backward scan of every run, filtering.
    """
    return _newest_with_status(session, [str(s) for s in ACTIVE_RUN_STATUSES], project, limit)


def recent_failures(session: Session, *, project: str, limit: int = 10) -> list[RunRead]:
    return _newest_with_status(session, [str(RunStatus.FAILED)], project, limit)


def _newest_with_status(session: Session, statuses: list[str], project: str, limit: int) -> list[RunRead]:
    branches = [
        select(
            select(_r.id, _r.created)
            .where(_r.status == status, _r.project == project)
            .order_by(_r.created.desc(), _r.id.desc())
            .limit(limit)
            .subquery()
        )
        for status in statuses
    ]
    found = sorted(session.execute(union_all(*branches)), key=lambda r: (r.created, r.id), reverse=True)[:limit]
    if not found:
        return []
    rows = session.scalars(select(RunRow).where(RunRow.id.in_([r.id for r in found]))).unique()
    order = {r.id: i for i, r in enumerate(found)}
    return [runs_service.to_read(session, r) for r in sorted(rows, key=lambda r: order[r.id])]


def recent_runs_per_pipeline(
    session: Session, *, pipeline_ids: list[uuid.UUID], per_pipeline: int = 20
) -> dict[uuid.UUID, list[RunPoint]]:
    """The newest ``per_pipeline`` runs of each pipeline, oldest first, in one statement.

    A UNION ALL of one ``LIMIT`` branch per pipeline: each branch is a short backward range scan of
    ``ix_runs_pipeline_created``, so the cost follows the number of points shown, not of runs stored
    (a window function over ``runs`` would read every run of every pipeline). SQLite and PostgreSQL
    both plan it that way; PostgreSQL's LATERAL would too, but SQLite has none.
    """
    out: dict[uuid.UUID, list[RunPoint]] = {pid: [] for pid in pipeline_ids}
    if not pipeline_ids:
        return out
    branches: list[Select[Any]] = []
    for pid in pipeline_ids:
        inner = (
            select(_r.pipeline_id, _r.id, _r.name, _r.status, _r.created, _r.started, _r.ended)
            .where(_r.pipeline_id == pid)
            .order_by(_r.created.desc(), _r.id.desc())
            .limit(per_pipeline)
            .subquery()
        )
        branches.append(select(inner))
    for row in session.execute(union_all(*branches)):
        out[row.pipeline_id].append(
            RunPoint(row.id, row.name, RunStatus(row.status), row.created, duration_s(row.started, row.ended))
        )
    for points in out.values():
        points.sort(key=lambda p: p.created)
    return out


def success_rate(points: list[RunPoint]) -> float | None:
    """Share of finished runs that completed; None before any run finished."""
    finished = [p for p in points if p.status.is_finished]
    if not finished:
        return None
    return sum(p.status == RunStatus.COMPLETED for p in finished) / len(finished)


def run_statuses(
    session: Session, *, run_ids: list[uuid.UUID], project: str
) -> dict[uuid.UUID, tuple[RunStatus, float | None]]:
    """Status and duration of a few runs of ``project`` by primary key, for the runs page's live poll (a run
    of another project is left out, like an unknown id)."""
    ids = run_ids[:MAX_STATUS_IDS]
    if not ids:
        return {}
    rows = session.execute(
        select(_r.id, _r.status, _r.started, _r.ended).where(_r.id.in_(ids), _r.project == project)
    )
    return {r.id: (RunStatus(r.status), duration_s(r.started, r.ended)) for r in rows}


def step_briefs(session: Session, *, run_id: uuid.UUID, limit: int = MAX_GRAPH_STEPS) -> list[StepBrief]:
    """Every step run of a run (by the ``(run_id, invocation_id)`` unique index), in start order."""
    rows = session.execute(
        select(_sr.id, _sr.invocation_id, _sr.step_name, _sr.status, _sr.started, _sr.ended, _sr.source_hash)
        .where(_sr.run_id == run_id)
        .limit(limit)
    )
    briefs = [
        StepBrief(r.id, r.invocation_id, r.step_name, StepStatus(r.status), r.started, r.ended, r.source_hash)
        for r in rows
    ]
    briefs.sort(key=lambda b: (b.started is None, b.started or datetime.min, b.invocation_id))
    return briefs


def step_run_id(session: Session, *, run_id: uuid.UUID, invocation_id: str) -> uuid.UUID | None:
    return session.scalar(select(_sr.id).where(_sr.run_id == run_id, _sr.invocation_id == invocation_id))


def snapshot_spec(session: Session, *, snapshot_id: uuid.UUID) -> dict[str, Any]:
    """The compiled spec a run executed (its DAG); empty if the snapshot is gone."""
    spec = session.scalar(select(SnapshotRow.spec).where(SnapshotRow.id == snapshot_id))
    return spec or {}


def latest_spec(session: Session, *, pipeline_id: uuid.UUID) -> dict[str, Any]:
    """The spec of the pipeline's newest run: by ``ix_runs_pipeline_created``, then the snapshot's key.

    Snapshots are indexed by pipeline but not by time, so "the newest snapshot" would sort them all.
    """
    snapshot_id = session.scalar(
        select(_r.snapshot_id).where(_r.pipeline_id == pipeline_id).order_by(_r.created.desc()).limit(1)
    )
    return snapshot_spec(session, snapshot_id=snapshot_id) if snapshot_id is not None else {}


def steps_of_runs(session: Session, *, run_ids: list[uuid.UUID], per_run: int = 500) -> dict[uuid.UUID, list[Any]]:
    """Full step runs (with their artifacts) of a few runs, for the compare page: two queries in all."""
    from runyard.workspace.services.steps import _STEP_COLUMNS, reads_from_rows

    out: dict[uuid.UUID, list[Any]] = {rid: [] for rid in run_ids}
    if not run_ids:
        return out
    rows = list(session.execute(select(*_STEP_COLUMNS).where(_sr.run_id.in_(run_ids)).limit(per_run * len(run_ids))))
    for read in reads_from_rows(session, rows):
        out[read.run_id].append(read)
    return out


def lineage_steps(session: Session, *, step_run_ids: list[uuid.UUID]) -> list[LineageStep]:
    """The given step runs with every artifact version each read and wrote: two indexed queries."""
    if not step_run_ids:
        return []
    steps = session.execute(
        select(_sr.id, _sr.run_id, _sr.invocation_id, _sr.status, _r.name.label("run_name"))
        .join(t.runs, _r.id == _sr.run_id)
        .where(_sr.id.in_(step_run_ids))
    ).all()
    e, av, a = t.edges.c, t.artifact_versions.c, t.artifacts.c
    edges = session.execute(
        select(e.step_run_id, e.kind, e.name, av.id, a.name.label("artifact_name"), av.version)
        .join(t.artifact_versions, av.id == e.artifact_version_id)
        .join(t.artifacts, a.id == av.artifact_id)
        .where(e.step_run_id.in_(step_run_ids))
    ).all()
    ins: dict[uuid.UUID, dict[str, tuple[uuid.UUID, str, int]]] = {s.id: {} for s in steps}
    outs: dict[uuid.UUID, dict[str, tuple[uuid.UUID, str, int]]] = {s.id: {} for s in steps}
    for edge in edges:
        target = ins if edge.kind == "input" else outs
        target.setdefault(edge.step_run_id, {})[edge.name] = (edge.id, edge.artifact_name, edge.version)
    return [
        LineageStep(s.id, s.run_id, s.run_name, s.invocation_id, StepStatus(s.status), ins[s.id], outs[s.id])
        for s in steps
    ]


def artifact_store_for(session: Session, *, version: ArtifactVersionRead) -> ArtifactStore:
    """The store holding a version: its registered component, or the local folder its URI names.

    Server-side, like reading logs (``services/logs.py``): the browser never needs store credentials.
    """
    from runyard.stack.resolve import artifact_store_from

    if version.artifact_store_id is not None:
        row = session.get(ComponentRow, version.artifact_store_id)
        if row is not None:
            return artifact_store_from(ComponentRead.model_validate(row))
    if not version.uri.startswith("/"):
        raise NotFound(f"The artifact store holding {version.uri} is not registered any more.")
    from runyard.artifacts.stores.local import LocalArtifactStore

    return LocalArtifactStore(version.uri.rsplit("/", 2)[0])
