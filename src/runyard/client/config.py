"""Client-side configuration kept in ``RUNYARD_HOME/client.json``: server URL and active stack."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from runyard.settings import get_settings


@dataclass
class ClientConfig:
    url: str | None = None
    active_stack: str = "default"

    @staticmethod
    def path() -> Path:
        return get_settings().home_path / "client.json"

    @classmethod
    def load(cls) -> ClientConfig:
        try:
            data = json.loads(cls.path().read_text())
        except (FileNotFoundError, ValueError):
            return cls()
        return cls(url=data.get("url"), active_stack=data.get("active_stack") or "default")

    def save(self) -> None:
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".client-")
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(self), handle, indent=2)
        os.replace(tmp, path)
