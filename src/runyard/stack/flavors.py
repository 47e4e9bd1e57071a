"""Flavors: component implementations found by name through Python entry points.

Built-ins are listed here as ``name -> "module:Class"`` too, so a source checkout without installed
metadata still works; a third-party package adds its own through the same entry point groups.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from runyard.exceptions import ConfigurationError

GROUPS = {
    "orchestrator": "runyard.orchestrators",
    "artifact_store": "runyard.artifact_stores",
    "log_backend": "runyard.log_backends",
    "secret_store": "runyard.secret_stores",
}

BUILTIN: dict[str, dict[str, str]] = {
    "orchestrator": {
        "local": "runyard.orchestrators.local:LocalOrchestrator",
        "local_parallel": "runyard.orchestrators.local_parallel:LocalParallelOrchestrator",
    },
    "artifact_store": {
        "local": "runyard.artifacts.stores.local:LocalArtifactStore",
    },
    "log_backend": {
        "artifact_store": "runyard.logs.backends.artifact_store:ArtifactStoreLogBackend",
        "database": "runyard.logs.backends.database:DatabaseLogBackend",
        "otlp": "runyard.logs.backends.otlp:OTLPLogBackend",
    },
    "secret_store": {
        "database": "runyard.secrets.stores.database:DatabaseSecretStore",
        "aws": "runyard.secrets.stores.aws:AwsSecretStore",
    },
}


@cache
def available(component_type: str) -> dict[str, str]:
    found = dict(BUILTIN.get(component_type, {}))
    group = GROUPS.get(component_type)
    if group:
        from runyard.plugins import entry_points

        for name, value in entry_points(group).items():
            found.setdefault(name, value)
    return found


def load_flavor(component_type: str, flavor: str) -> Any:
    targets = available(component_type)
    target = targets.get(flavor) if isinstance(flavor, str) else None
    if target is None:
        raise ConfigurationError(
            f"No {component_type.replace('_', ' ')} flavor named {flavor!r}.",
            hint=f"Installed flavors: {', '.join(sorted(targets)) or 'none'}.",
        )
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)
