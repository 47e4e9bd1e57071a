"""scikit-learn estimators in the skops format, which loads without running arbitrary code, unlike pickle.

Loading trusts only types from ``sklearn.`` and ``numpy.`` (plus module prefixes listed in
``RUNYARD_SKOPS_TRUSTED_MODULES``); an artifact naming anything else is refused with the list of types, so
a tampered artifact store cannot run code in the process that loads a model. Saving warns early when an
estimator holds types that loading will refuse (a custom transformer, say). Estimators skops cannot save
at all (lambdas, local classes) are pickled inside the artifact instead, with a warning.

skops names the files inside its zip after Python object ids (and stamps them with the current time), so
the same model would get a new content hash on every save; :func:`canonical_skops` renumbers them in
order of appearance and fixes the timestamps, so an identical model is stored once and caches hit.
"""

from __future__ import annotations

import io
import json
import os
import warnings
import zipfile
from typing import Any, ClassVar

import sklearn
import skops.io as sio
from sklearn.base import BaseEstimator

from runyard.artifacts.builtin._common import file_exists, hashed_file, json_safe, read_bytes
from runyard.artifacts.builtin.cloudpickle_materializer import PICKLE_FILE, load_pickle, save_pickle
from runyard.artifacts.materializer import Materializer
from runyard.exceptions import ArtifactError

_SKOPS_FILE = "model.skops"
#: Modules whose types a skops artifact may contain; extend with a comma-separated list of prefixes.
TRUSTED_MODULES_ENV = "RUNYARD_SKOPS_TRUSTED_MODULES"
_BUILTIN_TRUSTED = ("sklearn.", "numpy.")


def trusted_prefixes() -> tuple[str, ...]:
    extra = [p.strip() for p in os.environ.get(TRUSTED_MODULES_ENV, "").split(",") if p.strip()]
    return (*_BUILTIN_TRUSTED, *(p if p.endswith(".") else f"{p}." for p in extra))


def split_trusted(untrusted: list[str]) -> tuple[list[str], list[str]]:
    """(types we trust, types we refuse) among those skops does not trust by default."""
    prefixes = trusted_prefixes()
    trusted = [t for t in untrusted if t.startswith(prefixes)]
    return trusted, [t for t in untrusted if not t.startswith(prefixes)]


def _refusal_hint(refused: list[str]) -> str:
    modules = sorted({t.rsplit(".", 1)[0].split(".")[0] for t in refused})
    return (
        f"If you trust the code that wrote it, set {TRUSTED_MODULES_ENV}={','.join(modules)} "
        "(comma-separated module prefixes) and load again."
    )


def canonical_skops(data: bytes) -> bytes:
    """``data`` with object-id file names and ``__id__`` values renumbered 1, 2, ... and fixed timestamps.

    The renumbering is one-to-one, so objects skops shares (memoizes) stay shared. Anything unexpected in
    the archive returns ``data`` unchanged: the model is still correct, it only misses deduplication.
    """
    try:
        source = zipfile.ZipFile(io.BytesIO(data))
        schema = json.loads(source.read("schema.json"))
        members = {info.filename: info for info in source.infolist() if info.filename != "schema.json"}
        ids: dict[int, int] = {}
        files: dict[str, str] = {}

        def renumber(node: Any) -> None:
            if isinstance(node, dict):
                items: Any = node.items()
            elif isinstance(node, list):
                items = enumerate(node)
            else:
                return
            for key, value in items:
                if key == "__id__" and type(value) is int:
                    node[key] = ids.setdefault(value, len(ids) + 1)
                elif key == "file" and isinstance(value, str) and value in members:
                    node[key] = files.setdefault(value, f"{len(files) + 1}{os.path.splitext(value)[1]}")
                else:
                    renumber(value)

        renumber(schema)
        if set(files) != set(members):
            return data
        target = io.BytesIO()
        with zipfile.ZipFile(target, "w") as archive:
            for old, new in files.items():
                info = zipfile.ZipInfo(new, date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = members[old].compress_type
                archive.writestr(info, source.read(old))
            info = zipfile.ZipInfo("schema.json", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, json.dumps(schema, indent=2))
        return target.getvalue()
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError):
        return data


class SklearnMaterializer(Materializer):
    """scikit-learn estimators, pipelines and other ``BaseEstimator`` subclasses."""

    name: ClassVar[str] = "runyard.sklearn"
    type_names: ClassVar[tuple[str, ...]] = ("sklearn.base.BaseEstimator",)

    @classmethod
    def handles_value(cls, obj: Any) -> bool:
        return isinstance(obj, BaseEstimator)

    def save(self, obj: Any, uri: str) -> None:
        try:
            data = canonical_skops(sio.dumps(obj))
            untrusted = sio.get_untrusted_types(data=data)
        except Exception as exc:  # skops raises TypeError and friends for what it cannot represent
            save_pickle(self, obj, uri, reason=f"skops cannot save this {type(obj).__name__} ({exc}).")
            return
        unloadable = [t for t in untrusted if "<" in t]  # lambdas and local classes: no import path
        if unloadable:
            save_pickle(self, obj, uri, reason=f"skops cannot save references to {', '.join(unloadable)}.")
            return
        _trusted, refused = split_trusted(untrusted)
        if refused:
            warnings.warn(
                f"The {type(obj).__name__} contains types that loading will refuse as untrusted: "
                f"{', '.join(refused)}. {_refusal_hint(refused)}",
                UserWarning,
                stacklevel=2,
            )
        with hashed_file(self, uri, _SKOPS_FILE) as handle:
            handle.write(data)

    def load(self, data_type: type | None, uri: str) -> Any:
        if not file_exists(self, uri, _SKOPS_FILE) and file_exists(self, uri, PICKLE_FILE):
            return load_pickle(self, uri)
        data = read_bytes(self, uri, _SKOPS_FILE)
        trusted, refused = split_trusted(sio.get_untrusted_types(data=data))
        if refused:
            raise ArtifactError(
                f"Refusing to load the model at {uri}: it contains untrusted types {', '.join(refused)} "
                "(only sklearn and numpy types are trusted, since loading them runs their code).",
                hint=_refusal_hint(refused),
            )
        try:
            return sio.loads(data, trusted=trusted)
        except Exception as exc:
            raise ArtifactError(
                f"Cannot load the model at {uri} with skops {sio_version()} and scikit-learn "
                f"{sklearn.__version__}: {type(exc).__name__}: {exc}",
                hint="Load it with the scikit-learn version it was saved with (see the artifact metadata).",
            ) from exc

    def extract_metadata(self, obj: Any) -> dict[str, Any]:
        kind = type(obj)
        try:
            params = {k: json_safe(v) for k, v in obj.get_params(deep=False).items()}
        except Exception:  # a custom estimator with a broken get_params must not fail the save
            params = {}
        return {"class": f"{kind.__module__}.{kind.__qualname__}", "params": params,
                "sklearn_version": sklearn.__version__}


def sio_version() -> str:
    import skops

    return str(skops.__version__)
