"""Plain Python values as one JSON file, readable by anyone and diffable in the dashboard.

JSON alone loses types a step's caller relies on (a tuple comes back as a list, ``{1: "a"}`` as
``{"1": "a"}``, NaN is not JSON at all), so values JSON cannot say exactly are written as small tagged
objects ``{"__runyard__": tag, ...}``. Sets are written sorted so that equal sets always produce equal
bytes, hence equal content hashes, whatever the process's hash seed. Values this encoding cannot express
(custom classes, cycles, int subclasses such as enums) make :meth:`JSONMaterializer.handles_value` False,
so the registry falls back to another materializer instead of changing the value's type.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, ClassVar

from runyard.artifacts.builtin._common import (
    FORMAT_VERSION,
    check_format,
    class_path,
    import_class,
    is_importable,
    json_safe,
    read_json,
    write_json,
)
from runyard.artifacts.materializer import Materializer
from runyard.exceptions import ArtifactError

TAG = "__runyard__"
DATA_FILE = "data.json"
_SCALARS = (type(None), bool, int, str)
#: numpy scalar kinds stored as JSON numbers plus their dtype: bool, signed and unsigned int, float.
_NUMPY_KINDS = frozenset("biuf")


class NotJSONable(Exception):
    """Raised inside :func:`encode` for a value the tagged JSON encoding cannot represent exactly."""


def encode(value: Any) -> Any:
    """``value`` as JSON-able data that :func:`decode` turns back into an equal value of the same type."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is float:
        return value if math.isfinite(value) else {TAG: "float", "value": repr(value)}
    if kind is list:
        return [encode(item) for item in value]
    if kind is dict:
        if TAG not in value and all(type(key) is str for key in value):
            return {key: encode(item) for key, item in value.items()}
        return {TAG: "dict", "items": [[encode(key), encode(item)] for key, item in value.items()]}
    if kind is tuple:
        return {TAG: "tuple", "items": [encode(item) for item in value]}
    if kind is set or kind is frozenset:
        items = sorted((encode(item) for item in value), key=_canonical)
        return {TAG: kind.__name__, "items": items}
    if kind.__module__ == "numpy":
        return _encode_numpy_scalar(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _encode_dataclass(value)
    raise NotJSONable(kind)


def _canonical(encoded: Any) -> str:
    return json.dumps(encoded, sort_keys=True, ensure_ascii=True, allow_nan=False)


def _encode_numpy_scalar(value: Any) -> dict[str, Any]:
    dtype = getattr(value, "dtype", None)
    if dtype is None or dtype.kind not in _NUMPY_KINDS or (dtype.kind == "f" and dtype.itemsize > 8):
        raise NotJSONable(type(value))  # complex, datetime, str, long double: the numpy materializer
    return {TAG: "numpy", "dtype": dtype.name, "value": encode(value.item())}


def _encode_dataclass(value: Any) -> dict[str, Any]:
    kind = type(value)
    names = [field.name for field in dataclasses.fields(value)]
    extra = set(getattr(value, "__dict__", {})) - set(names)
    if extra or not is_importable(kind):
        raise NotJSONable(kind)  # attributes outside the fields, or a class no other process can import
    fields = {name: encode(getattr(value, name)) for name in names}
    return {TAG: "dataclass", "class": class_path(kind), "fields": fields}


def is_encodable(value: Any) -> bool:
    try:
        encode(value)
    except (NotJSONable, RecursionError, ValueError):
        return False
    return True


def decode(data: Any, *, root_type: type | None = None) -> Any:
    """The inverse of :func:`encode`; ``root_type`` replaces the recorded class of a top-level dataclass."""
    if isinstance(data, list):
        return [decode(item) for item in data]
    if not isinstance(data, dict):
        return data
    tag = data.get(TAG)
    if tag is None:
        return {key: decode(item) for key, item in data.items()}
    if tag == "float":
        return float(data["value"])
    if tag == "tuple":
        return tuple(decode(item) for item in data["items"])
    if tag == "set":
        return {decode(item) for item in data["items"]}
    if tag == "frozenset":
        return frozenset(decode(item) for item in data["items"])
    if tag == "dict":
        return {decode(key): decode(item) for key, item in data["items"]}
    if tag == "numpy":
        import numpy as np

        return np.dtype(data["dtype"]).type(decode(data["value"]))
    if tag == "dataclass":
        return _decode_dataclass(data, root_type)
    raise ArtifactError(f"Unknown JSON artifact tag {tag!r}.", hint="Upgrade runyard to load this artifact.")


def _decode_dataclass(data: dict[str, Any], cls: Any) -> Any:
    """Rebuilds the instance field by field without calling ``__init__``, as unpickling does."""
    if cls is None or not dataclasses.is_dataclass(cls):
        cls = import_class(data["class"])
    obj = cls.__new__(cls)
    for name, item in data["fields"].items():
        object.__setattr__(obj, name, decode(item))  # also works for frozen and slotted dataclasses
    return obj


class JSONMaterializer(Materializer):
    """Built-in scalars and containers of them (plus numpy numbers and dataclasses inside containers)."""

    name: ClassVar[str] = "runyard.json"
    type_names: ClassVar[tuple[str, ...]] = (
        "builtins.int", "builtins.float", "builtins.str", "builtins.bool", "builtins.NoneType",
        "builtins.list", "builtins.dict", "builtins.tuple", "builtins.set", "builtins.frozenset",
        "numpy.bool", "numpy.bool_", "numpy.integer", "numpy.floating",
    )

    @classmethod
    def handles_value(cls, obj: Any) -> bool:
        return is_encodable(obj)

    def save(self, obj: Any, uri: str) -> None:
        try:
            value = encode(obj)
        except (NotJSONable, RecursionError, ValueError) as exc:
            raise ArtifactError(
                f"A {type(obj).__qualname__} value cannot be saved as JSON exactly.",
                hint="Annotate the output with a type that has a materializer, or register one.",
            ) from exc
        write_json(self, uri, DATA_FILE, {"format": FORMAT_VERSION, "value": value})

    def load(self, data_type: type | None, uri: str) -> Any:
        document = read_json(self, uri, DATA_FILE)
        check_format(document, "JSON")
        return decode(document["value"], root_type=data_type)

    def extract_metadata(self, obj: Any) -> dict[str, Any]:
        meta: dict[str, Any] = {"type": type(obj).__qualname__}
        if isinstance(obj, list | tuple | set | frozenset | dict | str):
            meta["length"] = len(obj)
        if not isinstance(obj, list | tuple | set | frozenset | dict):
            meta["value"] = json_safe(obj)
        return meta
