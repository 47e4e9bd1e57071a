"""``/metrics``: Prometheus text for the Workspace Server.

- ``runyard_http_request_duration_seconds{method,route,status}``: a latency histogram per route
  *template*, so cardinality stays fixed however many runs exist.
- ``runyard_db_pool_*{engine}``: connection pool use, read at scrape time (no cost per request).
- ``runyard_runs{status}``: runs per status from one ``GROUP BY`` over the ``(status, created, id)``
  index, cached for ``runs_ttl_s`` so frequent scrapes or several Prometheus servers never add load.

Each app has its own registry (two apps in one process, as in tests, do not collide). With
``runyard up --workers N`` each worker exports its own numbers; a scrape sees one worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from runyard import __version__
from runyard.schemas.base import SCHEMA_VERSION
from runyard.schemas.status import RunStatus

if TYPE_CHECKING:
    from runyard.workspace.api.deps import DatabaseHandle

logger = logging.getLogger("runyard.server")

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServerMetrics:
    def __init__(self, database: DatabaseHandle, *, runs_ttl_s: float = 15.0) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.latency = Histogram(
            "runyard_http_request_duration_seconds",
            "Time to answer an HTTP request, per route template.",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )
        self.registry.register(_DatabaseCollector(database, runs_ttl_s=runs_ttl_s))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route, str(status)).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _DatabaseCollector(Collector):
    def __init__(self, database: DatabaseHandle, *, runs_ttl_s: float) -> None:
        self.database = database
        self.runs_ttl_s = runs_ttl_s
        self._lock = threading.Lock()
        self._runs: dict[str, int] = {}
        self._runs_at = float("-inf")

    def describe(self) -> list[Metric]:
        return []  # registering must not touch the database

    def collect(self) -> Iterator[Metric]:
        info = InfoMetricFamily("runyard_server", "Version of this Workspace Server.")
        info.add_metric([], {"version": __version__, "schema_version": str(SCHEMA_VERSION)})
        yield info
        db = self.database.peek()
        if db is None:
            return
        yield from _pool_metrics({"write": db.write_engine.pool, "read": db.read_engine.pool}
                                 if db.read_engine is not db.write_engine else {"write": db.write_engine.pool})
        runs = GaugeMetricFamily("runyard_runs", "Runs per status (refreshed at most every few seconds).",
                                 labels=["status"])
        for status, count in self._run_counts().items():
            runs.add_metric([status], count)
        yield runs

    def _run_counts(self) -> dict[str, int]:
        with self._lock:
            if time.monotonic() - self._runs_at < self.runs_ttl_s:
                return self._runs
            from runyard.workspace.db.models import RunRow

            db = self.database.get()
            try:
                with db.session(write=False) as session:
                    rows = session.execute(select(RunRow.status, func.count()).group_by(RunRow.status)).all()
            except Exception as exc:  # a scrape must not fail because the database does
                logger.warning("could not count runs for /metrics: %s", exc)
                return self._runs
            counts = {str(s): 0 for s in RunStatus}
            counts.update({status: int(n) for status, n in rows})
            self._runs, self._runs_at = counts, time.monotonic()
            return counts


def _pool_metrics(pools: dict[str, Any]) -> Iterator[Metric]:
    families = {
        "size": GaugeMetricFamily("runyard_db_pool_size", "Connections the pool keeps.", labels=["engine"]),
        "checkedout": GaugeMetricFamily("runyard_db_pool_checked_out", "Connections in use.", labels=["engine"]),
        "checkedin": GaugeMetricFamily("runyard_db_pool_checked_in", "Idle pooled connections.", labels=["engine"]),
        "overflow": GaugeMetricFamily("runyard_db_pool_overflow", "Connections above the pool size.",
                                      labels=["engine"]),
    }
    for engine, pool in pools.items():
        for attr, family in families.items():
            reader = getattr(pool, attr, None)
            if callable(reader):
                # QueuePool counts overflow from -size upward; below zero means "none in use"
                family.add_metric([engine], max(0.0, float(reader())))
    yield from families.values()
