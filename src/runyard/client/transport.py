"""The two ways the client reaches a workspace: in-process (embedded) and HTTP (a Workspace Server)."""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable
from typing import Any

from runyard.client.operations import Operation


class Transport(abc.ABC):
    """Carries one operation call and returns its typed response."""

    #: Where this transport points, for `runyard status` and error messages.
    location: str

    @abc.abstractmethod
    def invoke(self, op: Operation, **kwargs: Any) -> Any: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        """Releases connections."""

    def for_new_process(self) -> Transport:
        """A transport safe to use in a forked worker (no connections shared with the parent)."""
        return self


class InProcessTransport(Transport):
    """Calls the workspace service functions in this process: no server, no network."""

    def __init__(self, database_url: str, *, busy_timeout_ms: int = 30_000) -> None:
        self.database_url = database_url
        self.location = database_url
        self._busy_timeout_ms = busy_timeout_ms
        self._functions: dict[str, Callable[..., Any]] = {}

    @property
    def database(self) -> Any:
        from runyard.workspace.db.engine import get_database

        return get_database(self.database_url, busy_timeout_ms=self._busy_timeout_ms)

    def for_new_process(self) -> Transport:
        # databases are cached per process id, so the worker opens its own connections on first use
        return InProcessTransport(self.database_url, busy_timeout_ms=self._busy_timeout_ms)

    def invoke(self, op: Operation, **kwargs: Any) -> Any:
        if op.stream:
            from runyard.exceptions import InvalidInput

            raise InvalidInput(f"{op.id} is an event stream for HTTP clients.", hint="Poll the range operation.")
        fn = self._functions.get(op.id)
        if fn is None:
            module, name = op.service.split(":")
            fn = self._functions[op.id] = getattr(importlib.import_module(module), name)
        with self.database.session(write=op.write) as session:
            return fn(session, **kwargs)
