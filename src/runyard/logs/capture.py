"""Captures what a step prints and logs, while the user still sees it in their terminal.

``sys.stdout``/``sys.stderr`` are replaced by tees whose ``write`` does two things: write through, and
append the text to a list (about 60 ns; no lock, no timestamp, no tuple). A flusher thread swaps the lists
every ``interval`` seconds and turns the text of the window before into line batches for the backend, so
printing a million lines costs little more than printing them, and a step that is killed keeps everything
up to its last flush. Each stream keeps its order; lines carry the time of the window they were written
in, so stdout and stderr lines of the same window are ordered by stream, not interleaved exactly.

A list swapped out is processed a few milliseconds later: a writer thread that looked the list up just
before the swap has finished its append by then (the interpreter switches threads every 5 ms), so no
line is lost to the race.
"""

from __future__ import annotations

import codecs
import logging
import os
import sys
import threading
import time
from typing import IO, Any, Protocol

from runyard.logs.masking import active as masking_active
from runyard.logs.masking import mask
from runyard.logs.records import MAX_LINE_CHARS, encode_batch, split_long

#: Seconds between flushes while a step runs (the issue promises at least every second).
FLUSH_INTERVAL_S = 0.25
#: At most this many lines per stored batch, so log chunks rotate at a fine grain.
BATCH_LINES = 2000
#: Pause between taking the lists and reading them, longer than the interpreter's thread switch interval.
_SETTLE_S = 0.02


class LogWriter(Protocol):
    """What a log backend gives the capture: append NDJSON batches, make them durable, finish."""

    def append(self, data: str, lines: int) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class _Tee:
    """Stands in for sys.stdout/sys.stderr: writes through and keeps what was written."""

    def __init__(self, original: IO[str], echo: bool) -> None:
        self._original: Any = original
        self._echo = echo
        self.parts: list[str] = []
        self._binary: _BinaryTee | None = None

    def write(self, text: str) -> int:
        if self._echo:
            self._original.write(text)
        self.parts.append(text if type(text) is str else str(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._echo:
            self._original.flush()

    @property
    def buffer(self) -> _BinaryTee:
        """Bytes written to ``sys.stdout.buffer`` are captured too, decoded leniently (invalid UTF-8 -> U+FFFD)."""
        if self._binary is None:
            self._binary = _BinaryTee(self)  # one decoder: a character split across writes stays whole
        return self._binary

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)  # encoding, isatty, fileno...


class _BinaryTee:
    def __init__(self, tee: _Tee) -> None:
        self._tee = tee
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def write(self, data: Any) -> int:
        raw = bytes(data)
        if self._tee._echo:
            self._tee._original.flush()  # keep text written before in front of these bytes
            self._tee._original.buffer.write(raw)
        self._tee.parts.append(self._decoder.decode(raw))
        return len(raw)

    def flush(self) -> None:
        if self._tee._echo:
            self._tee._original.buffer.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tee._original.buffer, name)


class _Handler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.records: list[tuple[float, str, str, str]] = []
        #: Python prints WARNING+ records to stderr when no handler is configured ("last resort"); our
        #: handler would silence that, so it does the same while it is the only one.
        self.last_resort: Any = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + logging.Formatter().formatException(record.exc_info)
            if self.last_resort is not None and record.levelno >= logging.WARNING:
                self.last_resort.write(message + "\n")
            self.records.append((record.created, message, record.levelname, record.name))
        except Exception:  # logging must never break the step
            self.handleError(record)


