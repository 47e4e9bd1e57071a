"""The log backend seam: open a writer for one step (or the run itself), read a range back."""

from __future__ import annotations

import abc
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runyard.logs.capture import LogWriter
from runyard.logs.records import LogLine

if TYPE_CHECKING:
    from runyard.client.workspace_api import WorkspaceAPI

#: Key of the run-level log (orchestrator and runner output outside any step).
RUN_KEY = "run"


@dataclass(frozen=True)
class LogRange:
    lines: list[LogLine]
    next_offset: int
    #: True once the writer closed: a follower can stop after reading this range.
    complete: bool


class LogBackend(abc.ABC):
    flavor: str = ""
    #: Whether lines can be read back (an export-only backend such as OTLP cannot).
    readable: bool = True

    def bind(self, api: WorkspaceAPI) -> LogBackend:
        """This backend for use with ``api`` (a worker process's own client); most need no client."""
        return self

    @abc.abstractmethod
    def open_writer(self, run_id: uuid.UUID, key: str) -> LogWriter:
        """A writer for the log of step run ``key`` (its id) or :data:`RUN_KEY` in run ``run_id``."""

    def is_empty(self, run_id: uuid.UUID, key: str) -> bool:
        """True when nothing at all was stored for this log (not even an empty, closed one)."""
        return False

    @abc.abstractmethod
    def read(self, run_id: uuid.UUID, key: str, *, offset: int = 0, limit: int = 1000) -> LogRange:
        """Lines ``offset`` .. ``offset + limit`` without loading the rest of the log."""
