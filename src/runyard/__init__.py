"""Runyard: write ML pipelines as plain Python functions, run them anywhere, find everything again.

```python
from runyard import step, pipeline, Client
```
Only the authoring decorators are imported eagerly; everything else loads on first use so that
``import runyard`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runyard.sdk.context import get_step_context, log_metadata
from runyard.sdk.pipeline import pipeline
from runyard.sdk.step import step

__version__ = "0.1.0"

if TYPE_CHECKING:
    from runyard.artifacts.materializer import Materializer
    from runyard.artifacts.registry import register_materializer
    from runyard.client.client import Client

_LAZY = {
    "Client": ("runyard.client.client", "Client"),
    "Materializer": ("runyard.artifacts.materializer", "Materializer"),
    "register_materializer": ("runyard.artifacts.registry", "register_materializer"),
}


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'runyard' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Tab completion shows the public SDK (the lazy names included), not this module's helpers."""
    return sorted(__all__)


__all__ = [
    "Client",
    "Materializer",
    "__version__",
    "get_step_context",
    "log_metadata",
    "pipeline",
    "register_materializer",
    "step",
]
