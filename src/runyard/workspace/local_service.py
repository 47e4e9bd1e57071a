"""The local workspace service: the embedded workspace kept open in one resident process.

``python -m runyard.workspace.local_service --socket PATH --database-url URL`` is started by the first
SDK or CLI process that needs the embedded workspace (see :mod:`runyard.client.local_service`, which also
describes the wire format). It opens and migrates the database once, then runs each request through the
same service functions the in-process transport calls, so behaviour is identical; only the pipeline
processes no longer pay for SQLAlchemy. It exits after ``--idle-s`` seconds without a connected client,
and at once when its SQLite file is deleted or replaced (``rm -rf ~/.runyard`` must not leave it writing
into a file nobody can see; it answers "stale" and the client starts a fresh service).

It is not a network server: it binds a Unix socket (mode 0600, in a folder only the user can enter) and
refuses peers of another uid.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import os
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
import typing
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from runyard import exceptions as ex
from runyard.client.local_service import ERROR, OK, STALE, frame, frame_waiting, recv_frame
from runyard.client.operations import Operation, operations
from runyard.client.transport import InProcessTransport

if typing.TYPE_CHECKING:
    from runyard.workspace.db.checkpoints import BackgroundCheckpoints

log = logging.getLogger("runyard.local_service")


class Dispatcher:
    """Turns one request body into one reply body, through the in-process transport."""

    def __init__(self, database_url: str, *, busy_timeout_ms: int = 30_000) -> None:
        self.transport = InProcessTransport(database_url, busy_timeout_ms=busy_timeout_ms)
        self._operations = operations()
        self._decoders: dict[str, dict[str, TypeAdapter[Any]]] = {}
        self._encoders: dict[str, TypeAdapter[Any]] = {}
        self._database_file = _sqlite_file(database_url)
        self._identity: tuple[int, int] | None = None
        self.stale = False

    def open(self) -> None:
        """Opens and migrates the database before the first client is accepted."""
        self.transport.database  # noqa: B018 - opening is the point
        self._identity = self._file_identity()

    def background_checkpoints(self) -> BackgroundCheckpoints | None:
        """WAL checkpoints on a thread of their own (:mod:`runyard.workspace.db.checkpoints`), SQLite files only."""
        if self._database_file is None:
            return None
        from runyard.workspace.db.checkpoints import BackgroundCheckpoints

        return BackgroundCheckpoints(self.transport.database, self._database_file)

    def replaced(self) -> bool:
        return self._database_file is not None and self._file_identity() != self._identity

    def handle(self, body: bytes) -> bytes:
        return self.handle_many([body])[0]

    def handle_many(self, bodies: list[bytes]) -> list[bytes]:
        """Replies to requests that arrived together (a client sends reports without awaiting each).

        Consecutive writes share one transaction (:meth:`InProcessTransport.invoke_together`), so a
        queue of reports costs one commit; replies go out only after it, so a reply still means stored."""
        if self.replaced():
            self.stale = True
            return [STALE] * len(bodies)
        replies: list[bytes | None] = [None] * len(bodies)
        group: list[tuple[int, Operation, dict[str, Any]]] = []
        for i, body in enumerate(bodies):
            try:
                op, args = self._request(body)
            except Exception as exc:
                replies[i] = self._reply_error(exc)
                continue
            if op.write:
                group.append((i, op, args))
                continue
            self._run_group(group, replies)
            group = []
            try:
                replies[i] = self._reply(op, self.transport.invoke(op, **args))
            except Exception as exc:
                replies[i] = self._reply_error(exc)
        self._run_group(group, replies)
        return [r if r is not None else ERROR + _error_body("internal", "no reply", None) for r in replies]

    def _request(self, body: bytes) -> tuple[Operation, dict[str, Any]]:
        request = json.loads(body)
        op = self._operations.get(str(request.get("op"))) if isinstance(request, dict) else None
        if op is None:
            raise ex.InvalidInput("Unknown local service request.", hint="Client and service versions differ?")
        return op, self._decode(op, request.get("args") or {})

    def _run_group(self, group: list[tuple[int, Operation, dict[str, Any]]], replies: list[bytes | None]) -> None:
        if not group:
            return
        if len(group) == 1:
            i, op, args = group[0]
            try:
                replies[i] = self._reply(op, self.transport.invoke(op, **args))
            except Exception as exc:
                replies[i] = self._reply_error(exc)
            return
        results = self.transport.invoke_together([(op, args) for _, op, args in group])
        for (i, op, _), result in zip(group, results, strict=True):
            try:
                if isinstance(result, Exception):
                    raise result
                replies[i] = self._reply(op, result)
            except Exception as exc:
                replies[i] = self._reply_error(exc)

    def _reply(self, op: Operation, result: Any) -> bytes:
        if op.response is None:
            return OK + b"null"
        encoder = self._encoders.get(op.id)
        if encoder is None:
            encoder = self._encoders[op.id] = TypeAdapter(op.response)
        return OK + encoder.dump_json(result)

    @staticmethod
    def _reply_error(exc: Exception) -> bytes:
        if isinstance(exc, ex.RunyardError):
            return ERROR + _error_body(exc.code, exc.message, exc.hint)
        if isinstance(exc, ValidationError):
            return ERROR + _error_body(ex.InvalidInput.code, f"Invalid request: {exc.errors()[0].get('msg')}", None)
        if isinstance(exc, ValueError):  # a body that is not JSON
            return ERROR + _error_body(ex.InvalidInput.code, f"Invalid request: {exc}", None)
        # a bug: the client gets one line, the log the traceback
        log.error("request failed", exc_info=exc)
        return ERROR + _error_body("internal", f"{type(exc).__name__}: {exc}", None)

    def _decode(self, op: Operation, args: dict[str, Any]) -> dict[str, Any]:
        adapters = self._decoders.get(op.id)
        if adapters is None:
            module, name = op.service.split(":")
            function = getattr(importlib.import_module(module), name)
            hints = typing.get_type_hints(function)
            params = list(inspect.signature(function).parameters)[1:]  # after the session
            adapters = self._decoders[op.id] = {p: TypeAdapter(hints[p]) for p in params if p in hints}
        unknown = set(args) - set(adapters)
        if unknown:
            raise ex.InvalidInput(f"{op.id} takes no argument {sorted(unknown)[0]!r}.")
        return {name: adapters[name].validate_python(value) for name, value in args.items()}

    def _file_identity(self) -> tuple[int, int] | None:
        if self._database_file is None:
            return None
        try:
            info = os.stat(self._database_file)
        except OSError:
            return None
        return info.st_dev, info.st_ino


def _sqlite_file(database_url: str) -> str | None:
    prefix = "sqlite:///"
    if not database_url.startswith(prefix) or ":memory:" in database_url:
        return None
    return database_url[len(prefix):].split("?", 1)[0]


def _error_body(code: str, message: str, hint: str | None) -> bytes:
    return json.dumps({"code": code, "message": message, "hint": hint}).encode()


class LocalServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """One thread per connected client; exits when idle (no client, no request) for ``idle_s``."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, path: Path, dispatcher: Dispatcher, idle_s: float) -> None:
        self.path = path
        self.dispatcher = dispatcher
        self.idle_s = idle_s
        self.clients = 0
        self.last_active = time.monotonic()
        self.state_lock = threading.Lock()
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.unlink(missing_ok=True)
        super().__init__(str(temporary), _Handler)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)  # clients see the socket only once it listens
        self.inode = os.stat(path).st_ino
        self.pid_file = path.with_name(path.name + ".pid")
        self.pid_file.write_text(str(os.getpid()))  # for `runyard status` and for stopping it by hand

    def watch_idle(self) -> None:
        while True:
            time.sleep(min(1.0, max(self.idle_s / 4, 0.05)))
            with self.state_lock:
                idle = self.clients == 0 and time.monotonic() - self.last_active > self.idle_s
            if idle:
                self.stop("idle")
                return
            if self.dispatcher.stale or self.dispatcher.replaced():  # e.g. a test's or a user's `rm -rf` home
                self.stop("database file deleted or replaced")
                return

    def stop(self, why: str) -> None:
        log.info("local workspace service stopping (%s)", why)
        self.retire()
        self.shutdown()

    def retire(self) -> None:
        """Takes our name off the socket folder so the next client starts a fresh service; a newer
        service may already own the name, so only ours is removed."""
        try:
            if os.stat(self.path).st_ino == self.inode:
                self.path.unlink()
            if self.pid_file.read_text().strip() == str(os.getpid()):
                self.pid_file.unlink()
        except OSError:
            pass


