"""Tells the workspace a run is alive, so the server can fail runs whose runner vanished."""

from __future__ import annotations

import contextlib
import threading
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runyard.client.workspace_api import WorkspaceAPI

HEARTBEAT_INTERVAL_S = 30.0


class Heartbeat:
    def __init__(self, api: WorkspaceAPI, run_id: uuid.UUID, interval: float = HEARTBEAT_INTERVAL_S) -> None:
        self._api = api
        self._run_id = run_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="runyard-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _loop(self) -> None:
        from runyard.client.wire import RunUpdate

        while not self._stop.wait(self._interval):
            with contextlib.suppress(Exception):  # a missed beat is retried next interval
                self._api.update_run(self._run_id, RunUpdate(heartbeat=True))
