"""scikit-learn estimators in Runyard's own safe format: a state tree (``estimator.json``) plus ``.npy`` arrays.

The format and what loading may call are described in :mod:`runyard.artifacts.builtin.sklearn_state`;
the allow-list in :mod:`runyard.artifacts.builtin.sklearn_trust`. Saving warns early when a model holds
names that loading will refuse (a custom transformer, say); loading such a model needs the user's trust:
``RUNYARD_SKLEARN_TRUSTED=mypkg.AddOne`` or ``with trusting("mypkg"): ...``. Estimators the format cannot
express (lambdas, local classes) are pickled inside the artifact instead, with a warning.

Artifacts written by earlier Runyard versions with skops (``model.skops``) still load; only that path
imports skops. The library versions a model was saved with are stored in the file and in the artifact
metadata, so a load that fails, or crosses versions, says which versions differ.
"""

from __future__ import annotations

import contextvars
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from sklearn.base import BaseEstimator

from runyard.artifacts.builtin._common import file_exists, hashed_file, json_safe, read_json, write_json
from runyard.artifacts.builtin.sklearn_state import (
    ARRAYS_FILE,
    DOC_FILE,
    FORMAT,
    Encoder,
    Unsupported,
    library_versions,
    read_arrays,
    write_arrays,
)
from runyard.artifacts.builtin.sklearn_trust import TRUSTED_ENV, TrustPolicy
from runyard.artifacts.materializer import Materializer
from runyard.exceptions import ArtifactError, ArtifactVersionWarning, RunyardWarning

_PICKLE_FILE = "object.pkl"  # the cloudpickle fallback's file (cloudpickle_materializer.PICKLE_FILE)
_SKOPS_FILE = "model.skops"
_trusted: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("runyard_sklearn_trusted", default=())


@contextmanager
def trusting(*names: str) -> Iterator[None]:
    """Loads inside this block also accept ``names`` (dotted type/function names or module prefixes)."""
    token = _trusted.set((*_trusted.get(), *names))
    try:
        yield
    finally:
        _trusted.reset(token)


def _trust_hint(names: list[str]) -> str:
    return (f"If you trust the code that wrote it, set {TRUSTED_ENV}={','.join(names)} (comma-separated "
            "names or module prefixes), or load inside runyard.artifacts.builtin.sklearn_materializer."
            f"trusting({', '.join(repr(n) for n in names)}).")


def _describe(versions: dict[str, Any]) -> str:
    labels = (("sklearn", "scikit-learn"), ("numpy", "numpy"), ("scipy", "scipy"), ("python", "Python"))
    return ", ".join(f"{label} {versions[key]}" for key, label in labels if versions.get(key))


