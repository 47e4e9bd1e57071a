"""Key/value metadata (``log_metadata``) on runs, step runs and artifact versions.

Every logged value is kept as history in ``metadata_entries``; the latest value of each key is also
merged into the resource's own ``metadata_json`` column, so reads never need a second query.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from runyard.exceptions import InvalidInput, NotFound
from runyard.jsonsafe import json_safe
from runyard.schemas.base import DEFAULT_PROJECT
from runyard.schemas.metadata import MetadataCreate, ResourceType
from runyard.workspace.db.models import ArtifactRow, ArtifactVersionRow, MetadataRow, RunRow, StepRunRow
from runyard.workspace.db.types import utcnow

_ROW_OF: dict[ResourceType, type[RunRow] | type[StepRunRow] | type[ArtifactVersionRow]] = {
    ResourceType.RUN: RunRow,
    ResourceType.STEP_RUN: StepRunRow,
    ResourceType.ARTIFACT_VERSION: ArtifactVersionRow,
}


def add_metadata(session: Session, *, metadata: MetadataCreate, project: str = DEFAULT_PROJECT) -> None:
    put_metadata(session, metadata.resource_type, metadata.resource_id, metadata.values, project=project)


def put_metadata(
    session: Session,
    resource_type: ResourceType,
    resource_id: uuid.UUID,
    values: dict[str, Any],
    *,
    project: str | None = None,
) -> None:
    """``project``: the resource must be of it (``None``: the caller checked already)."""
    if not values:
        return
    values = {key: json_safe(value) for key, value in values.items()}
    for key, value in values.items():
        _check_value(key, value)
    model = _ROW_OF[resource_type]
    # row lock: two writers logging to the same run must not lose each other's keys
    query = select(model.metadata_json).where(model.id == resource_id)
    if project is not None:
        if model is ArtifactVersionRow:
            query = query.where(
                ArtifactVersionRow.artifact_id.in_(select(ArtifactRow.id).where(ArtifactRow.project == project))
            )
        else:
            query = query.where(model.project == project)  # type: ignore[union-attr]
    current = session.scalar(query.with_for_update())
    if current is None:
        raise NotFound(f"No {resource_type} with id {resource_id}.")
    now = utcnow()
    session.execute(
        insert(MetadataRow),
        [
            {"resource_type": str(resource_type), "resource_id": resource_id, "key": k, "value": v, "created": now}
            for k, v in values.items()
        ],
    )
    # a statement, not an ORM attribute change: callers read back through Core right after, which does
    # not autoflush, so a pending ORM change would be missing from their answer
    session.execute(update(model).where(model.id == resource_id).values(metadata_json={**current, **values}))


def metadata_history(session: Session, resource_type: ResourceType, resource_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = session.execute(
        select(MetadataRow.key, MetadataRow.value, MetadataRow.created)
        .where(MetadataRow.resource_type == str(resource_type), MetadataRow.resource_id == resource_id)
        .order_by(MetadataRow.id)
    )
    return [{"key": k, "value": v, "created": c} for k, v, c in rows]


def _check_value(key: str, value: Any) -> None:
    if not isinstance(key, str) or not key or len(key) > 250:
        raise InvalidInput(f"Metadata key {key!r} is invalid.", hint="Use a non-empty string of at most 250 chars.")
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Metadata value for {key!r} is not JSON-serializable ({type(value).__name__}).",
            hint="Log numbers, strings, booleans, lists or dicts of those.",
        ) from exc
