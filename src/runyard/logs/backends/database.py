"""The ``database`` log backend: lines go to the workspace database through the workspace API.

Useful where runners cannot write to the artifact store's log folder, or where a team wants logs
queryable next to the metadata. The runner never talks to the database itself: batches travel through the
API (in-process or HTTP) with their first line number, so a retried batch is stored once.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from runyard.logs.backends.base import LogBackend, LogRange
from runyard.logs.records import decode_batch

if TYPE_CHECKING:
    from runyard.client.workspace_api import WorkspaceAPI


class DatabaseLogBackend(LogBackend):
    flavor = "database"

    def __init__(self, *, api: WorkspaceAPI | None = None, **_: Any) -> None:
        self.api = api

    def bind(self, api: WorkspaceAPI) -> DatabaseLogBackend:
        return DatabaseLogBackend(api=api)

    def open_writer(self, run_id: uuid.UUID, key: str) -> DatabaseLogWriter:
        if self.api is None:
            from runyard.client.connection import workspace_api

            self.api = workspace_api()
        return DatabaseLogWriter(self.api, run_id, key)

    def read(self, run_id: uuid.UUID, key: str, *, offset: int = 0, limit: int = 1000) -> LogRange:
        raise NotImplementedError("The workspace reads database logs itself (services/logs.py).")


class DatabaseLogWriter:
    def __init__(self, api: WorkspaceAPI, run_id: uuid.UUID, key: str) -> None:
        self.api = api
        self.run_id = run_id
        self.key = key
        self.sent = 0
        self._pending: list[dict[str, Any]] = []

    def append(self, data: str, lines: int) -> None:
        for raw in data.splitlines():
            t, stream, level, logger, messages = decode_batch(raw)
            self._pending.extend(
                {"time": t, "stream": stream, "level": level, "logger": logger, "message": m} for m in messages
            )

    def flush(self, *, complete: bool = False) -> None:
        from runyard.schemas.logs import LogAppend  # the database log backend is not the default: models are fine

        if not self._pending and not complete:
            return
        pending, self._pending = self._pending, []
        for start in range(0, max(len(pending), 1), 5000):
            part = pending[start : start + 5000]
            last = start + 5000 >= len(pending)
            self.api.append_logs(
                self.run_id,
                LogAppend(key=self.key, first_offset=self.sent, lines=part, complete=complete and last),  # type: ignore[arg-type]
            )
            self.sent += len(part)

    def close(self) -> None:
        self.flush(complete=True)
