"""Pipelines (by name) and snapshots (a compiled spec + stack + configuration).

Every function works inside one project (``project``): names are unique per project, and a row of
another project is "not found", whoever asks.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from runyard.exceptions import Conflict, NotFound
from runyard.schemas.base import DEFAULT_PROJECT, Page
from runyard.schemas.pipelines import (
    PipelineCreate,
    PipelineFilter,
    PipelineRead,
    SnapshotCreate,
    SnapshotRead,
)
from runyard.workspace.db.models import PipelineRow, SnapshotRow
from runyard.workspace.db.types import utcnow
from runyard.workspace.services.pagination import apply_keyset, split_page
from runyard.workspace.services.visibility import Visible


def get_or_create_pipeline(
    session: Session, *, pipeline: PipelineCreate, project: str = DEFAULT_PROJECT
) -> PipelineRead:
    """Idempotent by name: two processes registering the same pipeline get the same row."""
    by_name = select(PipelineRow).where(PipelineRow.project == project, PipelineRow.name == pipeline.name)
    row = session.scalar(by_name)
    if row is None:
        try:
            with session.begin_nested():
                row = PipelineRow(project=project, name=pipeline.name, docstring=pipeline.docstring)
                session.add(row)
        except IntegrityError:
            row = session.scalars(by_name).one()
    elif pipeline.docstring is not None and row.docstring != pipeline.docstring:
        row.docstring = pipeline.docstring
        row.updated = utcnow()
    return PipelineRead.model_validate(row)


def pipeline_row(session: Session, name_or_id: str | uuid.UUID, project: str) -> PipelineRow:
    row: PipelineRow | None = None
    parsed = _as_uuid(name_or_id)
    if parsed is not None:
        row = session.get(PipelineRow, parsed)
        if row is not None and row.project != project:
            row = None
    if row is None:
        row = session.scalar(
            select(PipelineRow).where(PipelineRow.project == project, PipelineRow.name == str(name_or_id))
        )
    if row is None:
        raise NotFound(f"No pipeline named or with id {name_or_id!r}.", hint="List them with `runyard pipeline list`.")
    return row


def get_pipeline(session: Session, *, name_or_id: str, project: str = DEFAULT_PROJECT) -> PipelineRead:
    return PipelineRead.model_validate(pipeline_row(session, name_or_id, project))


def list_pipelines(
    session: Session, *, filter: PipelineFilter, project: str = DEFAULT_PROJECT, visible: Visible | None = None
) -> Page[PipelineRead]:
    stmt = select(PipelineRow).where(PipelineRow.project == project)
    if visible is not None:
        stmt = stmt.where(PipelineRow.id.in_(visible.pipelines))
    if filter.name_contains:
        stmt = stmt.where(PipelineRow.name.contains(filter.name_contains, autoescape=True))
    stmt = apply_keyset(
        stmt, created_col=PipelineRow.created, id_col=PipelineRow.id, cursor=filter.cursor, limit=filter.limit
    )
    rows, cursor = split_page(list(session.scalars(stmt)), filter.limit)
    return Page[PipelineRead](items=[PipelineRead.model_validate(r) for r in rows], next_cursor=cursor)


def delete_pipeline(session: Session, *, name_or_id: str, project: str = DEFAULT_PROJECT) -> None:
    session.delete(pipeline_row(session, name_or_id, project))


def create_snapshot(session: Session, *, snapshot: SnapshotCreate, project: str = DEFAULT_PROJECT) -> SnapshotRead:
    """Idempotent by client-chosen id; its pipeline and stack must be of the same project."""
    from runyard.workspace.services.stacks import stack_row

    if snapshot.id is not None:
        existing = session.get(SnapshotRow, snapshot.id)
        if existing is not None:
            if existing.project != project:
                raise Conflict(f"The id {snapshot.id} is taken.", hint="Let the client choose a new id.")
            return SnapshotRead.model_validate(existing)
    pipeline_row(session, snapshot.pipeline_id, project)
    if snapshot.stack_id is not None:
        stack_row(session, str(snapshot.stack_id), project)
    row = SnapshotRow(
        id=snapshot.id or uuid.uuid4(),
        project=project,
        pipeline_id=snapshot.pipeline_id,
        stack_id=snapshot.stack_id,
        spec=snapshot.spec,
        spec_hash=snapshot.spec_hash,
        config=snapshot.config,
        code_reference=snapshot.code_reference,
    )
    session.add(row)
    session.flush()
    return SnapshotRead.model_validate(row)


def get_snapshot(session: Session, *, snapshot_id: uuid.UUID, project: str = DEFAULT_PROJECT) -> SnapshotRead:
    row = session.get(SnapshotRow, snapshot_id)
    if row is None or row.project != project:
        raise NotFound(f"No snapshot with id {snapshot_id}.")
    return SnapshotRead.model_validate(row)


def _as_uuid(value: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
