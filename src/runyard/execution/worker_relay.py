"""Forked step workers reach an in-process workspace through their parent, never on their own.

Why: ``local_parallel`` forks its workers from the pipeline's process. When that process opened the
database itself (the in-process transport: PostgreSQL, MariaDB, or ``RUNYARD_LOCAL_SERVICE=0``), another of
its threads (the heartbeat, a ``Client`` the user polls with) may be inside the database driver at the
moment of the fork. The child inherits the driver's locks as they were, held by a thread it does not have,
and its first connection waits forever. So a worker opens no database: for the length of the parallel
run, the parent serves its workspace to its own workers over a private Unix socket, with the local
service's dispatcher and wire format, and the workers talk to it as they would to the local service
(which also keeps pydantic and SQLAlchemy out of them).

Only the in-process transport needs this: the local service and HTTP transports open a fresh socket in
each worker already.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from runyard.client.local_service import LocalServiceTransport
from runyard.client.transport import InProcessTransport, Transport

if TYPE_CHECKING:
    from runyard.workspace.local_service import LocalServer

#: How often the relay's accept loop looks for the stop request; it bounds how long closing the relay takes.
_POLL_S = 0.02


class WorkerRelay:
    """Serves ``transport``'s workspace to the worker processes of one parallel run (a context manager)."""

    def __init__(self, transport: InProcessTransport) -> None:
        self._transport = transport
        self._folder: Path | None = None
        self._server: LocalServer | None = None

    @property
    def path(self) -> Path:
        assert self._folder is not None, "the relay is not open"
        return self._folder / "workspace.sock"

    def __enter__(self) -> WorkerRelay:
        from runyard.workspace.local_service import Dispatcher, LocalServer

        # mkdtemp makes a 0700 folder; the socket in it is 0600 and the server checks the peer's uid
        self._folder = Path(tempfile.mkdtemp(prefix="runyard-relay-"))
        dispatcher = Dispatcher(self._transport.database_url, busy_timeout_ms=self._transport.busy_timeout_ms)
        dispatcher.open()
        self._server = LocalServer(self.path, dispatcher, idle_s=float("inf"))
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": _POLL_S},
                         name="runyard-worker-relay", daemon=True).start()
        return self

    def worker_transport(self) -> Transport:
        """What a worker uses: the parent's socket, with no service of its own to start and no in-process
        fallback (either would open the database in the worker)."""
        return LocalServiceTransport(self._transport.database_url, home=self.path.parent,
                                     busy_timeout_ms=self._transport.busy_timeout_ms, path=self.path,
                                     start_service=False)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._server is not None:
            self._server.shutdown()  # returns once serve_forever has stopped (within _POLL_S)
            self._server.server_close()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
        self._server = self._folder = None
