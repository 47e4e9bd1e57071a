"""Pydantic models as their own JSON plus the class's import path.

JSON keeps the artifact readable and lets a later version of the model class validate (and migrate) old
data. The JSON is pydantic's JSON-mode dump, written with ``NaN``/``Infinity`` literals where needed:
``model_dump_json`` would write non-finite floats as ``null``, which then fails validation or silently
changes the value; pydantic's JSON parser reads the literals back. Loading validates with the annotated
type when the caller gives one, so a class that was moved or renamed still loads; otherwise it imports
the recorded class.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel

from runyard.artifacts.builtin._common import (
    FORMAT_VERSION,
    check_format,
    class_path,
    import_class,
    is_importable,
    read_bytes,
    read_json,
    write_bytes,
    write_json,
)
from runyard.artifacts.materializer import Materializer
from runyard.exceptions import ArtifactError

_MODEL_FILE = "model.json"
_META_FILE = "pydantic.json"


def _dump(obj: BaseModel) -> bytes:
    data = obj.model_dump(mode="json", round_trip=True)
    return json.dumps(data, ensure_ascii=True, allow_nan=True, separators=(",", ":")).encode("ascii")


class PydanticMaterializer(Materializer):
    """``pydantic.BaseModel`` instances whose fields serialize to JSON and whose class can be imported."""

    name: ClassVar[str] = "runyard.pydantic"
    type_names: ClassVar[tuple[str, ...]] = ("pydantic.main.BaseModel",)

    @classmethod
    def handles_value(cls, obj: Any) -> bool:
        if not isinstance(obj, BaseModel) or not is_importable(type(obj)):
            return False
        try:
            _dump(obj)
        except Exception:  # arbitrary_types_allowed fields, say: let the fallback pickle it
            return False
        return True

    def save(self, obj: Any, uri: str) -> None:
        write_bytes(self, uri, _MODEL_FILE, _dump(obj))
        write_json(self, uri, _META_FILE, {"format": FORMAT_VERSION, "class": class_path(type(obj))})

    def load(self, data_type: type | None, uri: str) -> Any:
        meta = read_json(self, uri, _META_FILE)
        check_format(meta, "pydantic")
        model = data_type if isinstance(data_type, type) and issubclass(data_type, BaseModel) else None
        if model is None:
            recorded = import_class(meta["class"])
            if not issubclass(recorded, BaseModel):
                raise ArtifactError(f"{meta['class']!r} recorded with the artifact is not a pydantic model.")
            model = recorded
        try:
            return model.model_validate_json(read_bytes(self, uri, _MODEL_FILE))
        except ValueError as exc:  # pydantic.ValidationError
            raise ArtifactError(
                f"The stored {meta['class']} does not validate as {model.__qualname__}: {exc}",
                hint="The model class changed; give new fields defaults or add a validator that migrates.",
            ) from exc

    def extract_metadata(self, obj: Any) -> dict[str, Any]:
        return {"class": class_path(type(obj)), "fields": sorted(type(obj).model_fields)}