class SklearnMaterializer(Materializer):
    """scikit-learn estimators, pipelines and other ``BaseEstimator`` subclasses."""

    name: ClassVar[str] = "runyard.sklearn"
    type_names: ClassVar[tuple[str, ...]] = ("sklearn.base.BaseEstimator",)

    @classmethod
    def handles_value(cls, obj: Any) -> bool:
        return isinstance(obj, BaseEstimator)

    def save(self, obj: Any, uri: str) -> None:
        encoder = Encoder()
        try:
            document = encoder.document(obj)
        except (Unsupported, RecursionError) as exc:
            from runyard.artifacts.builtin.cloudpickle_materializer import save_pickle

            reason = f"Runyard's model format cannot store this {type(obj).__name__}: it holds {exc}."
            save_pickle(self, obj, uri, reason=reason)
            return
        if encoder.untrusted:
            refused = sorted(encoder.untrusted)
            warnings.warn(
                f"The {type(obj).__name__} contains types that loading will refuse as untrusted: "
                f"{', '.join(refused)}. {_trust_hint(refused)}",
                RunyardWarning,
                stacklevel=2,
            )
        write_json(self, uri, DOC_FILE, document)
        if encoder.arrays:
            with hashed_file(self, uri, ARRAYS_FILE) as handle:
                write_arrays(handle, encoder.arrays)

    def load(self, data_type: type | None, uri: str) -> Any:
        policy = TrustPolicy(_trusted.get())
        if file_exists(self, uri, DOC_FILE):
            return self._load_state(uri, policy)
        if file_exists(self, uri, _SKOPS_FILE):
            from runyard.artifacts.builtin._skops_legacy import load_skops

            return load_skops(self, uri, policy)
        from runyard.artifacts.builtin.cloudpickle_materializer import load_pickle

        if not file_exists(self, uri, _PICKLE_FILE):
            raise ArtifactError(f"No model file ({DOC_FILE}, {_SKOPS_FILE} or {_PICKLE_FILE}) in {uri}.",
                                hint="The artifact store was changed by hand; save the model again.")
        return load_pickle(self, uri)

    def _load_state(self, uri: str, policy: TrustPolicy) -> Any:
        from runyard.artifacts.builtin.sklearn_restore import Damaged, Restorer, refused_names

        document = read_json(self, uri, DOC_FILE)
        if not isinstance(document, dict) or not isinstance(document.get("format"), int):
            raise ArtifactError(f"{DOC_FILE} at {uri} is not a Runyard model file.",
                                hint="The artifact store was changed by hand; save the model again.")
        recorded = document.get("versions")
        saved: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
        current = library_versions()
        if document["format"] > FORMAT:
            raise ArtifactError(f"The model at {uri} was written in format {document['format']}; this Runyard "
                                f"reads formats up to {FORMAT}.", hint="Upgrade runyard to load it.")
        refused = refused_names(document.get("root"), policy)
        if refused:
            raise ArtifactError(
                f"Refusing to load the model at {uri}: it contains untrusted types {', '.join(refused)} "
                "(by default only scikit-learn, numpy, scipy.sparse and builtin types are trusted, since "
                "loading a class runs its code).",
                hint=_trust_hint(refused),
            )
        try:
            arrays = []
            if file_exists(self, uri, ARRAYS_FILE):
                with self.store.open(f"{uri}/{ARRAYS_FILE}", "rb") as handle:
                    arrays = read_arrays(handle)
            model = Restorer(arrays, policy).node(document.get("root"))
        except ArtifactError as exc:  # a class or function missing here: say which versions differ
            raise ArtifactError(f"Cannot load the model at {uri}, saved with {_describe(saved)}, into this "
                                f"environment ({_describe(current)}): {exc.message}", hint=exc.hint) from exc
        except (Damaged, RecursionError) as exc:
            raise ArtifactError(f"The model file at {uri} is damaged: {exc}.",
                                hint="It was changed by hand or not written by Runyard; save the model again.",
                                ) from exc
        except Exception as exc:
            raise ArtifactError(
                f"Cannot load the model at {uri}, saved with {_describe(saved)}, into this environment "
                f"({_describe(current)}): {type(exc).__name__}: {exc}",
                hint="Load it with the library versions it was saved with (see the artifact metadata).",
            ) from exc
        differ = [k for k in ("sklearn", "numpy") if saved.get(k) and saved.get(k) != current.get(k)]
        if differ:
            warnings.warn(f"Loaded the model at {uri} saved with {_describe(saved)} into {_describe(current)}; "
                          "it may behave differently.", ArtifactVersionWarning, stacklevel=3)
        return model

    def extract_metadata(self, obj: Any) -> dict[str, Any]:
        kind = type(obj)
        try:
            params = {k: json_safe(v) for k, v in obj.get_params(deep=False).items()}
        except Exception:  # a custom estimator with a broken get_params must not fail the save
            params = {}
        versions = library_versions()
        return {"class": f"{kind.__module__}.{kind.__qualname__}", "params": params,
                "sklearn_version": versions["sklearn"], "numpy_version": versions["numpy"]}
