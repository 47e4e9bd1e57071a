"""Which names a stored scikit-learn model may refer to, and how a name becomes a class or a function.

A model file (``sklearn_state``) names classes, types and functions by ``"module:qualname"``. Loading
resolves each name only after this module has allowed it, so a tampered artifact cannot make the loader
import or call anything else. Allowed by default:

- **classes** whose module is under ``sklearn.`` (estimators and the Cython/internal types they hold:
  ``sklearn.tree._tree.Tree``, loss objects, tree predictors, bin mappers), except modules that exist for
  testing, downloading data or running jobs (``DENIED_MODULES``);
- **types as values** (``OneHotEncoder(dtype=np.float64)``): numpy scalar types and plain builtins;
- **functions as values**: numpy ufuncs (handled apart, by name) and the public functions of
  ``sklearn.metrics`` and ``sklearn.feature_selection`` (score functions: ``SelectKBest(f_classif)``,
  ``make_scorer(accuracy_score)``), which only compute on the arrays they are given.

numpy arrays, dtypes, scalars, random states and scipy sparse matrices are not resolved through names at
all: the format stores them as data and the loader rebuilds them with fixed numpy/scipy calls.

Anything else (a custom transformer, ``FunctionTransformer(func=my_function)``) loads only when the user
trusts it: ``RUNYARD_SKLEARN_TRUSTED`` (comma-separated; an entry is an exact dotted name such as
``mypkg.features.AddOne`` or a module prefix such as ``mypkg``), or ``trusted=[...]`` of
:func:`runyard.artifacts.builtin.sklearn_state.load_estimator`. ``RUNYARD_SKOPS_TRUSTED_MODULES``, the
setting of the former skops format, is read too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from runyard.exceptions import ArtifactError

TRUSTED_ENV = "RUNYARD_SKLEARN_TRUSTED"
#: The skops-era setting (module prefixes); still honoured so existing set-ups keep loading.
LEGACY_TRUSTED_ENV = "RUNYARD_SKOPS_TRUSTED_MODULES"

#: sklearn modules whose classes are not trusted by default: test helpers (one runs subprocesses, one
#: deletes folders), dataset downloaders, parallel job wrappers (they call what they hold), vendored code.
DENIED_MODULES = (
    "sklearn.utils._testing", "sklearn.utils.estimator_checks", "sklearn.utils._test_common",
    "sklearn.utils.parallel", "sklearn.utils._show_versions", "sklearn.utils.fixes", "sklearn.externals",
    "sklearn.datasets", "sklearn.conftest", "sklearn._build_utils", "sklearn.__check_build",
    "sklearn._min_dependencies",
)
_FUNCTION_MODULES = ("sklearn.metrics.", "sklearn.feature_selection.")
_BUILTIN_TYPES = frozenset(
    f"builtins:{t.__qualname__}"
    for t in (int, float, complex, bool, str, bytes, bytearray, object, list, tuple, dict, set, frozenset,
              slice, type(None))
)


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def dotted(name: str) -> str:
    """``"pkg.mod:Outer.Inner"`` -> ``"pkg.mod.Outer.Inner"`` (how users write names)."""
    return name.replace(":", ".")


def user_trusted(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Entries the user trusts: ``extra`` plus the two environment settings."""
    entries = list(extra)
    for env in (TRUSTED_ENV, LEGACY_TRUSTED_ENV):
        entries += os.environ.get(env, "").split(",")
    return tuple(e.strip().rstrip(".").replace(":", ".") for e in entries if e.strip().rstrip("."))


def _denied(module: str) -> bool:
    return any(_under(module, d) for d in DENIED_MODULES) or "tests" in module.split(".")


class TrustPolicy:
    """Answers "may this name be loaded?" for classes, types and functions."""

    def __init__(self, trusted: Iterable[str] = (), *, environment: bool = True) -> None:
        self.trusted = user_trusted(trusted) if environment else tuple(trusted)

    def user_trusts(self, name: str) -> bool:
        full = dotted(name)
        return any(_under(full, entry) for entry in self.trusted)

    def allows_class(self, name: str) -> bool:
        module = name.partition(":")[0]
        default = _under(module, "sklearn") and not _denied(module)
        return default or self.user_trusts(name)

    def allows_type(self, name: str) -> bool:
        """A type held as a value: numpy scalar types and builtins too (checked again once resolved)."""
        module = name.partition(":")[0]
        return name in _BUILTIN_TYPES or module == "numpy" or self.allows_class(name)

    def allows_function(self, name: str) -> bool:
        module, _, qualname = name.partition(":")
        default = (module.startswith(_FUNCTION_MODULES) and "." not in qualname and not qualname.startswith("_")
                   and not _denied(module))
        return default or self.user_trusts(name)


def is_default_trusted(kind: str, name: str) -> bool:
    """Whether loading accepts ``name`` without any user setting (used to warn while saving)."""
    policy = _DEFAULT
    if kind == "function":
        return policy.allows_function(name)
    if kind == "type":
        return policy.allows_type(name)
    return policy.allows_class(name)


_DEFAULT = TrustPolicy(environment=False)


def _import_name(name: str) -> Any:
    module_name, _, qualname = name.partition(":")
    if not module_name or not qualname:
        raise ArtifactError(f"The model file names {name!r}, which is not a 'module:qualname' reference.",
                            hint="The file was changed by hand or is damaged; save the model again.")
    from runyard.artifacts.builtin._common import resolve_name

    try:
        target = resolve_name(module_name, qualname)
    except (ImportError, AttributeError) as exc:
        raise ArtifactError(
            f"The model refers to {dotted(name)}, which this environment does not have ({exc}).",
            hint="Load it with the library versions it was saved with (see the artifact metadata).",
        ) from exc
    return target


def _real_name(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', '')}"


def resolve_class(name: str) -> type:
    """The class named ``name``, which must really be defined there (no alias through a module attribute)."""
    target = _import_name(name)
    if not isinstance(target, type) or _real_name(target) != name:
        raise ArtifactError(f"{dotted(name)} named by the model is not a class defined there.",
                            hint="The file was changed by hand or is damaged; save the model again.")
    return target


def resolve_type(name: str) -> type:
    """A type held as a value; numpy names must be scalar types (``np.float64``), not any numpy class."""
    target = resolve_class(name)
    if name.startswith("numpy:"):
        import numpy as np

        if not issubclass(target, np.generic):
            raise ArtifactError(f"{dotted(name)} is not a numpy scalar type, so the model may not hold it.",
                                hint=f"If you trust it, add it to {TRUSTED_ENV}.")
    return target


def resolve_function(name: str) -> Any:
    """A function (or a callable pickled by name, such as ``np.mean``), defined where the model says."""
    target = _import_name(name)
    if not callable(target) or isinstance(target, type) or _real_name(target) != name:
        raise ArtifactError(f"{dotted(name)} named by the model is not a function defined there.",
                            hint="The file was changed by hand or is damaged; save the model again.")
    return target
