"""The two ways the client reaches a workspace: in-process (embedded) and HTTP (a Workspace Server)."""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from runyard.client.operations import Operation

T = TypeVar("T")


class Deferred(Generic[T]):
    """The answer to an operation sent with :meth:`Transport.submit`: read it when it is needed.

    Why: a step runner reports each step's start and end. Waiting for each answer costs a round trip
    per report, yet the runner needs none of them to go on (ids are client-chosen), only to know, a
    little later, that they were stored. A transport that can pipeline requests (the local service)
    answers these lazily; the others answer at once. An error is raised by :meth:`result`, not lost.
    """

    __slots__ = ("_done", "_error", "_value", "_wait")

    def __init__(self, wait: Callable[[Deferred[T]], None] | None = None) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._done = False
        self._wait = wait

    @classmethod
    def of(cls, call: Callable[[], T]) -> Deferred[T]:
        """Runs ``call`` now and keeps its result or its error."""
        d: Deferred[T] = cls()
        try:
            d.set_result(call())
        except Exception as exc:
            d.set_error(exc)
        return d

    def set_result(self, value: T) -> None:
        self._value, self._done = value, True

    def set_error(self, error: BaseException) -> None:
        self._error, self._done = error, True

    @property
    def done(self) -> bool:
        return self._done

    def result(self) -> T:
        """The answer, waiting for it if need be; raises the operation's error."""
        if not self._done:
            assert self._wait is not None, "a pending answer without a way to wait for it"
            self._wait(self)
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


class Transport(abc.ABC):
    """Carries one operation call and returns its typed response."""

    #: Where this transport points, for `runyard status` and error messages.
    location: str

    @abc.abstractmethod
    def invoke(self, op: Operation, **kwargs: Any) -> Any: ...

    def submit(self, op: Operation, **kwargs: Any) -> Deferred[Any]:
        """Sends ``op`` and returns at once if this transport can pipeline; otherwise runs it now.

        Operations submitted on one thread are carried out in the order they were sent, and before any
        later call from that thread, so a reader on the same thread always sees them."""
        return Deferred.of(lambda: self.invoke(op, **kwargs))

    def invoke_records(self, op: Operation, **kwargs: Any) -> Any:
        """:meth:`invoke` with plain records (:mod:`runyard.client.records`) in and out.

        Why: the pipeline process speaks records so that it never imports pydantic; the local service
        carries them as JSON natively. Here, for the other transports, they pass through the pydantic
        models (validated on the way in, as a server would), so every transport answers the same."""
        from runyard.client import record_bridge

        return record_bridge.to_records(op, self.invoke(op, **record_bridge.to_models(kwargs)))

    def submit_records(self, op: Operation, **kwargs: Any) -> Deferred[Any]:
        """:meth:`submit` with records in and out (see :meth:`invoke_records`)."""
        return Deferred.of(lambda: self.invoke_records(op, **kwargs))

    def prepare_records(self) -> None:
        """Imports and builds now what :meth:`invoke_records` will need for a step's reports.

        Why: ``local_parallel`` forks workers from a process whose other threads may be importing at that
        moment; a child that then imports a module whose lock was held at the fork waits forever. So the
        parent loads the models a worker's reports cross into before it forks."""
        from runyard.client import record_bridge

        record_bridge.prepare()

    def poll(self) -> None:  # noqa: B027 - optional hook
        """Takes in the answers that have already arrived, without waiting (they mark their ``done``)."""

    def settle(self) -> None:  # noqa: B027 - optional hook
        """Waits until every operation this thread submitted has its answer (errors stay in them)."""

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
        self.busy_timeout_ms = busy_timeout_ms
        self._functions: dict[str, Callable[..., Any]] = {}

    @property
    def database(self) -> Any:
        from runyard.workspace.db.engine import get_database

        return get_database(self.database_url, busy_timeout_ms=self.busy_timeout_ms)

    def for_new_process(self) -> Transport:
        # databases are cached per process id, so the worker opens its own connections on first use
        return InProcessTransport(self.database_url, busy_timeout_ms=self.busy_timeout_ms)

    def invoke(self, op: Operation, **kwargs: Any) -> Any:
        return self.database.run(self._function(op), write=op.write, **kwargs)

    def invoke_together(self, calls: list[tuple[Operation, dict[str, Any]]]) -> list[Any]:
        """Runs several writes in one transaction; returns each one's result, or the exception it raised.

        Why: a runner streams reports (step started, step ended) faster than one commit each can follow
        on SQLite; one commit for the reports that queued up meanwhile keeps the workspace in step. If any
        call fails, or the commit does, the whole transaction is undone and each call runs again on its
        own, as it would have alone: errors are rare, so the common path pays no savepoints."""
        try:
            with self.database.session(write=True) as session:
                results = [self._function(op)(session, **kwargs) for op, kwargs in calls]
            return results
        except Exception:
            pass
        results = []
        for op, kwargs in calls:
            try:
                results.append(self.invoke(op, **kwargs))
            except Exception as exc:
                results.append(exc)
        return results

    def _function(self, op: Operation) -> Callable[..., Any]:
        if op.stream:
            from runyard.exceptions import InvalidInput

            raise InvalidInput(f"{op.id} is an event stream for HTTP clients.", hint="Poll the range operation.")
        fn = self._functions.get(op.id)
        if fn is None:
            module, name = op.service.split(":")
            fn = self._functions[op.id] = getattr(importlib.import_module(module), name)
        return fn
