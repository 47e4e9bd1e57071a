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
            "builtins.list", "builtins.dict", "builtins.tuple", "builtins.set", "builtins.frozenset",
            # numpy numbers (np.int64 is no int subclass) stay JSON, tagged with their dtype
            "numpy.bool", "numpy.bool_", "numpy.integer", "numpy.floating"), 0),
    _Entry("runyard.bytes", "runyard.artifacts.builtin.bytes_materializer:BytesMaterializer",
           ("builtins.bytes", "builtins.bytearray"), 0),
    _Entry("runyard.path", "runyard.artifacts.builtin.path_materializer:PathMaterializer",
           ("pathlib.Path",), 0),
    _Entry("runyard.numpy", "runyard.artifacts.builtin.numpy_materializer:NumpyMaterializer",
           ("numpy.ndarray", "numpy.generic"), 0),
    _Entry("runyard.pandas", "runyard.artifacts.builtin.pandas_materializer:PandasMaterializer",
           # pandas 3 reports its classes as pandas.DataFrame; pandas 2 by their defining module
           ("pandas.DataFrame", "pandas.Series", "pandas.core.frame.DataFrame", "pandas.core.series.Series"), 0),
    _Entry("runyard.arrow", "runyard.artifacts.builtin.arrow_materializer:ArrowMaterializer",
           ("pyarrow.lib.Table",), 0),
    _Entry("runyard.pydantic", "runyard.artifacts.builtin.pydantic_materializer:PydanticMaterializer",
           ("pydantic.main.BaseModel",), 0),
    _Entry("runyard.sklearn", "runyard.artifacts.builtin.sklearn_materializer:SklearnMaterializer",
           ("sklearn.base.BaseEstimator",), 0),
)

#: Last resort for any other type; warns, and records versions so a mismatched load fails clearly.
FALLBACK_NAME = "runyard.cloudpickle"
_FALLBACK = _Entry(FALLBACK_NAME,
                   "runyard.artifacts.builtin.cloudpickle_materializer:CloudpickleMaterializer", ())
_DATACLASS = _Entry("runyard.dataclass",
                    "runyard.artifacts.builtin.dataclass_materializer:DataclassMaterializer", ())

_lock = threading.Lock()
_entries: dict[str, _Entry] | None = None
_classes: dict[str, type[Materializer]] = {}


def register_materializer(cls: M) -> M:
    """Class decorator: makes a user materializer available by its ``name`` and ``type_names``."""
    entries = _all_entries()
    with _lock:
        target = f"{cls.__module__}:{cls.__qualname__}"
        entries[cls.name] = _Entry(cls.name, target, tuple(cls.type_names), cls.priority)
        _classes[cls.name] = cls
        _ranked_cache.clear()
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
    from runyard.plugins import entry_points, load

    out: dict[str, _Entry] = {}
    for ep_name, target in entry_points("runyard.materializers").items():
        try:
            cls = load(target)
        except Exception as exc:  # a broken plugin must not break every run
            import warnings

            warnings.warn(f"Materializer plugin {ep_name!r} failed to load: {exc}", stacklevel=2)
            continue
        _classes[cls.name] = cls
        out[cls.name] = _Entry(cls.name, target, tuple(cls.type_names), cls.priority)
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
    found: type[Materializer] = getattr(importlib.import_module(module), attr)
    _classes[name] = found
    return found


def type_name(tp: type) -> str:
    return f"{tp.__module__}.{tp.__qualname__}"


#: Default of ``materializer_for(value=...)``: "no value given", as opposed to a value that is None.
_NO_VALUE: Any = object()


def materializer_for(data_type: Any, value: Any = _NO_VALUE) -> type[Materializer]:
    """The materializer for an annotation and, when given, the value about to be saved.

    The annotation is tried first (``Annotated`` and generics are unwrapped; a plugin may register an
    abstract base the value's class does not name), then the value's own type, which decides for ``Any``,
    unions such as ``int | None`` and annotations that do not match. A materializer must also accept the
    exact value (``handles_value``), else the next-best one is tried; dataclasses without a better match
    use the dataclass materializer, and anything left goes to the cloudpickle fallback.
    """
    has_value = value is not _NO_VALUE
    candidates: list[Any] = []
    annotated = _concrete_type(data_type)
    if annotated is not None and annotated is not object:
        candidates.append(annotated)
    if has_value and type(value) not in candidates:
        candidates.append(type(value))
    for tp in candidates:
        for entry in _ranked_entries(tp):
            cls = materializer_class(entry.name)
            if not has_value or cls.handles_value(value):
                return cls
    import dataclasses

    for tp in candidates:
        if dataclasses.is_dataclass(tp):
            cls = materializer_class(_DATACLASS.name)
            if not has_value or cls.handles_value(value):
                return cls
    return materializer_class(FALLBACK_NAME)


#: ``_ranked_entries`` per type (every step asks twice per output); emptied when a materializer registers.
_ranked_cache: dict[Any, list[_Entry]] = {}


def _ranked_entries(tp: Any) -> list[_Entry]:
    """Entries naming a class in ``tp``'s MRO, closest class first, then higher priority.

    A value the best entry refuses (``handles_value``) goes to the next one: ``np.str_`` is a ``str``
    that JSON cannot tag, but numpy can store it.
    """
    cached = _ranked_cache.get(tp)
    if cached is None:
        cached = _ranked_cache[tp] = _rank(tp)
    return cached


def _rank(tp: Any) -> list[_Entry]:
    names = [type_name(k) for k in getattr(tp, "__mro__", (tp,))]
    ranked: list[tuple[int, int, str, _Entry]] = []
    for entry in _all_entries().values():
        depth = next((i for i, name in enumerate(names) if name in entry.type_names), None)
        if depth is not None:
            ranked.append((depth, -entry.priority, entry.name, entry))
    ranked.sort(key=lambda item: item[:3])
    return [item[3] for item in ranked]


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
