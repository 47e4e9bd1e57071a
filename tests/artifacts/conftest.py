"""Artifact store fixtures shared by the materializer tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from runyard.artifacts.stores.base import ArtifactStore
from runyard.artifacts.stores.local import LocalArtifactStore


class RemoteLikeStore(LocalArtifactStore):
    """A local folder that hides its paths, so materializers take their remote-store (file object) paths."""

    def local_path(self, uri: str) -> str | None:
        return None


@pytest.fixture(params=["local", "remote"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ArtifactStore:
    kind = LocalArtifactStore if request.param == "local" else RemoteLikeStore
    return kind(str(tmp_path / "store"))


@pytest.fixture
def local_store(tmp_path: Path) -> LocalArtifactStore:
    return LocalArtifactStore(str(tmp_path / "store"))
