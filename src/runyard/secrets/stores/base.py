"""The seam every secret store implements: write, read and delete one secret's values.

The workspace database always keeps a secret's metadata (name, keys, description, who made it) in the
``secrets`` table; a store keeps only the values, addressed through that row. The built-in ``database``
store encrypts them into the row itself; an external store (AWS Secrets Manager, Vault) would keep them
remotely under a name derived from the row and leave the row's ciphertext empty. Stores run where the
workspace runs, never in a client, so long-lived secrets stay on the server.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runyard.settings import Settings
    from runyard.workspace.db.models import SecretRow


class SecretStore(ABC):
    """One instance per process and flavor, built from the settings by :meth:`from_settings`."""

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretStore:
        return cls()

    @abstractmethod
    def write(self, row: SecretRow, values: dict[str, str]) -> None:
        """Stores ``values`` as the secret's whole content (replacing what it held)."""

    @abstractmethod
    def read(self, row: SecretRow) -> dict[str, str]:
        """The secret's values."""

    @abstractmethod
    def delete(self, row: SecretRow) -> None:
        """Forgets the values (the row itself is deleted by the caller)."""
