"""Client-side configuration kept in ``RUNYARD_HOME/client.json``: server URL, active stack, project."""

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
    #: The project used when ``RUNYARD_PROJECT`` is not set (``None``: the default project).
    project: str | None = None

    @staticmethod
    def path() -> Path:
        return get_settings().home_path / "client.json"

    @classmethod
    def load(cls) -> ClientConfig:
        try:
            data = json.loads(cls.path().read_text())
        except (FileNotFoundError, ValueError):
            return cls()
        return cls(url=data.get("url"), active_stack=data.get("active_stack") or "default",
                   project=data.get("project") or None)

    def save(self) -> None:
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".client-")
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(self), handle, indent=2)
        os.replace(tmp, path)


def current_project() -> str:
    """``RUNYARD_PROJECT``, else the ``project`` of ``client.json``, else the default project."""
    from runyard.schemas.constants import DEFAULT_PROJECT

    return checked_project(get_settings().project or ClientConfig.load().project or DEFAULT_PROJECT)


def checked_project(project: str) -> str:
    """``project`` if it is a valid project name; a clear error (not a server's 422) otherwise."""
    import re

    from runyard.exceptions import InvalidInput
    from runyard.schemas.constants import PROJECT_PATTERN

    if not re.match(PROJECT_PATTERN, project):
        raise InvalidInput(f"{project!r} is not a project name.",
                           hint="Use a lowercase name of letters, digits, '-' and '_' (RUNYARD_PROJECT, "
                           "Client(project=...)).")
    return project
