"""Artifacts and their versions: numbering per name, reads, lineage (producer and consumers).

An artifact's name is unique within its project; its versions belong to the same project.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from runyard.exceptions import NotFound
from runyard.jsonsafe import json_safe
from runyard.schemas.artifacts import (
    ArtifactRead,
    ArtifactVersionCreate,
    ArtifactVersionFilter,
    ArtifactVersionRead,
    LineageEdge,
    LineageRead,
)
from runyard.schemas.base import DEFAULT_PROJECT, Page, PageRequest
from runyard.workspace.db import tables as t
from runyard.workspace.db.models import ArtifactRow, ArtifactVersionRow, StepRunArtifactRow, StepRunRow
from runyard.workspace.db.types import utcnow
from runyard.workspace.services.pagination import apply_keyset, split_page
from runyard.workspace.services.visibility import Visible, artifact_versions_of

_av = t.artifact_versions.c
_LOCK_ARTIFACT = (
    select(t.artifacts.c.id, t.artifacts.c.latest_version)
    .where(t.artifacts.c.project == bindparam("aproject"), t.artifacts.c.name == bindparam("aname"))
    .with_for_update()
)
_BUMP_VERSION = update(t.artifacts).where(t.artifacts.c.id == bindparam("aid"))
_BUMP_RETURNING = (
    update(t.artifacts)
    .where(t.artifacts.c.project == bindparam("aproject"), t.artifacts.c.name == bindparam("aname"))
    .values(latest_version=t.artifacts.c.latest_version + 1)
    .returning(t.artifacts.c.id, t.artifacts.c.latest_version)
)
_INSERT_VERSION = insert(t.artifact_versions)


def register_version(
    session: Session, *, version: ArtifactVersionCreate, producer_step_run_id: uuid.UUID | None, project: str
) -> uuid.UUID:
    """Next version number of the artifact's name, under a row lock so concurrent writers never collide."""
    conn = session.connection()
    returning = conn.dialect.name in ("sqlite", "postgresql")
    key = {"aname": version.name, "aproject": project}
    row = conn.execute(_BUMP_RETURNING if returning else _LOCK_ARTIFACT, key).first()
    if row is None:
        t.insert_ignoring_duplicates(
            session,
            t.artifacts,
            {"id": uuid.uuid4(), "project": project, "name": version.name, "latest_version": 0, "created": utcnow()},
        )
        row = conn.execute(_BUMP_RETURNING if returning else _LOCK_ARTIFACT, key).one()
    if returning:  # one statement both locks the row and takes the next number
        number = row.latest_version
    else:
        number = row.latest_version + 1
        conn.execute(_BUMP_VERSION, {"aid": row.id, "latest_version": number})
    version_id = version.id or uuid.uuid4()
    conn.execute(
        _INSERT_VERSION,
        dict(
            id=version_id,
            artifact_id=row.id,
            version=number,
            uri=version.uri,
            content_hash=version.content_hash,
            size=version.size,
            materializer=version.materializer,
            data_type=version.data_type,
            artifact_store_id=version.artifact_store_id,
            producer_step_run_id=producer_step_run_id,
            metadata_json=json_safe(version.metadata),
            created=utcnow(),
        ),
    )
    return version_id


def version_row(session: Session, version_id: uuid.UUID, project: str) -> ArtifactVersionRow:
    row = session.get(ArtifactVersionRow, version_id)
    if row is None or row.artifact.project != project:
        raise NotFound(f"No artifact version with id {version_id}.")
    return row


def get_artifact_version(
    session: Session, *, name_or_id: str, version: int | None = None, project: str = DEFAULT_PROJECT
) -> ArtifactVersionRead:
    row: ArtifactVersionRow | None = None
    try:
        row = session.get(ArtifactVersionRow, uuid.UUID(name_or_id))
    except ValueError:
        pass
    if row is not None and row.artifact.project != project:
        row = None
    if row is None:
        stmt = (
            select(ArtifactVersionRow)
            .join(ArtifactRow)
            .where(ArtifactRow.project == project, ArtifactRow.name == name_or_id)
        )
        if version is None:
            stmt = stmt.order_by(ArtifactVersionRow.version.desc()).limit(1)
        else:
            stmt = stmt.where(ArtifactVersionRow.version == version)
        row = session.scalar(stmt)
    if row is None:
        which = f"version {version} of " if version is not None else ""
        raise NotFound(f"No {which}artifact {name_or_id!r}.", hint="List artifacts with `runyard artifact list`.")
    return to_read(session, row)


