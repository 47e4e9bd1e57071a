"""Content hashes of artifact files: sha256, computed in 8 MiB blocks for large files.

A file smaller than one block is hashed as plain sha256 (``sha256sum`` gives the same digest). A larger
file's digest is the sha256 of its blocks' sha256 digests, in order. Blocks can then be hashed on several
cores at once, and while the file is being written, which keeps a 100 MiB array's save close to the time
of writing it; the digest still changes with every byte of the file.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

BLOCK_BYTES = 8 * 1024 * 1024

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def hash_pool() -> ThreadPoolExecutor:
    """Threads for hashing (hashlib releases the GIL on large buffers, so they use every core)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(os.cpu_count() or 2, 2), thread_name_prefix="runyard-hash")
        return _pool


class BlockHasher:
    """Streaming form of the digest, for files written piece by piece."""

    def __init__(self) -> None:
        self._blocks: list[bytes] = []
        self._current = hashlib.sha256()
        self._fill = 0

    def update(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        while view.nbytes:
            take = min(BLOCK_BYTES - self._fill, view.nbytes)
            self._current.update(view[:take])
            self._fill += take
            view = view[take:]
            if self._fill == BLOCK_BYTES:
                self._blocks.append(self._current.digest())
                self._current = hashlib.sha256()
                self._fill = 0

    def hexdigest(self) -> str:
        if not self._blocks:
            return self._current.hexdigest()
        digests = self._blocks + ([self._current.digest()] if self._fill else [])
        return combine(digests)


def combine(block_digests: Sequence[bytes]) -> str:
    return hashlib.sha256(b"".join(block_digests)).hexdigest()


def digest_parts(head: bytes, body: memoryview) -> str:
    """The digest of the file ``head + body``, with the body's blocks hashed in parallel."""
    total = len(head) + body.nbytes
    if total < BLOCK_BYTES:
        h = hashlib.sha256(head)
        h.update(body)
        return h.hexdigest()
    first = BLOCK_BYTES - len(head)

    def block(i: int) -> bytes:
        if i == 0:
            h = hashlib.sha256(head)
            h.update(body[:first])
            return h.digest()
        start = first + (i - 1) * BLOCK_BYTES
        return hashlib.sha256(body[start : start + BLOCK_BYTES]).digest()

    count = (total + BLOCK_BYTES - 1) // BLOCK_BYTES
    return combine(list(hash_pool().map(block, range(count))))
