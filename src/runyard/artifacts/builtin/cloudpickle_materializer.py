"""The last resort for any type without a materializer: cloudpickle, plus the versions it was written with.

Pickles load only where the same code exists, so saving warns (register a real materializer for a type you
keep), and ``versions.json`` records Python, the object's top-level package and cloudpickle. A load that
fails then says which versions differ instead of showing a bare unpickling traceback; a load that works
across different versions still warns, since the object may behave differently.
"""

from __future__ import annotations

import functools
import importlib.metadata
import pickle
import platform
import sys
import warnings
from typing import Any, ClassVar

import cloudpickle

from runyard.artifacts.builtin._common import FORMAT_VERSION, check_format, hashed_file, read_json, write_json
from runyard.artifacts.materializer import Materializer
from runyard.exceptions import ArtifactError, ArtifactVersionWarning, PickleFallbackWarning

PICKLE_FILE = "object.pkl"
VERSIONS_FILE = "versions.json"


@functools.lru_cache(maxsize=1)
def _distributions_by_module() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


@functools.lru_cache(maxsize=256)
def package_version(package: str) -> str | None:
    """Installed version of the distribution providing the import name ``package``; None for the stdlib."""
    if package in sys.stdlib_module_names or package in ("builtins", "__main__"):
        return None
    for dist in _distributions_by_module().get(package, []):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    version = getattr(sys.modules.get(package), "__version__", None)
    return str(version) if version is not None else None


def _qualified(obj: Any) -> str:
    kind = type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def _python_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def save_pickle(materializer: Materializer, obj: Any, uri: str, *, reason: str) -> None:
    """Writes ``obj`` with cloudpickle plus its versions, warning with ``reason`` (why pickle was used)."""
    type_name = _qualified(obj)
    package = type(obj).__module__.split(".")[0]
    version = package_version(package)
    warnings.warn(
        f"{reason} Saved the {type_name} with cloudpickle, which loads only with the same Python and "
        f"{package} versions. Register a materializer for {type_name} "
        "(runyard.artifacts.registry.register_materializer) to store it in a portable format.",
        PickleFallbackWarning,
        stacklevel=3,
    )
    with hashed_file(materializer, uri, PICKLE_FILE) as handle:
        cloudpickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
    write_json(materializer, uri, VERSIONS_FILE, {
        "format": FORMAT_VERSION,
        "type": type_name,
        "python": platform.python_version(),
        "package": package,
        "package_version": version,
        "cloudpickle": cloudpickle.__version__,
    })


def _describe(python: str, package: str, version: str | None, pickler: str | None) -> str:
    package_part = f"{package} {version}" if version else f"{package} (no version)"
    return f"Python {python}, {package_part}, cloudpickle {pickler or 'unknown'}"


def load_pickle(materializer: Materializer, uri: str) -> Any:
    """Unpickles, turning any failure into an :class:`ArtifactError` that names both environments."""
    recorded = read_json(materializer, uri, VERSIONS_FILE)
    check_format(recorded, "cloudpickle")
    package = recorded.get("package") or "builtins"
    saved_python, saved_version = recorded.get("python", "unknown"), recorded.get("package_version")
    current_python, current_version = platform.python_version(), package_version(package)
    same_python = _python_minor(saved_python) == _python_minor(current_python)
    mismatch = saved_version != current_version or not same_python
    saved = _describe(saved_python, package, saved_version, recorded.get("cloudpickle"))
    current = _describe(current_python, package, current_version, cloudpickle.__version__)
    type_name = recorded.get("type", "object")
    try:
        with materializer.store.open(f"{uri}/{PICKLE_FILE}", "rb") as handle:
            obj = pickle.load(handle)  # the fallback format; its save warned about it
    except Exception as exc:
        why = "the versions differ" if mismatch else "the versions match; the code it needs may have changed"
        raise ArtifactError(
            f"Cannot unpickle the {type_name} artifact at {uri} ({why}): saved with {saved}; "
            f"this environment has {current}. {type(exc).__name__}: {exc}",
            hint=f"Load it with {saved}, or register a materializer for {type_name} and save it again.",
        ) from exc
    if mismatch:
        warnings.warn(
            f"Loaded the {type_name} artifact saved with {saved} into {current}; it may behave differently.",
            ArtifactVersionWarning,
            stacklevel=3,
        )
    return obj


class CloudpickleMaterializer(Materializer):
    """Any picklable object; the registry's fallback when no other materializer handles a value."""

    name: ClassVar[str] = "runyard.cloudpickle"
    type_names: ClassVar[tuple[str, ...]] = ()
    priority: ClassVar[int] = -100

    def save(self, obj: Any, uri: str) -> None:
        save_pickle(self, obj, uri, reason=f"No materializer is registered for {_qualified(obj)}.")

    def load(self, data_type: type | None, uri: str) -> Any:
        return load_pickle(self, uri)

    def extract_metadata(self, obj: Any) -> dict[str, Any]:
        return {"type": _qualified(obj)}