def list_artifacts(
    session: Session, *, page: PageRequest, project: str = DEFAULT_PROJECT, visible: Visible | None = None
) -> Page[ArtifactRead]:
    stmt = select(ArtifactRow).where(ArtifactRow.project == project)
    if visible is not None:
        stmt = stmt.where(ArtifactRow.id.in_(select(ArtifactVersionRow.artifact_id).where(
            ArtifactVersionRow.id.in_(artifact_versions_of(visible)))))
    stmt = apply_keyset(
        stmt,
        created_col=ArtifactRow.created,
        id_col=ArtifactRow.id,
        cursor=page.cursor,
        limit=page.limit,
    )
    rows, cursor = split_page(list(session.scalars(stmt)), page.limit)
    return Page[ArtifactRead](items=[ArtifactRead.model_validate(r) for r in rows], next_cursor=cursor)


def list_artifact_versions(
    session: Session, *, filter: ArtifactVersionFilter, project: str = DEFAULT_PROJECT, visible: Visible | None = None
) -> Page[ArtifactVersionRead]:
    stmt = select(ArtifactVersionRow).join(ArtifactRow).where(ArtifactRow.project == project)
    if visible is not None:
        stmt = stmt.where(ArtifactVersionRow.id.in_(artifact_versions_of(visible)))
    if filter.name is not None:
        stmt = stmt.where(ArtifactRow.name == filter.name)
    if filter.name_contains:
        stmt = stmt.where(ArtifactRow.name.contains(filter.name_contains, autoescape=True))
    if filter.run_id is not None:
        stmt = stmt.where(
            ArtifactVersionRow.producer_step_run_id.in_(select(StepRunRow.id).where(StepRunRow.run_id == filter.run_id))
        )
    stmt = apply_keyset(
        stmt,
        created_col=ArtifactVersionRow.created,
        id_col=ArtifactVersionRow.id,
        cursor=filter.cursor,
        limit=filter.limit,
    )
    rows, cursor = split_page(list(session.scalars(stmt)), filter.limit)
    return Page[ArtifactVersionRead](items=to_reads(session, rows), next_cursor=cursor)


def get_lineage(session: Session, *, version_id: uuid.UUID, project: str = DEFAULT_PROJECT) -> LineageRead:
    row = version_row(session, version_id, project)
    edges = session.execute(
        select(
            StepRunArtifactRow.kind, StepRunArtifactRow.name, StepRunRow.id, StepRunRow.run_id, StepRunRow.invocation_id
        )
        .join(StepRunRow, StepRunRow.id == StepRunArtifactRow.step_run_id)
        .where(StepRunArtifactRow.artifact_version_id == version_id, StepRunRow.project == project)
        .order_by(StepRunRow.created)
    ).all()
    producer: LineageEdge | None = None
    consumers: list[LineageEdge] = []
    for kind, name, step_id, run_id, invocation_id in edges:
        edge = LineageEdge(step_run_id=step_id, run_id=run_id, invocation_id=invocation_id, name=name)
        if kind == "input":
            consumers.append(edge)
        elif step_id == row.producer_step_run_id:
            producer = edge
    return LineageRead(artifact_version=to_read(session, row), producer=producer, consumers=consumers)


#: Columns of an artifact version read, with the artifact's name (Core queries select these).
VERSION_COLUMNS = [
    *(c for c in t.artifact_versions.c),
    t.artifacts.c.name,
]


def version_read(row: Any) -> ArtifactVersionRead:
    """An artifact version from a Core row of :data:`VERSION_COLUMNS`."""
    return ArtifactVersionRead.trusted(  # read back from our own rows
        id=row.id,
        created=row.created,
        artifact_id=row.artifact_id,
        name=row.name,
        version=row.version,
        uri=row.uri,
        content_hash=row.content_hash,
        size=row.size,
        materializer=row.materializer,
        data_type=row.data_type,
        artifact_store_id=row.artifact_store_id,
        producer_step_run_id=row.producer_step_run_id,
        metadata=row.metadata_json or {},
    )


def to_reads(session: Session, rows: list[ArtifactVersionRow]) -> list[ArtifactVersionRead]:
    return [to_read(session, r) for r in rows]


def to_read(session: Session, row: ArtifactVersionRow) -> ArtifactVersionRead:
    return ArtifactVersionRead.trusted(  # read back from our own rows
        id=row.id,
        created=row.created,
        artifact_id=row.artifact_id,
        name=row.artifact.name,
        version=row.version,
        uri=row.uri,
        content_hash=row.content_hash,
        size=row.size,
        materializer=row.materializer,
        data_type=row.data_type,
        artifact_store_id=row.artifact_store_id,
        producer_step_run_id=row.producer_step_run_id,
        metadata=row.metadata_json or {},
    )
