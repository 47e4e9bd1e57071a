"""The default log backend: NDJSON chunk files in the stack's artifact store.

Layout: ``<store root>/logs/<run id>/<key>/<first line offset:012d>.ndjson`` plus ``_complete`` when the
writer closed. A chunk is appended to and flushed every flush interval, and a new one starts past
:data:`CHUNK_BYTES`, so readers find any offset from the chunk names alone and read only that chunk.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from runyard.logs.backends.base import LogBackend, LogRange
from runyard.logs.records import LogLine, decode_batch

if TYPE_CHECKING:
    from runyard.artifacts.stores.base import ArtifactStore

CHUNK_BYTES = 4 * 1024 * 1024
_DONE = "_complete"


class ArtifactStoreLogBackend(LogBackend):
    flavor = "artifact_store"

    def __init__(self, store: ArtifactStore) -> None:
        self.store = store

    def folder(self, run_id: uuid.UUID, key: str) -> str:
        return f"{self.store.root}/logs/{run_id}/{key}"

    def open_writer(self, run_id: uuid.UUID, key: str) -> ChunkWriter:
        return ChunkWriter(self.store, self.folder(run_id, key))

    def is_empty(self, run_id: uuid.UUID, key: str) -> bool:
        return not self.store.exists(self.folder(run_id, key))

    def read(self, run_id: uuid.UUID, key: str, *, offset: int = 0, limit: int = 1000) -> LogRange:
        folder = self.folder(run_id, key)
        if not self.store.exists(folder):
            return LogRange([], offset, complete=False)
        names = list(self.store.walk_files(folder))
        complete = _DONE in names
        starts = sorted(int(n.split(".")[0]) for n in names if n.endswith(".ndjson"))
        lines: list[LogLine] = []
        position = offset
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else None
            if end is not None and end <= position:
                continue  # the offset lies past this chunk: skip it unread
            lines.extend(self._read_chunk(f"{folder}/{start:012d}.ndjson", start, position, limit - len(lines)))
            if lines:
                position = lines[-1].offset + 1
            if len(lines) >= limit:
                break
        return LogRange(lines, position if lines else offset, complete=complete and len(lines) < limit)

    def _read_chunk(self, uri: str, first: int, offset: int, limit: int) -> list[LogLine]:
        out: list[LogLine] = []
        number = first
        with self.store.open(uri, "rb") as handle:
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break  # a batch still being written: read it next time
                t, stream, level, logger, messages = decode_batch(raw.decode("utf-8", "replace"))
                if number + len(messages) <= offset:
                    number += len(messages)
                    continue
                for message in messages:
                    if number >= offset:
                        out.append(LogLine(number, t, stream, level, message, logger))
                        if len(out) >= limit:
                            return out
                    number += 1
        return out


class ChunkWriter:
    """Appends batches to the current chunk; starts a new chunk past :data:`CHUNK_BYTES`."""

    def __init__(self, store: ArtifactStore, folder: str) -> None:
        self.store = store
        self.folder = folder
        self._created = False  # the folder appears with the first line: a silent step costs no file I/O
        self.lines = 0
        self._chunk_start = 0
        self._chunk_bytes = 0
        self._pending: list[bytes] = []
        self._local = store.local_path(folder) is not None
        self._buffer = bytearray()  # the whole current chunk, for stores that cannot append

    def append(self, data: str, lines: int) -> None:
        raw = data.encode("utf-8", "replace")  # lone surrogates from odd bytes become U+FFFD
        if self._chunk_bytes and self._chunk_bytes + len(raw) > CHUNK_BYTES:
            self.flush()
            self._chunk_start = self.lines
            self._chunk_bytes = 0
            self._buffer.clear()
        self._pending.append(raw)
        self._chunk_bytes += len(raw)
        self.lines += lines

    def flush(self) -> None:
        if not self._pending:
            return
        if not self._created:
            self.store.makedirs(self.folder)
            self._created = True
        uri = f"{self.folder}/{self._chunk_start:012d}.ndjson"
        if self._local:
            with self.store.open(uri, "ab") as handle:
                handle.writelines(self._pending)
        else:
            for part in self._pending:
                self._buffer.extend(part)
            with self.store.open(uri, "wb") as handle:
                handle.write(bytes(self._buffer))
        self._pending.clear()

    def close(self) -> None:
        self.flush()
        if not self._created:
            return  # nothing was written; readers learn the log is complete from the step's status
        with self.store.open(f"{self.folder}/{_DONE}", "wb") as handle:
            handle.write(str(self.lines).encode())
