"""Step runs: creation (idempotent), status reports with their outputs, cache look-ups."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard.exceptions import Conflict, NotFound
from runyard.schemas.artifacts import ArtifactVersionRead
from runyard.schemas.base import Page
from runyard.schemas.metadata import ResourceType
from runyard.schemas.status import StepStatus
from runyard.schemas.steps import (
    CacheLookup,
    CacheLookupResult,
    StepRunCreate,
    StepRunFilter,
    StepRunRead,
    StepRunUpdate,
)
from runyard.workspace.db.models import ArtifactVersionRow, StepRunArtifactRow, StepRunRow
from runyard.workspace.db.types import utcnow
from runyard.workspace.services import artifacts as artifact_service
from runyard.workspace.services.metadata import metadata_for, put_metadata
from runyard.workspace.services.pagination import apply_keyset, split_page
from runyard.workspace.services.runs import run_row
from runyard.workspace.state import check_step_transition


def create_step_run(session: Session, *, step: StepRunCreate) -> StepRunRead:
    if step.id is not None:
        existing = session.get(StepRunRow, step.id)
        if existing is not None:
            return to_reads(session, [existing])[0]
    run = run_row(session, step.run_id)
    clash = session.scalar(
        select(StepRunRow.id).where(StepRunRow.run_id == step.run_id, StepRunRow.invocation_id == step.invocation_id)
    )
    if clash is not None:
        raise Conflict(
            f"Run {step.run_id} already has a step run for invocation {step.invocation_id!r} ({clash}).",
            hint="Update that step run instead of creating another.",
        )
    now = utcnow()
    row = StepRunRow(
        id=step.id or uuid.uuid4(),
        run_id=step.run_id,
        pipeline_id=run.pipeline_id,
        invocation_id=step.invocation_id,
        step_name=step.step_name,
        status=str(step.status),
        parameters=step.parameters,
        source_hash=step.source_hash,
        cache_key=step.cache_key,
        cache_parts=step.cache_parts,
        original_step_run_id=step.original_step_run_id,
        attempts=1,
        created=now,
        started=now if step.status != StepStatus.PENDING else None,
        ended=now if step.status.is_finished else None,
    )
    session.add(row)
    session.flush()  # the lineage edges below reference this row
    for name, version_id in step.inputs.items():
        session.add(StepRunArtifactRow(step_run_id=row.id, kind="input", name=name, artifact_version_id=version_id))
    for link in step.outputs:
        session.add(
            StepRunArtifactRow(step_run_id=row.id, kind="output", name=link.name, artifact_version_id=link.artifact_version_id)
        )
    session.flush()
    return to_reads(session, [row])[0]


def step_run_row(session: Session, step_run_id: uuid.UUID) -> StepRunRow:
    row = session.get(StepRunRow, step_run_id)
    if row is None:
        raise NotFound(f"No step run with id {step_run_id}.")
    return row


def update_step_run(session: Session, *, step_run_id: uuid.UUID, update: StepRunUpdate) -> StepRunRead:
    """One transaction for a step's final report: status, new output versions, metadata."""
    row = step_run_row(session, step_run_id)
    now = utcnow()
    if update.status is not None:
        current = StepStatus(row.status)
        check_step_transition(current, update.status, step_run_id=step_run_id)
        if update.status != current:
            row.status = str(update.status)
            if update.status == StepStatus.RUNNING and row.started is None:
                row.started = now
            if update.status.is_finished:
                row.ended = now
    if update.error is not None:
        row.error = update.error
    if update.traceback is not None:
        row.traceback = update.traceback
    if update.attempts is not None:
        row.attempts = update.attempts
    have = set(session.scalars(
        select(StepRunArtifactRow.name).where(StepRunArtifactRow.step_run_id == row.id, StepRunArtifactRow.kind == "output")
    ))
    for version in update.new_outputs:
        if version.output_name in have:
            continue  # a retried report: the output is already registered
        version_row = artifact_service.register_version(session, version=version, producer_step_run_id=row.id)
        session.flush()
        session.add(
            StepRunArtifactRow(step_run_id=row.id, kind="output", name=version.output_name, artifact_version_id=version_row.id)
        )
    if update.metadata:
        put_metadata(session, ResourceType.STEP_RUN, row.id, update.metadata)
    session.flush()
    return to_reads(session, [row])[0]


