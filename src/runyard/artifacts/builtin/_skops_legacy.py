"""Loading models that earlier Runyard versions stored with skops (``model.skops``).

Runyard now writes its own format (:mod:`runyard.artifacts.builtin.sklearn_state`); this module keeps the
artifacts already in users' stores loadable. skops is imported here only, when such an artifact is loaded,
because ``import skops.io`` alone costs ~0.4-0.5 s. The trust rule is the one skops artifacts always had:
types from ``sklearn.`` and ``numpy.``, plus what the user trusts (``RUNYARD_SKLEARN_TRUSTED`` or the older
``RUNYARD_SKOPS_TRUSTED_MODULES``).
"""

from __future__ import annotations

from typing import Any

from runyard.artifacts.builtin._common import read_bytes
from runyard.artifacts.builtin.sklearn_trust import TRUSTED_ENV, TrustPolicy
from runyard.artifacts.materializer import Materializer
from runyard.exceptions import ArtifactError

SKOPS_FILE = "model.skops"
_BUILTIN_TRUSTED = ("sklearn.", "numpy.")


def split_trusted(untrusted: list[str], policy: TrustPolicy) -> tuple[list[str], list[str]]:
    """(types we trust, types we refuse) among those skops does not trust by default."""
    trusted = [t for t in untrusted if t.startswith(_BUILTIN_TRUSTED) or policy.user_trusts(t)]
    return trusted, [t for t in untrusted if t not in trusted]


def refusal_hint(refused: list[str]) -> str:
    return (f"If you trust the code that wrote it, set {TRUSTED_ENV}={','.join(refused)} "
            "(comma-separated type names or module prefixes) and load again.")


def load_skops(materializer: Materializer, uri: str, policy: TrustPolicy) -> Any:
    import sklearn
    import skops
    import skops.io as sio

    data = read_bytes(materializer, uri, SKOPS_FILE)
    trusted, refused = split_trusted(sio.get_untrusted_types(data=data), policy)
    if refused:
        raise ArtifactError(
            f"Refusing to load the model at {uri}: it contains untrusted types {', '.join(refused)} "
            "(only sklearn and numpy types are trusted, since loading them runs their code).",
            hint=refusal_hint(refused),
        )
    try:
        return sio.loads(data, trusted=trusted)
    except Exception as exc:
        raise ArtifactError(
            f"Cannot load the model at {uri} with skops {skops.__version__} and scikit-learn "
            f"{sklearn.__version__}: {type(exc).__name__}: {exc}",
            hint="Load it with the scikit-learn version it was saved with (see the artifact metadata).",
        ) from exc
