"""The embedded workspace reached through a resident local service over a Unix socket.

Why it exists: a pipeline script is a fresh process every time. Opening the embedded database in that
process means importing SQLAlchemy and building the ORM (about a quarter of a second, most of a
1-step pipeline's cost). The local service (:mod:`runyard.workspace.local_service`) pays that once: the
first client starts it, later processes connect in a millisecond, and it exits by itself after
``RUNYARD_LOCAL_SERVICE_IDLE_S`` seconds without clients. Behind the socket the very same service
functions run as in-process (:class:`~runyard.client.transport.InProcessTransport`), so there is still one
API. ``RUNYARD_LOCAL_SERVICE=0`` opens the database in the calling process instead.

This module uses the standard library only (plus pydantic, which the SDK loads anyway): importing it must
stay cheap. Safety: the socket lives in a 0700 folder owned by the user (``$XDG_RUNTIME_DIR/runyard`` or
``/tmp/runyard-<uid>``), is itself 0600, and the service also checks the peer's uid.

Wire format: every message is a 4-byte big-endian length and a body. A request body is
``{"op": <operation id>, "args": {...}}`` (pydantic models serialised exactly as the HTTP client sends
them); a reply body starts with one status byte: ``0`` and the JSON result, ``1`` and a JSON error
(``code``, ``message``, ``hint``), or ``2`` when the service is stale (its database file was replaced)
and the client must start a fresh one and resend.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import select
import socket
import stat
import struct
import sys
import threading
import time
import uuid
import weakref
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath
from typing import Any

from runyard import exceptions as ex
from runyard.client.operations import Operation
from runyard.client.transport import Deferred, InProcessTransport, Transport

log = logging.getLogger("runyard")

OK, ERROR, STALE = b"0", b"1", b"2"
_HEADER = struct.Struct(">I")
#: Bigger bodies than this are refused on both sides (a 1,000-step page is ~1 MB).
MAX_FRAME = 256 * 1024 * 1024
#: How long a client waits for a service it started to answer (migrating a big database takes a while).
START_TIMEOUT_S = 120.0
#: Settings that only the client reads: changing them must not start another service.
_CLIENT_ONLY = {"RUNYARD_PROJECT", "RUNYARD_LOCAL_SERVICE", "RUNYARD_LOG_LEVEL", "RUNYARD_CAPTURE_LOGS"}
#: Environment the service side reads: Runyard's settings, and the cloud credentials a secret store uses.
_SERVICE_ENV_PREFIXES = ("RUNYARD_", "AWS_", "AZURE_", "GOOGLE_", "VAULT_")
_ALL_TRANSPORTS: weakref.WeakSet[LocalServiceTransport] = weakref.WeakSet()


class LocalServiceUnavailable(ex.RunyardError):
    """The local service could not be started or reached; the caller falls back to in-process."""

    code = "local_service_unavailable"


# --- framing, shared with the service -----------------------------------------------------------------
def frame(body: bytes) -> bytes:
    return _HEADER.pack(len(body)) + body


def send_frame(sock: socket.socket, body: bytes) -> None:
    sock.sendall(frame(body))


def frame_waiting(sock: socket.socket) -> bool:
    """Whether the peer's next message has begun to arrive (then reading it does not wait for the peer)."""
    try:
        return bool(sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
    except BlockingIOError:
        return False
    except OSError:
        return True  # the read that follows reports it


def recv_frame(sock: socket.socket, *, spin_s: float = 0.0) -> bytes | None:
    """The next message, or None when the peer closed the connection between messages.

    ``spin_s``: poll without sleeping for up to that long before blocking (see :func:`_spin`)."""
    if spin_s > 0:
        _spin(sock, spin_s)
    header = _recv_exact(sock, _HEADER.size, allow_eof=True)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ConnectionError(f"a {size}-byte message is larger than the {MAX_FRAME}-byte limit")
    body = _recv_exact(sock, size, allow_eof=False)
    assert body is not None  # allow_eof=False raises instead
    return body


def _spin(sock: socket.socket, seconds: float) -> None:
    """Waits for the peer's next message without letting this CPU go idle, for up to ``seconds``.

    The client uses it for the service's answer, which usually comes within a millisecond: blocking for it
    lets the core fall asleep, and waking it (here, a virtual CPU) cost ~0.3 ms per answer. The service
    does not poll for requests: between them a client often computes, on every core it can get."""
    end = time.perf_counter() + seconds
    flags = socket.MSG_PEEK | socket.MSG_DONTWAIT
    while True:
        try:
            sock.recv(1, flags)  # data, or b"" at EOF: either way the blocking read returns at once
            return
        except BlockingIOError:
            pass
        except OSError:
            return  # the blocking read reports it
        if time.perf_counter() >= end:
            return


def _recv_exact(sock: socket.socket, size: int, *, allow_eof: bool) -> bytes | None:
    chunks = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            if allow_eof and remaining == size:
                return None
            raise ConnectionError("the connection closed in the middle of a message")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


# --- where the service listens ------------------------------------------------------------------------
def runtime_dir() -> Path:
    """A folder only this user can enter; raises if it exists with looser permissions or another owner."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(base) / "runyard" if base else Path(os.environ.get("TMPDIR") or "/tmp") / f"runyard-{os.getuid()}"
    folder.mkdir(mode=0o700, parents=bool(base), exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise LocalServiceUnavailable(
            f"{folder} is not a private folder of this user (mode {oct(info.st_mode & 0o777)}).",
            hint="Remove it, or set RUNYARD_LOCAL_SERVICE=0.",
        )
    return folder


def code_fingerprint() -> str:
    """Changes whenever an installed Runyard source file changes, so an edited checkout never talks to a
    service still running the old code (the service is keyed by it)."""
    import runyard

    root = Path(runyard.__file__).parent
    digest = hashlib.sha256(runyard.__version__.encode())
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                info = os.stat(os.path.join(folder, name))
                digest.update(f"{folder}/{name}:{info.st_mtime_ns}:{info.st_size};".encode())
    return digest.hexdigest()


def service_key(database_url: str, environ: dict[str, str] | None = None) -> str:
    """One service per database, interpreter, code and server-side settings (``RUNYARD_*`` but the
    client-only ones, and cloud credentials: a changed ``AWS_PROFILE`` must reach the secret store)."""
    env = os.environ if environ is None else environ
    settings = sorted((k, v) for k, v in env.items()
                      if k.upper().startswith(_SERVICE_ENV_PREFIXES) and k.upper() not in _CLIENT_ONLY)
    digest = hashlib.sha256()
    for part in (database_url, sys.executable, code_fingerprint(), json.dumps(settings)):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:20]


def socket_path(database_url: str) -> Path:
    path = runtime_dir() / f"ws-{service_key(database_url)}.sock"
    if len(str(path).encode()) > _MAX_SOCKET_PATH:
        raise LocalServiceUnavailable(f"The socket path {path} is longer than Unix sockets allow.",
                                      hint="Set XDG_RUNTIME_DIR or TMPDIR to a shorter folder.")
    return path


#: sun_path holds 108 bytes on Linux and 104 on macOS, both with the terminating NUL.
_MAX_SOCKET_PATH = 103


# --- the transport ------------------------------------------------------------------------------------
class LocalServiceTransport(Transport):
    """Sends each operation to the local service; starts the service when nothing listens.

    One connection per thread (the log flusher and heartbeats run beside the steps). If the service
    cannot be started at all, the transport says why once and carries on in-process.
    """

    def __init__(self, database_url: str, *, home: Path, busy_timeout_ms: int = 30_000, idle_s: float = 300.0,
                 spin_s: float = 0.002, path: Path | None = None, start_service: bool = True) -> None:
        self.database_url = database_url
        #: False for a socket someone else serves (a ``local_parallel`` worker's parent): nothing to start,
        #: and no in-process fallback, since opening the database here is what the socket was for.
        self.start_service = start_service
        self.spin_s = spin_s
        self.location = database_url
        self.home = home
        self.busy_timeout_ms = busy_timeout_ms
        self.idle_s = idle_s
        self._path = path
        self._local = threading.local()
        self._adapters: dict[str, Any] = {}
        self._fallback: InProcessTransport | None = None
        _ALL_TRANSPORTS.add(self)

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = socket_path(self.database_url)
        return self._path

    @property
    def log_path(self) -> Path:
        return self.home / "local-service.log"

    def describe(self) -> str:
        """One line for `runyard status`: which process serves this workspace."""
        if self._fallback is not None:
            return "Local service: unavailable, working in-process (see the warning above)."
        try:
            pid = self.path.with_name(self.path.name + ".pid").read_text().strip()
        except OSError:
            pid = "?"
        return (f"Local service: pid {pid} on {self.path} (exits after {self.idle_s:.0f} s without clients; "
                f"log {self.log_path}).")

    def for_new_process(self) -> Transport:
        return LocalServiceTransport(self.database_url, home=self.home, busy_timeout_ms=self.busy_timeout_ms,
                                     idle_s=self.idle_s, spin_s=self.spin_s, path=self._path,
                                     start_service=self.start_service)

    def close(self) -> None:
        """Drops this thread's connection; requests still unanswered are sent again on the next one."""
        channel: _Channel | None = getattr(self._local, "channel", None)
        if channel is not None and channel.sock is not None:
            with contextlib.suppress(OSError):
                channel.sock.close()
            channel.sock = None

    def _forget_connections(self) -> None:
        """After fork: the child must not use the parent's sockets."""
        self._local = threading.local()

    def invoke(self, op: Operation, **kwargs: Any) -> Any:
        return self.submit(op, **kwargs).result()

    def submit(self, op: Operation, **kwargs: Any) -> Deferred[Any]:
        if self._fallback is not None:
            return self._fallback.submit(op, **kwargs)
        from pydantic_core import to_json

        return self._send(op, kwargs, to_json(kwargs), records=False)

    def invoke_records(self, op: Operation, **kwargs: Any) -> Any:
        return self.submit_records(op, **kwargs).result()

    def prepare_records(self) -> None:
        """Nothing to build: records go out as JSON (the in-process fallback prepares itself if used)."""
        from runyard.client import records  # noqa: F401 - what the workers decode answers with

    def submit_records(self, op: Operation, **kwargs: Any) -> Deferred[Any]:
        """Records go out as JSON and answers come back as records: no pydantic in this process."""
        if self._fallback is not None:
            return self._fallback.submit_records(op, **kwargs)
        return self._send(op, kwargs, json.dumps(kwargs, default=_json_value, separators=(",", ":")).encode(),
                          records=True)

    def _send(self, op: Operation, kwargs: dict[str, Any], args: bytes, *, records: bool) -> Deferred[Any]:
        if op.stream:
            raise ex.InvalidInput(f"{op.id} is an event stream for HTTP clients.", hint="Poll the range operation.")
        request = b'{"op":' + json.dumps(op.id).encode() + b',"args":' + args + b"}"
        channel = self._channel()
        answer: Deferred[Any] = Deferred(self._wait_for)
        channel.waiting.append(_Request(answer, op, kwargs, frame(request), records))
        channel.unsent += 1  # sent with the next poll or wait: a step's end and the next start travel together
        if len(channel.waiting) > MAX_IN_FLIGHT:
            self._wait_for(channel.waiting[0].answer)
        return answer

    def poll(self) -> None:
        """Sends the requests held back, then reads the answers that have already arrived on this thread's
        connection, without waiting."""
        channel: _Channel | None = getattr(self._local, "channel", None)
        if channel is None:
            return
        try:
            self._flush(channel)
            while channel.waiting and channel.sock is not None and frame_waiting(channel.sock):
                self._read_answer(channel)
        except LocalServiceUnavailable as exc:
            self._fall_back(channel, exc)

    def settle(self) -> None:
        channel: _Channel | None = getattr(self._local, "channel", None)
        if channel is not None and channel.waiting:
            self._wait_for(channel.waiting[-1].answer)

    # --- the pipelined connection ---------------------------------------------------------------------
    def _channel(self) -> _Channel:
        channel: _Channel | None = getattr(self._local, "channel", None)
        if channel is None:
            channel = self._local.channel = _Channel()
        return channel

    def _wait_for(self, answer: Deferred[Any]) -> None:
        """Reads answers in order until ``answer`` has one. Only the thread that submitted it may wait."""
        channel = self._channel()
        if not any(r.answer is answer for r in channel.waiting):
            if answer.done:
                return
            raise RuntimeError("an answer of the local service was awaited on another thread than its request")
        try:
            self._flush(channel)
            while not answer.done:
                self._read_answer(channel)
        except LocalServiceUnavailable as exc:
            self._fall_back(channel, exc)

    def _read_answer(self, channel: _Channel) -> None:
        """The next answer, for the oldest request; a dropped or stale service is replaced and every
        unanswered request sent again, in order (every write is idempotent, as over HTTP)."""
        while True:
            sock = channel.sock if channel.sock is not None else self._reconnect(channel)
            try:
                reply = recv_frame(sock, spin_s=self.spin_s)
            except OSError:
                reply = None
            except BaseException:
                # e.g. Ctrl-C in the middle of a message: this connection's framing is lost; the requests
                # still unanswered go again on the next one
                self.close()
                raise
            if reply is not None and reply[:1] != STALE:
                channel.failures = 0
                break
            self.close()
            channel.failures += 1
            if reply is not None:  # stale: that service is going away; give it a moment to let go
                time.sleep(0.05 * channel.failures)
        request = channel.waiting.popleft()
        try:
            request.answer.set_result(self._decode(request.op, reply, records=request.records))
        except Exception as exc:  # the operation's error (or a bad answer) belongs to its caller
            request.answer.set_error(exc)

    def _decode(self, op: Operation, reply: bytes, *, records: bool = False) -> Any:
        status, body = reply[:1], reply[1:]
        if status != OK:
            raise _error_from(body, self.log_path)
        if op.response_spec is None:
            return None
        if records:
            from runyard.client.records import decode

            return decode(op.response_spec, json.loads(body))
        adapter = self._adapters.get(op.id)
        if adapter is None:
            from pydantic import TypeAdapter

            adapter = self._adapters[op.id] = TypeAdapter(op.response)
        return adapter.validate_json(body)

    def _flush(self, channel: _Channel) -> None:
        """Sends the requests held back, in one write, without ever blocking on a full socket while
        answers wait to be read (the service, blocked on sending those, would never read ours)."""
        if not channel.unsent:
            return
        held = list(channel.waiting)[-channel.unsent:]
        channel.unsent = 0
        if channel.sock is None:
            self._reconnect(channel)  # sends every unanswered request, these included
            return
        data = memoryview(b"".join(r.frame for r in held))
        sock = channel.sock
        try:
            while data:
                try:
                    data = data[sock.send(data, socket.MSG_DONTWAIT):]
                except BlockingIOError:
                    readable, _, _ = select.select([sock], [sock], [])
                    if readable and channel.waiting[0] is not held[0]:  # answers to earlier requests
                        self._read_answer(channel)
                        if channel.sock is not sock:  # replaced meanwhile: everything was sent again
                            return
        except OSError:
            self.close()
            self._reconnect(channel)

    def _reconnect(self, channel: _Channel) -> socket.socket:
        if channel.failures >= 3:
            raise LocalServiceUnavailable(
                f"The local workspace service at {self.path} keeps dropping connections.", hint=f"See {self.log_path}."
            )
        channel.unsent = 0
        for _ in range(3):
            sock = channel.sock = self._connect()
            try:
                for request in list(channel.waiting):
                    sock.sendall(request.frame)  # a handful of small frames: the buffer takes them
                return sock
            except OSError:
                self.close()
                channel.failures += 1
        raise LocalServiceUnavailable(f"The local workspace service at {self.path} keeps dropping connections.",
                                      hint=f"See {self.log_path}.")

    def _fall_back(self, channel: _Channel, exc: LocalServiceUnavailable) -> None:
        """Says why once, then answers every unanswered request in-process, in order."""
        if not self.start_service:  # every unanswered request fails with the reason
            self.close()
            while channel.waiting:
                channel.waiting.popleft().answer.set_error(exc)
            return
        if self._fallback is None:
            log.warning("%s Working in-process instead (set RUNYARD_LOCAL_SERVICE=0 to always do so).", exc.headline)
            self._fallback = InProcessTransport(self.database_url, busy_timeout_ms=self.busy_timeout_ms)
        self.close()
        fallback = self._fallback
        while channel.waiting:
            request = channel.waiting.popleft()
            send = fallback.submit_records if request.records else fallback.submit
            answer = send(request.op, **request.kwargs)
            try:
                request.answer.set_result(answer.result())
            except Exception as error:
                request.answer.set_error(error)

    def _connect(self) -> socket.socket:
        try:
            return _open(self.path)
        except OSError as exc:
            if not self.start_service:
                raise LocalServiceUnavailable(f"Nothing serves the workspace at {self.path} any more ({exc}).",
                                              hint="The process serving it ended; run the pipeline again.") from None
        import fcntl

        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name("start.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one starter at a time; the others then find it listening
            try:
                return _open(self.path)
            except OSError:
                return self._start()

    def _start(self) -> socket.socket:
        import subprocess

        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a socket file left by a service that died
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        command = [sys.executable, "-m", "runyard.workspace.local_service", "--socket", str(self.path),
                   "--database-url", self.database_url, "--idle-s", str(self.idle_s),
                   "--busy-timeout-ms", str(self.busy_timeout_ms)]
        try:
            with open(self.log_path, "ab") as out:
                process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                                           cwd="/", start_new_session=True, close_fds=True)
        except OSError as exc:
            raise LocalServiceUnavailable(f"Could not start the local workspace service: {exc}.") from None
        _STARTED.append(process)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                return _open(self.path)
            except OSError:
                pass
            if process.poll() is not None:
                raise LocalServiceUnavailable(f"The local workspace service did not start: {_tail(self.log_path)}",
                                              hint=f"See {self.log_path}.")
            if time.monotonic() > deadline:
                raise LocalServiceUnavailable(f"The local workspace service did not answer within "
                                              f"{START_TIMEOUT_S:.0f} s.", hint=f"See {self.log_path}.")
            time.sleep(0.005)


#: Requests one thread may have sent without reading their answers; then the oldest answer is awaited.
MAX_IN_FLIGHT = 32


@dataclass(slots=True)
class _Request:
    answer: Deferred[Any]
    op: Operation
    kwargs: dict[str, Any]
    frame: bytes
    #: The caller speaks plain records (:meth:`LocalServiceTransport.submit_records`), not pydantic models.
    records: bool = False


def _json_value(value: Any) -> Any:
    """What ``json.dumps`` cannot write itself: records (as their JSON), UUIDs, times and paths."""
    to_json = getattr(value, "to_json", None)
    if to_json is not None:
        return to_json()
    dump = getattr(value, "model_dump", None)  # a model handed to a records client by shared code
    if dump is not None:
        return dump(mode="json")
    if isinstance(value, uuid.UUID | PurePath):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


@dataclass(slots=True)
class _Channel:
    """One thread's connection and the requests sent on it whose answers are not read yet, oldest first."""

    sock: socket.socket | None = None
    waiting: deque[_Request] = field(default_factory=deque)
    #: How many of the newest requests in ``waiting`` are held back, not sent yet.
    unsent: int = 0
    failures: int = 0


#: Services this process started (kept so Python does not warn about them; they outlive us on purpose).
_STARTED: list[Any] = []  # subprocess.Popen, imported only when starting one


def _open(path: Path) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        raise
    return conn


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return " | ".join(text[-lines:]) or "no output"


def _error_from(body: bytes, log_path: Path) -> ex.RunyardError:
    try:
        data = json.loads(body)
    except ValueError:
        data = {}
    code = str(data.get("code", ""))
    message = str(data.get("message") or "The local workspace service failed.")
    hint = data.get("hint")
    cls = ex.error_class(code)
    if cls is None:
        cls = ex.RunyardError
        message = f"The local workspace service failed: {message}"
        hint = hint or f"See {log_path}."
    return cls(message, hint=hint if isinstance(hint, str) else None)


def _after_fork_in_child() -> None:
    for transport in list(_ALL_TRANSPORTS):
        transport._forget_connections()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
