"""The materializer seam: how one Python type becomes files in an artifact store, and back.

A materializer's ``name`` is persisted with every artifact version, so it must stay stable: loading an
artifact looks the materializer up by that name, never by the class's import path.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from runyard.artifacts.stores.base import ArtifactStore


class Materializer(abc.ABC):
    #: Stable persisted name, e.g. ``"runyard.numpy"``.
    name: ClassVar[str]
    #: Fully qualified names of the types handled (subclasses too), e.g. ``("numpy.ndarray",)``.
    #: Names rather than classes so that the registry never imports numpy or pandas to match a type.
    type_names: ClassVar[tuple[str, ...]] = ()
    #: Higher wins when several materializers handle a type.
    priority: ClassVar[int] = 0

    def __init__(self, store: ArtifactStore) -> None:
        self.store = store
        #: Per-file sha256 digests computed while writing; saves reading the files back to hash them.
        self.known_hashes: dict[str, str] = {}

    @abc.abstractmethod
    def save(self, obj: Any, uri: str) -> None:
        """Writes ``obj`` as files into the (new, empty) folder ``uri``."""

    @abc.abstractmethod
    def load(self, data_type: type | None, uri: str) -> Any:
        """Reads the object back from folder ``uri``; ``data_type`` is the annotation asked for, if any."""

    def extract_metadata(self, obj: Any) -> dict[str, Any]:
        """JSON-able facts shown with the artifact version (shape, dtype, rows, schema, stats)."""
        return {}

    @classmethod
    def handles_value(cls, obj: Any) -> bool:
        """Whether this materializer can save this exact value (beyond its type's name)."""
        return True
