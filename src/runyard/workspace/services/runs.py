"""Pipeline runs: create (idempotent), read, list (keyset), status changes through the state machine.

Each request works inside one project: a run of another project is "not found" (never "forbidden", which
would confirm it exists).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from runyard.exceptions import Conflict, InvalidInput, NotFound
from runyard.schemas.base import DEFAULT_PROJECT, Page
from runyard.schemas.runs import RunCreate, RunFilter, RunRead, RunUpdate
from runyard.schemas.status import RunStatus, StepStatus
from runyard.workspace.db.models import PipelineRow, RunRow, RunTagRow, SnapshotRow, StepRunRow
from runyard.workspace.db.types import utcnow
from runyard.workspace.services.pagination import apply_keyset, split_page
from runyard.workspace.services.visibility import Visible
from runyard.workspace.state import check_run_transition


def create_run(session: Session, *, run: RunCreate, project: str = DEFAULT_PROJECT) -> RunRead:
    if run.id is not None:
        existing = session.get(RunRow, run.id)
        if existing is not None:
            if existing.project != project:
                raise Conflict(f"The id {run.id} is taken.", hint="Let the client choose a new id.")
            return to_read(session, existing)
    snapshot = session.get(SnapshotRow, run.snapshot_id)
    if snapshot is None or snapshot.project != project:
        raise NotFound(f"No snapshot with id {run.snapshot_id}.", hint="Create the snapshot before the run.")
    now = utcnow()
    row = RunRow(
        id=run.id or uuid.uuid4(),
        project=project,
        name=run.name or "",
        pipeline_id=snapshot.pipeline_id,
        snapshot_id=snapshot.id,
        stack_id=snapshot.stack_id,
        status=str(run.status),
        parameters=run.parameters,
        orchestrator_run_id=run.orchestrator_run_id,
        created=now,
        updated=now,
        started=now if run.status == RunStatus.RUNNING else None,
        heartbeat_at=now,
        metadata_json={},
    )
    if not row.name:
        pipeline = session.get(PipelineRow, snapshot.pipeline_id)
        row.name = f"{pipeline.name if pipeline else 'run'}-{now:%Y_%m_%d-%H_%M_%S_%f}"
    row.tag_rows = [RunTagRow(tag=t) for t in sorted(set(_check_tags(run.tags)))]
    session.add(row)
    session.flush()
    return to_read(session, row)


def run_row(session: Session, run_id: uuid.UUID, project: str) -> RunRow:
    row = session.get(RunRow, run_id)
    if row is None or row.project != project:
        raise NotFound(f"No run with id {run_id}.", hint="List runs with `runyard run list`.")
    return row


def get_run(session: Session, *, run_id: uuid.UUID, project: str = DEFAULT_PROJECT) -> RunRead:
    return to_read(session, run_row(session, run_id, project))


def update_run(session: Session, *, run_id: uuid.UUID, update: RunUpdate, project: str = DEFAULT_PROJECT) -> RunRead:
    row = run_row(session, run_id, project)
    now = utcnow()
    if update.status is not None:
        current = RunStatus(row.status)
        check_run_transition(current, update.status, run_id=run_id)
        if update.status != current:
            row.status = str(update.status)
            if update.status == RunStatus.RUNNING and row.started is None:
                row.started = now
            if update.status.is_finished:
                row.ended = now
    if update.error is not None:
        row.error = update.error
    if update.add_tags:
        have = {t.tag for t in row.tag_rows}
        for tag in _check_tags(update.add_tags):
            if tag not in have:
                row.tag_rows.append(RunTagRow(tag=tag))
                have.add(tag)
    if update.heartbeat:
        row.heartbeat_at = now
    row.updated = now
    session.flush()
    return to_read(session, row)


def cancel_run(session: Session, *, run_id: uuid.UUID, project: str = DEFAULT_PROJECT) -> RunRead:
    """A person's request to stop a run, through the state machine.

    A run no runner holds yet (``queued``) is ``cancelled`` at once. A running one becomes ``cancelling``:
    its runner learns it when it next starts a step (the answer to ``steps-create``, see
    ``services/steps.py``), lets the steps already running finish, records the rest and ends the run
    ``cancelled``. Repeating the request is harmless; a finished run is a 409 that says how it ended.
    """
    # FOR UPDATE: a runner's "completed" racing this request is decided by whichever commits first, and
    # the loser meets the state machine (a late "completed" after "cancelling" is refused)
    row = session.get(RunRow, run_id, with_for_update=True)
    if row is None or row.project != project:
        raise NotFound(f"No run with id {run_id}.", hint="List runs with `runyard run list`.")
    current = RunStatus(row.status)
    if current.is_finished:
        raise Conflict(f"Run {row.name!r} has already {_ENDED[current]}; only an active run can be cancelled.",
                       hint="Start it again with `runyard run retry` if it should run once more.")
    if current == RunStatus.CANCELLING:
        return to_read(session, row)
    target = RunStatus.CANCELLED if current == RunStatus.QUEUED else RunStatus.CANCELLING
    check_run_transition(current, target, run_id=run_id)
    now = utcnow()
    row.status = str(target)
    row.updated = now
    if target.is_finished:
        row.ended = now
        row.error = "Cancelled before it started."
    # step runs registered but never started will not start now
    session.execute(
        update(StepRunRow)
        .where(StepRunRow.run_id == run_id, StepRunRow.status == str(StepStatus.PENDING))
        .values(status=str(StepStatus.CANCELLED), ended=now, error="The run was cancelled before this step started.")
    )
    session.flush()
    return to_read(session, row)


_ENDED = {RunStatus.COMPLETED: "completed", RunStatus.FAILED: "failed", RunStatus.CANCELLED: "been cancelled"}


def list_runs(
    session: Session, *, filter: RunFilter, project: str = DEFAULT_PROJECT, visible: Visible | None = None
) -> Page[RunRead]:
    stmt = select(RunRow).where(RunRow.project == project)
    if visible is not None:
        stmt = stmt.where(RunRow.pipeline_id.in_(visible.pipelines))
    if filter.pipeline is not None:
        # Filter on the pipeline's id, looked up first, not on a join with its name: behind the join the
        # planner cannot tell which pipeline it is, assumes an average one, and for a busy pipeline with a
        # status filter reads every run of it to sort them (150 ms at 1M runs instead of 0.5 ms).
        pipeline_id = session.scalar(
            select(PipelineRow.id).where(PipelineRow.project == project, PipelineRow.name == filter.pipeline)
        )
        if pipeline_id is None:
            return Page[RunRead](items=[], next_cursor=None)
        stmt = stmt.where(RunRow.pipeline_id == pipeline_id)
    if filter.pipeline_id is not None:
        stmt = stmt.where(RunRow.pipeline_id == filter.pipeline_id)
    if filter.status is not None:
        stmt = stmt.where(RunRow.status == str(filter.status))
    if filter.tag is not None:
        stmt = stmt.where(RunRow.id.in_(select(RunTagRow.run_id).where(RunTagRow.tag == filter.tag)))
    if filter.name_contains:
        stmt = stmt.where(RunRow.name.contains(filter.name_contains, autoescape=True))
    if filter.created_after is not None:
        stmt = stmt.where(RunRow.created >= filter.created_after)
    if filter.created_before is not None:
        stmt = stmt.where(RunRow.created < filter.created_before)
    if filter.updated_after is not None:
        stmt = stmt.where(RunRow.updated >= filter.updated_after)
    if filter.updated_before is not None:
        stmt = stmt.where(RunRow.updated < filter.updated_before)
    stmt = apply_keyset(
        stmt, created_col=RunRow.created, id_col=RunRow.id, cursor=filter.cursor, limit=filter.limit,
        ascending=filter.sort == "oldest",
    )
    rows, cursor = split_page(list(session.scalars(stmt).unique()), filter.limit)
    return Page[RunRead](items=[to_read(session, r) for r in rows], next_cursor=cursor)


def delete_run(session: Session, *, run_id: uuid.UUID, project: str = DEFAULT_PROJECT) -> None:
    session.delete(run_row(session, run_id, project))


def fail_silent_runs(session: Session, *, timeout: timedelta, now: datetime | None = None) -> list[uuid.UUID]:
    """Marks failed every running run whose runner sent no heartbeat within ``timeout``; a run being
    cancelled whose runner went silent is marked cancelled (nobody is left to finish the cancel)."""
    now = now or utcnow()
    # FOR UPDATE (PostgreSQL re-checks the WHERE after waiting on a row lock): a run that completed or
    # beat between our read and our write is not failed; SKIP LOCKED: a run being written is alive
    stale = session.scalars(
        select(RunRow)
        .where(
            RunRow.status.in_([str(RunStatus.RUNNING), str(RunStatus.INITIALIZING), str(RunStatus.CANCELLING)]),
            RunRow.heartbeat_at < now - timeout,
        )
        .with_for_update(skip_locked=True, of=RunRow)
    ).all()
    for row in stale:
        silent = f"The runner sent no heartbeat for {timeout.total_seconds():.0f}s"
        if row.status == str(RunStatus.CANCELLING):
            row.status = str(RunStatus.CANCELLED)
            row.error = f"{silent} after the cancel request; it was marked cancelled."
        else:
            row.status = str(RunStatus.FAILED)
            row.error = f"{silent}; it was marked failed."
        row.ended = now
        row.updated = now
    return [r.id for r in stale]


def to_read(session: Session, row: RunRow) -> RunRead:
    return RunRead(
        id=row.id,
        created=row.created,
        updated=row.updated,
        name=row.name,
        pipeline_id=row.pipeline_id,
        pipeline_name=row.pipeline.name,
        snapshot_id=row.snapshot_id,
        stack_id=row.stack_id,
        status=RunStatus(row.status),
        parameters=row.parameters,
        tags=[t.tag for t in row.tag_rows],
        metadata=row.metadata_json or {},
        error=row.error,
        started=row.started,
        ended=row.ended,
    )


def _check_tags(tags: list[str]) -> list[str]:
    for tag in tags:
        if not tag or len(tag) > 200 or not tag.isprintable():
            raise InvalidInput(f"Tag {tag!r} is invalid.", hint="Use a printable string of 1 to 200 characters.")
    return tags
