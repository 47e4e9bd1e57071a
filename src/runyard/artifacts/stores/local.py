"""The default artifact store: a folder on this machine (``RUNYARD_HOME/artifacts`` unless configured)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from runyard.artifacts.stores.base import ArtifactStore


class LocalArtifactStore(ArtifactStore):
    flavor = "local"

    def __init__(self, root: str, **kwargs: Any) -> None:
        super().__init__(str(Path(root).expanduser().resolve()), **kwargs)
        os.makedirs(self.root, exist_ok=True)

    def open(self, uri: str, mode: str = "rb") -> IO[Any]:
        return open(uri, mode)  # noqa: SIM115 - the caller owns the handle

    def exists(self, uri: str) -> bool:
        return os.path.exists(uri)

    def makedirs(self, uri: str) -> None:
        os.makedirs(uri, exist_ok=True)

    def walk_files(self, uri: str) -> Iterator[str]:
        found: list[str] = []
        for dirpath, _dirs, files in os.walk(uri):
            for name in files:
                found.append(os.path.relpath(os.path.join(dirpath, name), uri))
        yield from sorted(found)

    def move(self, src: str, dst: str) -> bool:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        try:
            os.rename(src, dst)  # atomic on one file system; fails if dst is a non-empty folder
        except OSError:
            if os.path.exists(dst):
                return False
            raise
        return True

    def remove(self, uri: str) -> None:
        if os.path.isdir(uri):
            shutil.rmtree(uri, ignore_errors=True)
        elif os.path.exists(uri):
            os.remove(uri)

    def local_path(self, uri: str) -> str | None:
        return uri
