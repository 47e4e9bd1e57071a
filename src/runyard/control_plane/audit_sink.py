"""Where a Workspace Server sends its audit events (run triggers and deletions, refused requests).

Emitting never blocks a request and never fails it: events go to a bounded queue that a background
thread drains into the sink. All-in-one mode writes straight into the control-plane database; a split
Workspace Server forwards batches to the control plane (authenticated by a service-account API key), or,
with no key configured, writes JSON lines to the ``runyard.audit`` logger for a log shipper to collect.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runyard.control_plane.core import ControlPlane

logger = logging.getLogger("runyard.auth")
audit_logger = logging.getLogger("runyard.audit")


class AuditSink(ABC):
    """Queues events and writes them from a daemon thread; subclasses implement :meth:`write`."""

    def __init__(self, *, capacity: int = 10_000) -> None:
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=capacity)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._dropped = 0

    def emit(self, event: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self._dropped += 1
            if self._dropped in (1, 100, 10_000):
                logger.error("The audit queue is full; %d events dropped so far.", self._dropped)
            return
        self._ensure_thread()

    def flush(self, timeout: float = 5.0) -> None:
        """Waits until every queued event is written (tests; shutdown)."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        done.wait(timeout)

    @abstractmethod
    def write(self, events: list[dict[str, Any]]) -> None:
        """Stores a batch (raising lets the batch be logged instead of lost silently)."""

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._drain, name="runyard-audit", daemon=True)
                self._thread.start()

    def _drain(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < 200:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.write(batch)
            except Exception as exc:  # the control plane may be down: keep the trail in the log
                logger.warning("Could not store %d audit events (%s); logging them instead.", len(batch),
                               type(exc).__name__)
                for event in batch:
                    audit_logger.info(json.dumps(event, default=str))
            finally:
                for _ in batch:
                    self._queue.task_done()


class LogAuditSink(AuditSink):
    def write(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            audit_logger.info(json.dumps(event, default=str))


class LocalAuditSink(AuditSink):
    """All-in-one mode: the control plane's database is in this process."""

    def __init__(self, control_plane: ControlPlane) -> None:
        super().__init__()
        self.control_plane = control_plane

    def write(self, events: list[dict[str, Any]]) -> None:
        from runyard.control_plane.services import audit

        with self.control_plane.db.session(write=True) as session:
            for event in events:
                audit.record(session, **to_record_kwargs(event))


class HttpAuditSink(AuditSink):
    """Split mode: batches go to the control plane's ingest endpoint with a service-account API key."""

    def __init__(self, url: str, api_key: str) -> None:
        super().__init__()
        self.url = url.rstrip("/")
        self._api_key = api_key

    def write(self, events: list[dict[str, Any]]) -> None:
        import httpx

        response = httpx.post(self.url + "/api/v1/audit/ingest", json={"events": events}, timeout=10,
                              headers={"Authorization": f"Bearer {self._api_key}"})
        response.raise_for_status()


def to_record_kwargs(event: dict[str, Any]) -> dict[str, Any]:
    """An event dict (as emitted or received over HTTP) -> arguments of ``services.audit.record``."""
    from runyard.control_plane.actor import Actor, ActorKind

    actor_id = event.get("actor_id")
    try:
        parsed_id = uuid.UUID(str(actor_id)) if actor_id else None
    except ValueError:
        parsed_id = None
    kinds: dict[Any, ActorKind] = {"user": "user", "service_account": "service_account", "workspace": "workspace"}
    kind = kinds.get(event.get("actor_type"), "anonymous")
    org = event.get("org_id")
    try:
        org_id = uuid.UUID(str(org)) if org else None
    except ValueError:
        org_id = None
    actor = Actor(kind=kind, id=parsed_id, name=_text(event.get("actor_name"), 320), ip=_text(event.get("ip"), 64),
                  user_agent=_text(event.get("user_agent"), 300))
    outcome = event.get("outcome") if event.get("outcome") in ("success", "denied", "failure") else "failure"
    details = event.get("details") if isinstance(event.get("details"), dict) else {}
    return {"action": _text(event.get("action"), 64) or "unknown", "actor": actor, "outcome": outcome,
            "org_id": org_id, "target": _text(event.get("target"), 300),
            "workspace": _text(event.get("workspace"), 200), "details": details}


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if value not in (None, "") else None
