"""Dataclasses as JSON plus their class's import path, so a config or result object stays readable.

Fields use the tagged JSON encoding of the JSON materializer (nested dataclasses, tuples, sets, NaN all
round-trip). Loading rebuilds the object field by field without calling ``__init__``, as unpickling does,
so ``__post_init__`` side effects do not run twice. An instance with attributes beyond its fields, a field
that is not JSON-able, or a class defined inside a function is refused by ``handles_value`` and left to
the pickle fallback, because JSON could not restore it exactly.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from runyard.artifacts.builtin._common import FORMAT_VERSION, check_format, class_path, read_json, write_json
from runyard.artifacts.builtin.json_materializer import decode, encode, is_encodable
from runyard.artifacts.materializer import Materializer

_DATA_FILE = "dataclass.json"


class DataclassMaterializer(Materializer):
    """Dataclass instances; the registry picks it for any dataclass type without a better materializer."""

    name: ClassVar[str] = "runyard.dataclass"
    type_names: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def handles_value(cls, obj: Any) -> bool:
        return dataclasses.is_dataclass(obj) and not isinstance(obj, type) and is_encodable(obj)

    def save(self, obj: Any, uri: str) -> None:
        write_json(self, uri, _DATA_FILE, {"format": FORMAT_VERSION, "value": encode(obj)})

    def load(self, data_type: type | None, uri: str) -> Any:
        document = read_json(self, uri, _DATA_FILE)
        check_format(document, "dataclass")
        return decode(document["value"], root_type=data_type)

    def extract_metadata(self, obj: Any) -> dict[str, Any]:
        return {"class": class_path(type(obj)), "fields": [field.name for field in dataclasses.fields(obj)]}
