"""Finds the materializer for a type or a persisted name, importing only the one that is needed.

Built-ins register exactly as third parties do: entries ``(name, "module:Class", type names)`` from the
``runyard.materializers`` entry point group, plus classes registered with :func:`register_materializer`.
"""

from __future__ import annotations

import importlib
import threading
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

from runyard.artifacts.materializer import Materializer
from runyard.exceptions import ArtifactError

M = TypeVar("M", bound=type[Materializer])


@dataclass(frozen=True)
class _Entry:
    name: str
    target: str  # "module:Class"
    type_names: tuple[str, ...]
    priority: int = 0


_BUILTINS: tuple[_Entry, ...] = (
    _Entry("runyard.json", "runyard.artifacts.builtin.json_materializer:JSONMaterializer",
           ("builtins.int", "builtins.float", "builtins.str", "builtins.bool", "builtins.NoneType",
            "builtins.list", "builtins.dict", "builtins.tuple", "builtins.set", "builtins.frozenset"), 0),
    _Entry("runyard.bytes", "runyard.artifacts.builtin.bytes_materializer:BytesMaterializer",
           ("builtins.bytes", "builtins.bytearray"), 0),
    _Entry("runyard.path", "runyard.artifacts.builtin.path_materializer:PathMaterializer", ("pathlib.Path",), 0),
    _Entry("runyard.numpy", "runyard.artifacts.builtin.numpy_materializer:NumpyMaterializer",
           ("numpy.ndarray",), 0),
    _Entry("runyard.pandas", "runyard.artifacts.builtin.pandas_materializer:PandasMaterializer",
           ("pandas.core.frame.DataFrame", "pandas.core.series.Series"), 0),
    _Entry("runyard.arrow", "runyard.artifacts.builtin.arrow_materializer:ArrowMaterializer",
           ("pyarrow.lib.Table",), 0),
    _Entry("runyard.pydantic", "runyard.artifacts.builtin.pydantic_materializer:PydanticMaterializer",
           ("pydantic.main.BaseModel",), 0),
    _Entry("runyard.sklearn", "runyard.artifacts.builtin.sklearn_materializer:SklearnMaterializer",
           ("sklearn.base.BaseEstimator",), 0),
)

#: Last resort for any other type; warns, and records versions so a mismatched load fails clearly.
FALLBACK_NAME = "runyard.cloudpickle"
_FALLBACK = _Entry(FALLBACK_NAME, "runyard.artifacts.builtin.cloudpickle_materializer:CloudpickleMaterializer", ())
_DATACLASS = _Entry("runyard.dataclass", "runyard.artifacts.builtin.dataclass_materializer:DataclassMaterializer", ())

_lock = threading.Lock()
_entries: dict[str, _Entry] | None = None
_classes: dict[str, type[Materializer]] = {}


def register_materializer(cls: M) -> M:
    """Class decorator: makes a user materializer available by its ``name`` and ``type_names``."""
    entries = _all_entries()
    with _lock:
        entries[cls.name] = _Entry(cls.name, f"{cls.__module__}:{cls.__qualname__}", tuple(cls.type_names), cls.priority)
        _classes[cls.name] = cls
    return cls


def _all_entries() -> dict[str, _Entry]:
    global _entries
    if _entries is None:
        with _lock:
            if _entries is None:
                found = {e.name: e for e in (*_BUILTINS, _FALLBACK, _DATACLASS)}
                found.update(_entry_point_entries())
                _entries = found
    return _entries


def _entry_point_entries() -> dict[str, _Entry]:
    from importlib.metadata import entry_points

    out: dict[str, _Entry] = {}
    for ep in entry_points(group="runyard.materializers"):
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not break every run
            import warnings

            warnings.warn(f"Materializer plugin {ep.name!r} failed to load: {exc}", stacklevel=2)
            continue
        _classes[cls.name] = cls
        out[cls.name] = _Entry(cls.name, ep.value, tuple(cls.type_names), cls.priority)
    return out


def materializer_class(name: str) -> type[Materializer]:
    cls = _classes.get(name)
    if cls is not None:
        return cls
    entry = _all_entries().get(name)
    if entry is None:
        raise ArtifactError(
            f"No materializer named {name!r} is installed.",
            hint="Install the package that provides it, or register it with @register_materializer.",
        )
    module, attr = entry.target.split(":")
    cls = getattr(importlib.import_module(module), attr)
    _classes[name] = cls
    return cls  # type: ignore[no-any-return]


def type_name(tp: type) -> str:
    return f"{tp.__module__}.{tp.__qualname__}"


def materializer_for(data_type: Any, value: Any = None) -> type[Materializer]:
    """The materializer for an annotation (or, for ``Any``/missing annotations, for the value's type)."""
    tp = _concrete_type(data_type)
    if tp is None or tp is object:
        tp = type(value)
    names = [type_name(k) for k in getattr(tp, "__mro__", (tp,))]
    best: tuple[int, int, _Entry] | None = None
    for entry in _all_entries().values():
        for depth, name in enumerate(names):
            if name in entry.type_names:
                rank = (-depth, entry.priority)
                if best is None or rank > best[:2]:
                    best = (rank[0], rank[1], entry)
                break
    if best is not None:
        cls = materializer_class(best[2].name)
        if value is None or cls.handles_value(value):
            return cls
    import dataclasses

    if dataclasses.is_dataclass(tp):
        return materializer_class(_DATACLASS.name)
    return materializer_class(FALLBACK_NAME)


def _concrete_type(annotation: Any) -> type | None:
    """``Annotated[T, ...]`` -> T; ``list[int]`` -> list; ``Optional[T]``/unions -> None (decide by value)."""
    if annotation is None or annotation is type(None):
        return type(None)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _concrete_type(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return None
    if origin is not None:
        return origin if isinstance(origin, type) else None
    if annotation is typing.Any:
        return None
    return annotation if isinstance(annotation, type) else None
