"""The built-in secret store: values encrypted with AES-256-GCM into the secret's own database row.

The plaintext is the JSON of the values; the secret's id is bound as associated data. The key comes from
``RUNYARD_SECRETS_KEY`` or the key file in ``RUNYARD_HOME`` (:mod:`runyard.secrets.crypto`); the row
keeps only its id.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from runyard.exceptions import SecretKeyError
from runyard.secrets.crypto import Keyring, load_keyring
from runyard.secrets.stores.base import SecretStore

if TYPE_CHECKING:
    from pathlib import Path

    from runyard.settings import Settings
    from runyard.workspace.db.models import SecretRow


class DatabaseSecretStore(SecretStore):
    def __init__(self, *, env_key: str | None, home: Path) -> None:
        self._env_key = env_key
        self._home = home
        self._keyring: Keyring | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretStore:
        key = settings.secrets_key.get_secret_value() if settings.secrets_key is not None else None
        return cls(env_key=key, home=settings.home_path)

    def _keys(self, *, create: bool) -> Keyring:
        if self._keyring is None or (create and self._keyring.primary is None):
            keyring = load_keyring(env_value=self._env_key, home=self._home, create=create)
            if keyring.primary is None:
                return keyring  # nothing cached: a key file made later (by a write) is picked up
            self._keyring = keyring
        return self._keyring

    def write(self, row: SecretRow, values: dict[str, str]) -> None:
        plaintext = json.dumps(values, sort_keys=True, separators=(",", ":")).encode("utf-8", "surrogatepass")
        row.key_id, row.ciphertext = self._keys(create=True).encrypt(plaintext, context=_context(row))

    def read(self, row: SecretRow) -> dict[str, str]:
        if row.ciphertext is None or row.key_id is None:
            raise SecretKeyError(f"Secret {row.name!r} has no stored value.",
                                 hint="Write it again with `runyard secret update`.")
        plaintext = self._keys(create=False).decrypt(row.key_id, row.ciphertext, context=_context(row),
                                                     name=row.name)
        values: dict[str, str] = json.loads(plaintext.decode("utf-8", "surrogatepass"))
        return values

    def delete(self, row: SecretRow) -> None:
        row.key_id, row.ciphertext = None, None

    def needs_rewrite(self, row: SecretRow) -> bool:
        """Whether the row was encrypted with a key other than the current first one (for rotation)."""
        return row.key_id != self._keys(create=True).primary


def _context(row: SecretRow) -> bytes:
    return f"runyard-secret:{row.id}".encode()
