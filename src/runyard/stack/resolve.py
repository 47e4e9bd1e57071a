"""Turns a stored stack into live components: the artifact store and orchestrator objects."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from runyard.stack.flavors import load_flavor

if TYPE_CHECKING:
    from runyard.artifacts.stores.base import ArtifactStore
    from runyard.client.workspace_api import WorkspaceAPI
    from runyard.logs.backends.base import LogBackend
    from runyard.orchestrators.base import Orchestrator
    from runyard.schemas import ComponentRead, StackRead


def artifact_store_from(component: ComponentRead) -> ArtifactStore:
    return _store(component.id, component.flavor, _freeze(component.config))


@lru_cache(maxsize=32)
def _store(component_id: uuid.UUID, flavor: str, config: tuple[tuple[str, Any], ...]) -> ArtifactStore:
    cls = load_flavor("artifact_store", flavor)
    conf = dict(config)
    if flavor == "local" and not conf.get("path"):
        from runyard.settings import get_settings

        conf["path"] = str(get_settings().artifacts_path)
    root = conf.pop("path", None) or conf.pop("root", None)
    return cls(root, component_id=component_id, **conf)


def log_backend_for(stack: StackRead, store: ArtifactStore, api: WorkspaceAPI | None = None) -> LogBackend:
    """The stack's log backend; without one, logs go to the stack's artifact store."""
    component = stack.components.get("log_backend")
    if component is None or component.flavor == "artifact_store":
        from runyard.logs.backends.artifact_store import ArtifactStoreLogBackend

        return ArtifactStoreLogBackend(store)
    cls = load_flavor("log_backend", component.flavor)
    backend: LogBackend = cls(**component.config)
    return backend.bind(api) if api is not None else backend


def orchestrator_from(component: ComponentRead, overrides: dict[str, Any] | None = None) -> Orchestrator:
    config = {**component.config, **(overrides or {})}
    flavor = config.pop("name", None) or component.flavor
    cls = load_flavor("orchestrator", flavor)
    return cls(**config)


def _freeze(config: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, v) for k, v in config.items() if isinstance(v, str | int | float | bool | None)))


def clear_cache() -> None:
    _store.cache_clear()
