"""The stored log format: newline-delimited JSON, one object per *batch* of lines.

``{"t": 1764240000.123, "s": "stdout", "l": "INFO", "n": "logger", "m": ["line", "line", ...]}``

Batching lines that were written together keeps capture cheap (one JSON encode per batch, done in C) while
every line keeps a timestamp within the flush interval; ``logging`` records keep their exact time, level
and logger name. Readers expand batches into :class:`LogLine` values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: Lines longer than this are split (never dropped), so a 50 MB line cannot stall a reader.
MAX_LINE_CHARS = 16 * 1024

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
STREAM_LEVEL = {"stdout": "INFO", "stderr": "WARNING"}


@dataclass(frozen=True)
class LogLine:
    offset: int
    time: float
    stream: str  # stdout, stderr, log, runner
    level: str
    message: str
    logger: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"offset": self.offset, "time": self.time, "stream": self.stream, "level": self.level,
                "message": self.message, "logger": self.logger}


def encode_batch(t: float, stream: str, lines: list[str], *, level: str | None = None,
                 logger: str | None = None) -> str:
    record: dict[str, Any] = {"t": round(t, 6), "s": stream, "m": lines}
    if level:
        record["l"] = level
    if logger:
        record["n"] = logger
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def decode_batch(raw: str) -> tuple[float, str, str, str | None, list[str]]:
    data = json.loads(raw)
    stream = data.get("s", "stdout")
    return (float(data.get("t", 0.0)), stream, data.get("l") or STREAM_LEVEL.get(stream, "INFO"), data.get("n"),
            list(data.get("m", [])))


def split_long(line: str) -> list[str]:
    if len(line) <= MAX_LINE_CHARS:
        return [line]
    return [line[i : i + MAX_LINE_CHARS] for i in range(0, len(line), MAX_LINE_CHARS)]
