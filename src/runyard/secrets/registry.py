"""Secret store flavors by name, one instance per process and settings."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runyard.secrets.stores.base import SecretStore
    from runyard.settings import Settings

_lock = threading.Lock()
#: (flavor, id(settings)) -> (settings, store); the settings are kept so their id is never reused.
_stores: dict[tuple[str, int], tuple[Settings, SecretStore]] = {}


def secret_store(flavor: str | None = None) -> SecretStore:
    """The store of ``flavor`` (default: ``RUNYARD_SECRETS_STORE``), built from the current settings."""
    from runyard.settings import get_settings
    from runyard.stack.flavors import load_flavor

    settings = get_settings()
    name = flavor or settings.secrets_store
    key = (name, id(settings))
    found = _stores.get(key)
    if found is not None:
        return found[1]
    with _lock:
        if key not in _stores:
            store_cls = load_flavor("secret_store", name)
            if len(_stores) > 16:  # settings are rebuilt by tests; keep the cache small
                _stores.clear()
            _stores[key] = (settings, store_cls.from_settings(settings))
        return _stores[key][1]