class _Handler(socketserver.BaseRequestHandler):
    server: LocalServer

    def handle(self) -> None:
        conn: socket.socket = self.request
        if not _same_user(conn):
            return
        server = self.server
        with server.state_lock:
            server.clients += 1
        try:
            while True:
                try:
                    bodies = _queued_frames(conn)
                except (OSError, ConnectionError):
                    return
                if not bodies:
                    return
                replies = server.dispatcher.handle_many(bodies)
                if STALE in replies:
                    server.retire()
                with server.state_lock:
                    server.last_active = time.monotonic()
                try:
                    conn.sendall(b"".join(frame(r) for r in replies))
                except OSError:
                    return

        finally:
            with server.state_lock:
                server.clients -= 1
                server.last_active = time.monotonic()


#: Most requests answered together (one transaction holds the SQLite write lock for all of them).
MAX_GROUP = 16


def _queued_frames(conn: socket.socket) -> list[bytes]:
    """The next request, and those the client sent behind it that have arrived already."""
    first = recv_frame(conn)
    if first is None:
        return []
    bodies = [first]
    while len(bodies) < MAX_GROUP and frame_waiting(conn):
        body = recv_frame(conn)
        if body is None:
            break
        bodies.append(body)
    return bodies


def _same_user(conn: socket.socket) -> bool:
    peercred = getattr(socket, "SO_PEERCRED", None)
    if peercred is None:
        return True  # no peer credentials here; the 0600 socket in a 0700 folder still guards it
    _pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i")))
    return uid == os.getuid()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runyard.workspace.local_service",
                                     description="Serve the embedded workspace to local SDK processes.")
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--idle-s", type=float, default=300.0)
    parser.add_argument("--busy-timeout-ms", type=int, default=30_000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(message)s")
    dispatcher = Dispatcher(args.database_url, busy_timeout_ms=args.busy_timeout_ms)
    try:
        dispatcher.open()
    except ex.RunyardError as exc:
        print(exc.headline, file=sys.stderr)
        return 1
    server = LocalServer(args.socket, dispatcher, args.idle_s)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.stop, args=("SIGTERM",)).start())
    threading.Thread(target=server.watch_idle, name="idle-watch", daemon=True).start()
    checkpoints = dispatcher.background_checkpoints()
    if checkpoints is not None:
        threading.Thread(target=checkpoints.run, args=(lambda: server.last_active,), name="checkpoints",
                         daemon=True).start()
    log.info("local workspace service %s serving %s", os.getpid(), args.socket)
    server.serve_forever(poll_interval=0.5)
    server.server_close()
    if checkpoints is not None and not dispatcher.stale and not dispatcher.replaced():
        checkpoints.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
