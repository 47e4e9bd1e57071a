"""Secret stores are flavors: the built-in ``database`` store is registered like any plugin, and another
store plugs in through the same small seam (values elsewhere, metadata still in the workspace table)."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import ClassVar

import pytest

from runyard import Client
from runyard.secrets.stores.base import SecretStore
from runyard.secrets.stores.database import DatabaseSecretStore
from runyard.settings import Settings, get_settings
from runyard.stack import flavors
from runyard.workspace.db.models import SecretRow


class MemoryStore(SecretStore):
    """A stand-in for an external store (AWS Secrets Manager, Vault): values kept outside the database."""

    kept: ClassVar[dict[str, dict[str, str]]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretStore:
        return cls()

    def write(self, row: SecretRow, values: dict[str, str]) -> None:
        self.kept[str(row.id)] = dict(values)

    def read(self, row: SecretRow) -> dict[str, str]:
        return dict(self.kept[str(row.id)])

    def delete(self, row: SecretRow) -> None:
        del self.kept[str(row.id)]


def test_the_database_store_is_an_installed_flavor() -> None:
    assert "database" in {ep.name for ep in entry_points(group="runyard.secret_stores")}
    assert flavors.load_flavor("secret_store", "database") is DatabaseSecretStore
    names = {(f.type, f.name) for f in Client().api.list_flavors("secret_store")}
    assert names == {("secret_store", "database"), ("secret_store", "aws")}


def test_another_store_plugs_in_through_the_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    from runyard.client import connection

    monkeypatch.setitem(flavors.BUILTIN, "secret_store", {**flavors.BUILTIN["secret_store"],
                                                          "memory": f"{__name__}:MemoryStore"})
    flavors.available.cache_clear()
    Client().create_secret("in-db", {"a": "value-in-db"})
    monkeypatch.setenv("RUNYARD_SECRETS_STORE", "memory")
    get_settings.cache_clear()
    connection.reset()
    try:
        made = Client().create_secret("elsewhere", {"token": "value-elsewhere"})
        assert made.store == "memory" and MemoryStore.kept[str(made.id)] == {"token": "value-elsewhere"}
        # each row remembers its store: older secrets still read from the database store
        assert Client().get_secret("in-db").values == {"a": "value-in-db"}
        Client().update_secret("elsewhere", {"more": "value-two"})
        assert Client().get_secret("elsewhere").values == {"token": "value-elsewhere", "more": "value-two"}
        Client().delete_secret("elsewhere")
        assert str(made.id) not in MemoryStore.kept
    finally:
        flavors.available.cache_clear()


def test_an_unknown_store_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from runyard.client import connection
    from runyard.exceptions import ConfigurationError

    monkeypatch.setenv("RUNYARD_SECRETS_STORE", "vault")
    get_settings.cache_clear()
    connection.reset()
    with pytest.raises(ConfigurationError, match="No secret store flavor named 'vault'"):
        Client().create_secret("x", {"a": "value-a"})
