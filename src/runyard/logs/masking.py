"""Secret values a step uses are replaced by ``***`` before any log line is stored."""

from __future__ import annotations

import re
import threading

_lock = threading.Lock()
_values: set[str] = set()
_pattern: re.Pattern[str] | None = None

#: Shorter values would mask ordinary words; secrets are longer than this in practice.
MIN_SECRET_LENGTH = 4


def register_secret(value: str) -> None:
    """Masks ``value`` in every log captured from now on in this process."""
    global _pattern
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _values.add(value)
        ordered = sorted(_values, key=len, reverse=True)  # longest first: a secret containing another
        _pattern = re.compile("|".join(re.escape(v) for v in ordered))


def active() -> bool:
    return _pattern is not None


def mask(text: str) -> str:
    pattern = _pattern
    if pattern is None:
        return text
    return pattern.sub("***", text)


def clear() -> None:
    global _pattern
    with _lock:
        _values.clear()
        _pattern = None