def get_step_run(session: Session, *, step_run_id: uuid.UUID) -> StepRunRead:
    return to_reads(session, [step_run_row(session, step_run_id)])[0]


def list_step_runs(session: Session, *, filter: StepRunFilter) -> Page[StepRunRead]:
    stmt = select(StepRunRow)
    if filter.run_id is not None:
        stmt = stmt.where(StepRunRow.run_id == filter.run_id)
    if filter.status is not None:
        stmt = stmt.where(StepRunRow.status == str(filter.status))
    if filter.invocation_id is not None:
        stmt = stmt.where(StepRunRow.invocation_id == filter.invocation_id)
    stmt = apply_keyset(stmt, created_col=StepRunRow.created, id_col=StepRunRow.id, cursor=filter.cursor, limit=filter.limit)
    rows, cursor = split_page(list(session.scalars(stmt)), filter.limit)
    return Page[StepRunRead](items=to_reads(session, rows), next_cursor=cursor)


def lookup_cache(session: Session, *, lookup: CacheLookup) -> CacheLookupResult:
    """A hit is the newest step run that really executed with this key; a miss returns the last key's parts."""
    hit = session.scalar(
        select(StepRunRow)
        .where(StepRunRow.cache_key == lookup.cache_key, StepRunRow.status == str(StepStatus.COMPLETED))
        .order_by(StepRunRow.created.desc())
        .limit(1)
    )
    if hit is not None:
        return CacheLookupResult(hit=to_reads(session, [hit])[0])
    previous = session.scalar(
        select(StepRunRow.cache_parts)
        .where(
            StepRunRow.pipeline_id == lookup.pipeline_id,
            StepRunRow.invocation_id == lookup.invocation_id,
            StepRunRow.cache_key.is_not(None),
        )
        .order_by(StepRunRow.created.desc())
        .limit(1)
    )
    return CacheLookupResult(previous_parts=previous)


def to_reads(session: Session, rows: list[StepRunRow]) -> list[StepRunRead]:
    """Builds many step runs with a fixed number of queries (no N+1): edges, then metadata."""
    if not rows:
        return []
    ids = [r.id for r in rows]
    edges = session.scalars(select(StepRunArtifactRow).where(StepRunArtifactRow.step_run_id.in_(ids))).all()
    versions: dict[uuid.UUID, ArtifactVersionRow] = {e.artifact_version_id: e.artifact_version for e in edges}
    version_meta = metadata_for(session, ResourceType.ARTIFACT_VERSION, versions)
    version_reads = {
        vid: artifact_service.to_read(session, v, logged=version_meta.get(vid, {})) for vid, v in versions.items()
    }
    ins: dict[uuid.UUID, dict[str, ArtifactVersionRead]] = defaultdict(dict)
    outs: dict[uuid.UUID, dict[str, ArtifactVersionRead]] = defaultdict(dict)
    for e in edges:
        (ins if e.kind == "input" else outs)[e.step_run_id][e.name] = version_reads[e.artifact_version_id]
    step_meta = metadata_for(session, ResourceType.STEP_RUN, ids)
    return [_to_read(r, ins[r.id], outs[r.id], step_meta.get(r.id, {})) for r in rows]


def _to_read(
    row: StepRunRow,
    inputs: dict[str, ArtifactVersionRead],
    outputs: dict[str, ArtifactVersionRead],
    metadata: dict[str, Any],
) -> StepRunRead:
    return StepRunRead(
        id=row.id,
        created=row.created,
        run_id=row.run_id,
        invocation_id=row.invocation_id,
        step_name=row.step_name,
        status=StepStatus(row.status),
        parameters=row.parameters,
        source_hash=row.source_hash,
        cache_key=row.cache_key,
        cache_parts=row.cache_parts,
        original_step_run_id=row.original_step_run_id,
        error=row.error,
        traceback=row.traceback,
        attempts=row.attempts,
        started=row.started,
        ended=row.ended,
        inputs=inputs,
        outputs=outputs,
        metadata=metadata,
    )
