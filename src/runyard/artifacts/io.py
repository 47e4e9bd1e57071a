"""Saving a step output as an artifact version, and loading one back."""

from __future__ import annotations

import typing
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from runyard.artifacts.registry import materializer_class, materializer_for, type_name
from runyard.exceptions import ArtifactError

if TYPE_CHECKING:
    from runyard.artifacts.stores.base import ArtifactStore
    from runyard.client.workspace_api import WorkspaceAPI
    from runyard.schemas import ArtifactVersionCreate, ArtifactVersionRead


@dataclass(frozen=True, slots=True)
class SavedArtifact:
    """An output this process has just saved, as the next step reads it before the workspace answered
    the report that registers it: the workspace stores it under this (client-chosen) id and numbers it."""

    id: uuid.UUID
    name: str
    uri: str
    content_hash: str
    size: int
    materializer: str
    data_type: str
    artifact_store_id: uuid.UUID | None
    producer_step_run_id: uuid.UUID | None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Given by the workspace when it stores the report.
    version: int | None = None

    @classmethod
    def of(cls, created: ArtifactVersionCreate, *, producer_step_run_id: uuid.UUID | None) -> SavedArtifact:
        assert created.id is not None, "save_artifact chooses the id"
        return cls(created.id, created.name, created.uri, created.content_hash, created.size, created.materializer,
                   created.data_type, created.artifact_store_id, producer_step_run_id, created.metadata)


#: What a step reads an input from: a stored version, or one an upstream step of this run just saved.
StepInput: TypeAlias = "ArtifactVersionRead | SavedArtifact"


def save_artifact(
    value: Any,
    *,
    annotation: Any,
    artifact_name: str,
    output_name: str,
    store: ArtifactStore,
    extra_metadata: dict[str, Any] | None = None,
) -> ArtifactVersionCreate:
    from runyard.client.wire import ArtifactVersionCreate

    cls = materializer_for(annotation, value)
    materializer = cls(store)
    temp = store.new_temp_folder()
    try:
        materializer.save(value, temp)
        metadata = materializer.extract_metadata(value)
        uri, content_hash, size = store.finalize(temp, known_hashes=materializer.known_hashes)
    except BaseException:
        store.remove(temp)
        raise
    return ArtifactVersionCreate(
        id=uuid.uuid4(),
        name=artifact_name,
        output_name=output_name,
        uri=uri,
        content_hash=content_hash,
        size=size,
        materializer=cls.name,
        data_type=type_name(type(value)),
        artifact_store_id=store.component_id,
        metadata={**metadata, **(extra_metadata or {})},
    )


def load_artifact(version: StepInput, *, data_type: type | None = None, api: WorkspaceAPI | None = None,
                  store: ArtifactStore | None = None) -> Any:
    store = store or store_for(version, api)
    if not store.artifact_exists(version.uri):
        raise MissingArtifactFiles(
            f"The files of artifact {version.name!r} version {version.version or '(new)'} are missing at "
            f"{version.uri}.",
            hint="They were deleted from the artifact store; re-run the step that produced it (with caching "
            "off if needed) to recreate it.",
        )
    materializer = materializer_class(version.materializer)(store)
    return materializer.load(data_type, version.uri)


class OutputTypeError(ArtifactError):
    """A step's output does not match its annotation: the same code would return the same thing again."""

    permanent = True


class MissingArtifactFiles(ArtifactError):
    """The stored files of an artifact version are gone; running the consumer again cannot help."""

    permanent = True


def store_for(version: StepInput, api: WorkspaceAPI | None) -> ArtifactStore:
    """The store that holds a version: its registered component, or a local folder for local URIs."""
    from runyard.stack.resolve import artifact_store_from

    if version.artifact_store_id is not None and api is not None:
        from runyard.exceptions import NotFound

        try:
            component = api.get_component("artifact_store", str(version.artifact_store_id))
            return artifact_store_from(component)
        except NotFound:
            pass
    from runyard.artifacts.stores.local import LocalArtifactStore

    root = version.uri.rsplit("/", 2)[0]
    return LocalArtifactStore(root)


def check_output_type(value: Any, annotation: Any, *, where: str) -> None:
    """An output must match its annotation (checked for plain classes; generics by their origin)."""
    expected = annotation
    if typing.get_origin(expected) is typing.Annotated:
        expected = typing.get_args(expected)[0]
    if expected is typing.Any or expected is None:
        return
    origin = typing.get_origin(expected)
    if origin is typing.Union or (origin is not None and type(expected).__name__ == "UnionType"):
        options = [typing.get_origin(a) or a for a in typing.get_args(expected)]
        options = [type(None) if a is None else a for a in options]
        if any(isinstance(o, type) and _matches(value, o) for o in options):
            return
        raise OutputTypeError(f"{where} returned {type(value).__name__}, but is annotated {annotation!r}.",
                            hint="Return a value of the annotated type, or fix the annotation.")
    target = origin if isinstance(origin, type) else expected
    if isinstance(target, type) and not _matches(value, target):
        raise OutputTypeError(
            f"{where} returned {type(value).__name__}, but is annotated {getattr(target, '__name__', target)}.",
            hint="Return a value of the annotated type, or fix the return annotation.",
        )


def _matches(value: Any, target: type) -> bool:
    if target is float and isinstance(value, int) and not isinstance(value, bool):
        return True  # int where float is promised is fine (PEP 484 numeric tower)
    try:
        return isinstance(value, target)
    except TypeError:
        return True
