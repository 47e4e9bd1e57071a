"""Key/value metadata (``log_metadata``) on runs, step runs and artifact versions."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from runyard.exceptions import InvalidInput, NotFound
from runyard.schemas.metadata import MetadataCreate, ResourceType
from runyard.workspace.db.models import ArtifactVersionRow, MetadataRow, RunRow, StepRunRow

_ROW_OF = {
    ResourceType.RUN: RunRow,
    ResourceType.STEP_RUN: StepRunRow,
    ResourceType.ARTIFACT_VERSION: ArtifactVersionRow,
}


def add_metadata(session: Session, *, metadata: MetadataCreate) -> None:
    row_type = _ROW_OF[metadata.resource_type]
    if session.get(row_type, metadata.resource_id) is None:
        raise NotFound(f"No {metadata.resource_type} with id {metadata.resource_id}.")
    put_metadata(session, metadata.resource_type, metadata.resource_id, metadata.values)


def put_metadata(
    session: Session, resource_type: ResourceType, resource_id: uuid.UUID, values: dict[str, Any]
) -> None:
    for key, value in values.items():
        _check_value(key, value)
        session.add(
            MetadataRow(resource_type=str(resource_type), resource_id=resource_id, key=key, value=value)
        )


def metadata_for(
    session: Session, resource_type: ResourceType, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """All metadata of many resources in one query; later values of a key win."""
    id_list = list(ids)
    out: dict[uuid.UUID, dict[str, Any]] = defaultdict(dict)
    if not id_list:
        return out
    rows = session.execute(
        select(MetadataRow.resource_id, MetadataRow.key, MetadataRow.value)
        .where(MetadataRow.resource_type == str(resource_type), MetadataRow.resource_id.in_(id_list))
        .order_by(MetadataRow.id)
    )
    for resource_id, key, value in rows:
        out[resource_id][key] = value
    return out


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
