"""The artifact store seam: a small file-system interface every backend (local, S3, GCS, Azure) offers.

Materializers write a new artifact into a private temporary folder; :meth:`ArtifactStore.finalize`
hashes it and moves it to its content-addressed home in one rename, so a reader never sees a half-written
artifact and identical content is stored once.
"""

from __future__ import annotations

import abc
import hashlib
import uuid
from collections.abc import Iterator
from typing import IO, Any

from runyard.artifacts.hashing import BLOCK_BYTES, BlockHasher


class ArtifactStore(abc.ABC):
    """Files under ``root``; paths given to methods are full URIs below it."""

    #: Flavor name as registered in the entry point group.
    flavor: str = ""

    def __init__(self, root: str, *, component_id: uuid.UUID | None = None) -> None:
        self.root = root.rstrip("/")
        self.component_id = component_id

    @abc.abstractmethod
    def open(self, uri: str, mode: str = "rb") -> IO[Any]: ...

    @abc.abstractmethod
    def exists(self, uri: str) -> bool: ...

    @abc.abstractmethod
    def makedirs(self, uri: str) -> None: ...

    @abc.abstractmethod
    def walk_files(self, uri: str) -> Iterator[str]:
        """Every file below ``uri``, as paths relative to it, in sorted order."""

    @abc.abstractmethod
    def move(self, src: str, dst: str) -> bool:
        """Atomically moves a folder; False if ``dst`` exists already (same content stored before)."""

    @abc.abstractmethod
    def remove(self, uri: str) -> None: ...

    def local_path(self, uri: str) -> str | None:
        """A path on this machine for libraries that want one, or None for remote stores."""
        return None

    # --- artifact folders -------------------------------------------------------------------------
    def new_temp_folder(self) -> str:
        uri = f"{self.root}/.tmp/{uuid.uuid4().hex}"
        self.makedirs(uri)
        return uri

    def finalize(self, temp_uri: str, *, known_hashes: dict[str, str] | None = None) -> tuple[str, str, int]:
        """Moves a written temp folder to ``root/ab/abcdef...``; returns (uri, content_hash, size)."""
        content_hash, size = self.hash_folder(temp_uri, known_hashes=known_hashes or {})
        final = f"{self.root}/{content_hash[:2]}/{content_hash}"
        if not self.move(temp_uri, final):
            self.discard_temp(temp_uri, size=size)  # the same content is stored already
        return final, content_hash, size

    def discard_temp(self, uri: str, *, size: int | None = None) -> None:
        """Removes a temp folder that is no longer needed; stores may do it in the background."""
        self.remove(uri)

    def hash_folder(self, uri: str, *, known_hashes: dict[str, str]) -> tuple[str, int]:
        """sha256 over the sorted (relative path, file digest) pairs of a folder: its content address.

        File digests are those of :mod:`runyard.artifacts.hashing` (plain sha256 below 8 MiB)."""
        manifest = hashlib.sha256()
        total = 0
        for rel in self.walk_files(uri):
            digest = known_hashes.get(rel)
            with self.open(f"{uri}/{rel}", "rb") as handle:
                if digest is None:
                    file_hash = BlockHasher()
                    while chunk := handle.read(BLOCK_BYTES):
                        file_hash.update(chunk)
                        total += len(chunk)
                    digest = file_hash.hexdigest()
                else:
                    total += handle.seek(0, 2)
            manifest.update(f"{rel}\0{digest}\n".encode())
        return manifest.hexdigest(), total

    def artifact_exists(self, uri: str) -> bool:
        return self.exists(uri)
