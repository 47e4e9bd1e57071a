"""ORM models of the workspace database.

Indexes follow the queries the service layer runs: keyset pages are ordered by ``(created, id)``, cache
look-ups go by ``cache_key``, lineage by ``artifact_version_id``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import LargeBinary

from runyard.schemas.base import DEFAULT_PROJECT
from runyard.workspace.db.types import UTCDateTime, utcnow


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, uuid.UUID: Uuid}


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)


def _project() -> Mapped[str]:
    """The project (a control-plane project name) a row belongs to; every query of a request filters on it."""
    return mapped_column(String(64), nullable=False, default=DEFAULT_PROJECT, server_default=DEFAULT_PROJECT)


class PipelineRow(Base):
    __tablename__ = "pipelines"
    id: Mapped[uuid.UUID] = _id()
    project: Mapped[str] = _project()
    name: Mapped[str] = mapped_column(String(200))
    docstring: Mapped[str | None] = mapped_column(Text)
    created: Mapped[datetime] = _created()
    updated: Mapped[datetime] = _created()

    __table_args__ = (UniqueConstraint("project", "name", name="uq_pipelines_project_name"),)


class SnapshotRow(Base):
    __tablename__ = "snapshots"
    id: Mapped[uuid.UUID] = _id()
    project: Mapped[str] = _project()
    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"), index=True)
    stack_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stacks.id", ondelete="SET NULL"))
    spec: Mapped[dict[str, Any]]
    spec_hash: Mapped[str] = mapped_column(String(128), index=True)
    config: Mapped[dict[str, Any]]
    code_reference: Mapped[dict[str, Any] | None]
    created: Mapped[datetime] = _created()


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[uuid.UUID] = _id()
    project: Mapped[str] = _project()
    name: Mapped[str] = mapped_column(String(250))
    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    snapshot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("snapshots.id", ondelete="CASCADE"))
    stack_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("stacks.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20))
    parameters: Mapped[dict[str, Any]]
    error: Mapped[str | None] = mapped_column(Text)
    orchestrator_run_id: Mapped[str | None] = mapped_column(String(250))
    created: Mapped[datetime] = _created()
    updated: Mapped[datetime] = _created()
    started: Mapped[datetime | None]
    ended: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    #: Latest value of every logged metadata key (the history is in ``metadata_entries``).
    metadata_json: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    pipeline: Mapped[PipelineRow] = relationship(lazy="joined", innerjoin=True)
    tag_rows: Mapped[list[RunTagRow]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="RunTagRow.tag"
    )

    __table_args__ = (
        Index("ix_runs_project_created", "project", "created", "id"),
        Index("ix_runs_pipeline_created", "pipeline_id", "created", "id"),
        Index("ix_runs_status_created", "status", "created", "id"),
        Index("ix_runs_pipeline_status_created", "pipeline_id", "status", "created", "id"),
    )


class RunTagRow(Base):
    __tablename__ = "run_tags"
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)


class StepRunRow(Base):
    __tablename__ = "step_runs"
    id: Mapped[uuid.UUID] = _id()
    #: The run's project, copied so that reads and reports of a step check it without a join.
    project: Mapped[str] = _project()
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    invocation_id: Mapped[str] = mapped_column(String(250))
    step_name: Mapped[str] = mapped_column(String(250))
    status: Mapped[str] = mapped_column(String(20))
    parameters: Mapped[dict[str, Any]]
    source_hash: Mapped[str | None] = mapped_column(String(128))
    cache_key: Mapped[str | None] = mapped_column(String(128))
    cache_parts: Mapped[dict[str, Any]]
    original_step_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created: Mapped[datetime] = _created()
    started: Mapped[datetime | None]
    ended: Mapped[datetime | None]
    metadata_json: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (
        UniqueConstraint("run_id", "invocation_id", name="uq_step_runs_run_invocation"),
        Index("ix_step_runs_cache_key", "cache_key", "status"),
        Index("ix_step_runs_pipeline_invocation", "pipeline_id", "invocation_id", "created"),
    )


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    id: Mapped[uuid.UUID] = _id()
    project: Mapped[str] = _project()
    name: Mapped[str] = mapped_column(String(250))
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = _created()

    __table_args__ = (UniqueConstraint("project", "name", name="uq_artifacts_project_name"),)


class ArtifactVersionRow(Base):
    __tablename__ = "artifact_versions"
    id: Mapped[uuid.UUID] = _id()
    artifact_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    uri: Mapped[str] = mapped_column(String(2000))
    content_hash: Mapped[str] = mapped_column(String(128), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    materializer: Mapped[str] = mapped_column(String(500))
    data_type: Mapped[str] = mapped_column(String(500))
    artifact_store_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    producer_step_run_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("step_runs.id", ondelete="SET NULL"), index=True
    )
    #: Metadata the materializer extracted, merged with every value logged later.
    metadata_json: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created: Mapped[datetime] = _created()

    artifact: Mapped[ArtifactRow] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        UniqueConstraint("artifact_id", "version", name="uq_artifact_versions_version"),
        Index("ix_artifact_versions_created_id", "created", "id"),
    )


class StepRunArtifactRow(Base):
    """An edge of the lineage graph: a step run read (``input``) or wrote (``output``) an artifact version."""

    __tablename__ = "step_run_artifacts"
    step_run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("step_runs.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(250), primary_key=True)
    artifact_version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("artifact_versions.id", ondelete="CASCADE"), index=True
    )

    artifact_version: Mapped[ArtifactVersionRow] = relationship(lazy="joined", innerjoin=True)


class MetadataRow(Base):
    __tablename__ = "metadata_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_type: Mapped[str] = mapped_column(String(30))
    resource_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    key: Mapped[str] = mapped_column(String(250))
    value: Mapped[Any] = mapped_column(JSON)
    created: Mapped[datetime] = _created()

    __table_args__ = (Index("ix_metadata_resource", "resource_type", "resource_id"),)


class ComponentRow(Base):
    __tablename__ = "components"
    id: Mapped[uuid.UUID] = _id()
    project: Mapped[str] = _project()
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(50))
    flavor: Mapped[str] = mapped_column(String(50))
    config: Mapped[dict[str, Any]]
    created: Mapped[datetime] = _created()

    __table_args__ = (UniqueConstraint("project", "type", "name", name="uq_components_project_type_name"),)


class StackRow(Base):
    __tablename__ = "stacks"
    id: Mapped[uuid.UUID] = _id()
    project: Mapped[str] = _project()
    name: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = _created()

    __table_args__ = (UniqueConstraint("project", "name", name="uq_stacks_project_name"),)

    members: Mapped[list[StackComponentRow]] = relationship(lazy="selectin", cascade="all, delete-orphan")


class StackComponentRow(Base):
    __tablename__ = "stack_components"
    stack_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("stacks.id", ondelete="CASCADE"), primary_key=True)
    type: Mapped[str] = mapped_column(String(50), primary_key=True)
    component_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("components.id", ondelete="RESTRICT"))

    component: Mapped[ComponentRow] = relationship(lazy="joined", innerjoin=True)


class LogLineRow(Base):
    """Log lines stored by the ``database`` log backend (the default backend writes files instead)."""

    __tablename__ = "log_lines"
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    offset: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    time: Mapped[float] = mapped_column(Float)
    stream: Mapped[str] = mapped_column(String(10))
    level: Mapped[str] = mapped_column(String(10))
    logger: Mapped[str | None] = mapped_column(String(250))
    message: Mapped[str] = mapped_column(Text)


class LogStreamRow(Base):
    """One row per log (run or step) of the database backend: how many lines, and whether it is closed."""

    __tablename__ = "log_streams"
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    complete: Mapped[bool] = mapped_column(default=False)


class SecretRow(Base):
    """A secret's metadata; its values are kept by its ``store`` (``database``: ``ciphertext`` below,
    AES-GCM under the key named by ``key_id``; the key itself is never in this database)."""

    __tablename__ = "secrets"
    id: Mapped[uuid.UUID] = _id()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    #: The names of the values (not secret themselves), so listings need no decryption.
    keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    store: Mapped[str] = mapped_column(String(50))
    key_id: Mapped[str | None] = mapped_column(String(32))
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_by: Mapped[str | None] = mapped_column(String(320))
    created: Mapped[datetime] = _created()
    updated: Mapped[datetime] = _created()
