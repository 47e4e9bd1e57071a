"""Hand-written parts of :mod:`runyard.client.records`: the record base class, its helpers, and mixins.

The records themselves are generated from the pydantic schemas (``python -m runyard.client.records_gen``);
what cannot be read off a schema's fields lives here: equality and ``repr`` shared by every record, the
parser of response specs behind ``records.decode``, and the methods some schema classes add to their fields
(a mixin per such class, named in ``records_gen.MIXINS``). Like the records, this module never imports
pydantic: the pipeline process loads it on start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self

if TYPE_CHECKING:
    from uuid import UUID

    from runyard.client.records import ArtifactVersionRead, RunStepRead, StepRunRead

Decoder = Callable[[Any], Any]


class Record:
    """Base of every record: plain slotted objects, compared and shown field by field.

    Records mirror frozen pydantic models but do not enforce immutability (a guarded ``__setattr__``
    would slow every construction down); treat them as read-only all the same. They do not hash: a
    record may hold dicts, and nothing should key on a wire answer.
    """

    __slots__ = ()

    #: ``"module:Class"`` of the pydantic schema this record mirrors.
    _schema: ClassVar[str]
    #: Field names in the schema's declaration order (``model_fields``).
    _fields: ClassVar[tuple[str, ...]]
    #: The fields ``repr`` shows when the schema hides some (secret values); ``None``: all of them.
    _repr_fields: ClassVar[tuple[str, ...] | None] = None

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """The record of a JSON-decoded answer; each generated class writes its own conversions."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        """Every field as a JSON-able value, as pydantic's ``model_dump(mode="json")`` gives them."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self._fields)

    def __repr__(self) -> str:
        names = self._fields if self._repr_fields is None else self._repr_fields
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({shown})"


def dump_datetime(value: datetime) -> str:
    """ISO 8601 as pydantic writes it: UTC as ``Z``, other offsets kept, naive times left naive."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def dump_item(value: Any) -> Any:
    """A generic page item as JSON: records through ``to_json``, anything else as it is."""
    return value.to_json() if isinstance(value, Record) else value


def same(value: Any) -> Any:
    """The identity, as the decoder of values that JSON already gives in their final form."""
    return value


def decoder(spec: str, records: Mapping[str, type[Record]]) -> Decoder:
    """The function turning a JSON-decoded answer of type ``spec`` into records.

    ``spec`` names a record (``"RunRead"``), ``list[X]``, ``dict[str, X]``, ``Page[X]`` or ``Any``
    (kept as decoded); spaces are ignored. An unknown name is a ``ValueError`` naming the whole spec.
    """
    return _decoder(spec.replace(" ", ""), records, spec)


def _decoder(text: str, records: Mapping[str, type[Record]], spec: str) -> Decoder:
    if text == "Any":
        return same
    for prefix in ("list[", "dict[str,", "Page["):
        if text.startswith(prefix) and text.endswith("]"):
            inner = _decoder(text[len(prefix) : -1], records, spec)
            if prefix == "list[":
                return lambda data: [inner(x) for x in data]
            if prefix == "dict[str,":
                return lambda data: {k: inner(x) for k, x in data.items()}
            page = records["Page"].from_json
            return lambda data: page(data, inner)  # type: ignore[call-arg]
    cls = records.get(text)
    if cls is None:
        raise ValueError(f"no record answers {spec!r} ({text!r} is unknown): expected a record name, list[X], "
                         f"dict[str, X], Page[X] or Any")
    return cls.from_json


class RunStepsPageMixin:
    """``RunStepsPage.step_runs()``, as the pydantic page has it."""

    __slots__ = ()

    items: list[RunStepRead]
    artifact_versions: dict[UUID, ArtifactVersionRead]

    def step_runs(self) -> list[StepRunRead]:
        """The items as :class:`StepRunRead` records, their artifact versions inline (what ``GET /steps`` returns).

        A version the page does not list is a ``KeyError``, as on the pydantic page.
        """
        from runyard.client.records import StepRunRead

        versions = self.artifact_versions
        out = []
        for item in self.items:
            values = {name: getattr(item, name) for name in item._fields}
            values["inputs"] = {name: versions[vid] for name, vid in item.inputs.items()}
            values["outputs"] = {name: versions[vid] for name, vid in item.outputs.items()}
            out.append(StepRunRead(**values))
        return out