class LogCapture:
    """``with LogCapture(writer): ...`` captures stdout, stderr and logging records into ``writer``."""

    def __init__(self, writer: LogWriter, *, echo: bool = True, interval: float = FLUSH_INTERVAL_S) -> None:
        self.writer = writer
        self.echo = echo
        self.interval = interval
        self._lock = threading.Lock()
        self._handler = _Handler()
        self._saved: tuple[Any, Any, int] | None = None
        self._tees: dict[str, _Tee] = {}
        self._partial: dict[str, str] = {}
        self._window_start = time.time()

    def __enter__(self) -> LogCapture:
        root = logging.getLogger()
        self._saved = (sys.stdout, sys.stderr, root.level)
        # an outer capture (the run's) pauses while this one (a step's) runs: no line is stored twice
        self._outer_handlers = [h for h in root.handlers if isinstance(h, _Handler)]
        for handler in self._outer_handlers:
            root.removeHandler(handler)
        self._tees = {"stdout": _Tee(_unwrap(sys.stdout), self.echo), "stderr": _Tee(_unwrap(sys.stderr), self.echo)}
        sys.stdout = self._tees["stdout"]
        sys.stderr = self._tees["stderr"]
        self._handler.last_resort = None if root.handlers else _unwrap(self._saved[1])
        root.addHandler(self._handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)  # INFO records of the step's loggers reach the handler
        self._window_start = time.time()
        _flusher().add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._saved is not None
        sys.stdout, sys.stderr, level = self._saved
        root = logging.getLogger()
        root.removeHandler(self._handler)
        for handler in self._outer_handlers:
            root.addHandler(handler)
        root.setLevel(level)
        _flusher().remove(self)
        self.drain(final=True)
        self.writer.close()

    def _swap(self) -> list[tuple[float, str, list[str]]]:
        """Takes what the tees and the handler collected since the last swap."""
        start, self._window_start = self._window_start, time.time()
        taken: list[tuple[float, str, list[str]]] = []
        for stream, tee in self._tees.items():
            parts, tee.parts = tee.parts, []
            if parts:
                taken.append((start, stream, parts))
        records, self._handler.records = self._handler.records, []
        taken.extend((created, "log", [message, level, name]) for created, message, level, name in records)
        return taken

    def drain(self, *, final: bool) -> None:
        with self._lock:
            ready = self._swap()
            if not final:
                time.sleep(_SETTLE_S)
            out: list[tuple[str, int]] = []
            for t, stream, parts in sorted(ready, key=lambda item: item[0]):
                if stream == "log":
                    message, level, name = parts
                    lines = _lines(mask(message))
                    out.append((encode_batch(t, "log", lines, level=level, logger=name), len(lines)))
                    continue
                text = self._partial.pop(stream, "") + "".join(parts)
                *complete, rest = text.split("\n")
                if len(rest) > MAX_LINE_CHARS:  # a huge line without newline: store its pieces now
                    keep = len(rest) % MAX_LINE_CHARS or MAX_LINE_CHARS
                    complete.append(rest[:-keep])
                    rest = rest[-keep:]
                if rest:
                    self._partial[stream] = rest
                if complete and masking_active():
                    complete = mask("\n".join(complete)).split("\n")
                lines = _split_long_lines(complete)
                for i in range(0, len(lines), BATCH_LINES):
                    batch = lines[i : i + BATCH_LINES]
                    out.append((encode_batch(t, stream, batch), len(batch)))
            if final:
                for stream, rest in sorted(self._partial.items()):
                    lines = split_long(mask(rest))
                    out.append((encode_batch(time.time(), stream, lines), len(lines)))
                self._partial.clear()
            for text, count in out:
                self.writer.append(text, count)
            self.writer.flush()


class _Flusher:
    """One thread drains every active capture each interval: starting a thread per step would cost more
    than a short step itself."""

    def __init__(self) -> None:
        self._captures: set[LogCapture] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, capture: LogCapture) -> None:
        with self._lock:
            self._captures.add(capture)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="runyard-log-flusher", daemon=True)
                self._thread.start()

    def remove(self, capture: LogCapture) -> None:
        with self._lock:
            self._captures.discard(capture)

    def _run(self) -> None:
        while True:
            with self._lock:
                captures = list(self._captures)
            interval = min((c.interval for c in captures), default=FLUSH_INTERVAL_S)
            time.sleep(interval)
            for capture in captures:
                try:
                    capture.drain(final=False)
                except Exception as exc:  # never let a storage hiccup kill the step
                    print(f"[runyard] could not store logs: {exc}", file=sys.__stderr__)


_FLUSHER: _Flusher | None = None
_FLUSHER_LOCK = threading.Lock()


def _forget_flusher_after_fork() -> None:
    """A forked worker (``local_parallel``) inherits the flusher's locks as they were at the fork, possibly
    held by the parent's flusher thread, which does not exist in the child: waiting on them would hang the
    step forever. The child starts over with its own flusher."""
    global _FLUSHER, _FLUSHER_LOCK
    _FLUSHER = None
    _FLUSHER_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_flusher_after_fork)


def _flusher() -> _Flusher:
    global _FLUSHER
    with _FLUSHER_LOCK:
        if _FLUSHER is None:
            _FLUSHER = _Flusher()
        return _FLUSHER


def _unwrap(stream: Any) -> Any:
    return stream._original if isinstance(stream, _Tee) else stream


def _lines(text: str) -> list[str]:
    return _split_long_lines(text.split("\n"))


def _split_long_lines(lines: list[str]) -> list[str]:
    if max(map(len, lines), default=0) > MAX_LINE_CHARS:
        return [piece for line in lines for piece in split_long(line)]
    return lines
