"""The Workspace Server: the metadata API over HTTP.

``create_app()`` mounts one router per resource under ``/api/v1`` (each route a thin call to the same
service function the in-process client calls), plus ``/health``, ``/metrics`` and ``/openapi.json``.
A background task fails runs whose runner stopped sending heartbeats, so no run stays "running" forever
after its machine died. ``runyard up`` serves this app with uvicorn.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import uuid
import warnings
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import compile_path

from runyard import __version__
from runyard.settings import get_settings
from runyard.workspace.api import errors, routers
from runyard.workspace.api.deps import DatabaseHandle
from runyard.workspace.api.health import router as health_router
from runyard.workspace.api.metrics import ServerMetrics
from runyard.workspace.api.middleware import API_PREFIX, BodyLimitMiddleware, MetricsMiddleware, ProtocolMiddleware
from runyard.workspace.db.engine import Database

logger = logging.getLogger("runyard.server")


def create_app(
    database_url: str | None = None,
    *,
    heartbeat_timeout_s: float | None = None,
    reaper_interval_s: float | None = None,
    max_body_bytes: int | None = None,
) -> FastAPI:
    """The Workspace Server app; arguments left ``None`` come from ``RUNYARD_*`` settings.

    The database is opened (and migrated) when the app starts, or on the first request that needs it;
    a server whose database is down still starts and answers ``/health`` with 503.
    """
    _quiet_fastapi_alias_warning()
    settings = get_settings()
    handle = DatabaseHandle(database_url or settings.workspace_database_url)
    timeout = heartbeat_timeout_s if heartbeat_timeout_s is not None else settings.server_heartbeat_timeout_s
    interval = reaper_interval_s if reaper_interval_s is not None else settings.server_reaper_interval_s

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            await run_in_threadpool(handle.get)
        except Exception as exc:
            logger.error("The workspace database is not available yet (%s); /health answers 503 until it is.", exc)
        reaper = asyncio.create_task(_reap_forever(handle, interval=interval, timeout=timeout))
        thresholds = _serving_gc()
        try:
            yield
        finally:
            gc.set_threshold(*thresholds)
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper

    app = FastAPI(
        title="Runyard Workspace Server",
        version=__version__,
        description="The metadata API of a Runyard workspace: pipelines, runs, steps, artifacts, stacks.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    metrics = ServerMetrics(handle)
    app.state.database = handle
    app.state.metrics = metrics
    allow_index = []
    for router in routers():
        app.include_router(router, prefix=API_PREFIX)
        for route in router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                allow_index.append((compile_path(API_PREFIX + route.path)[0], set(route.methods or ())))
    app.state.allow_index = allow_index  # the Allow header of 405 answers (see errors.allowed_methods)
    app.include_router(health_router)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    from runyard.dashboard import router as dashboard_router

    app.include_router(dashboard_router())  # the dashboard: "/" and the pages under it

    # the last added middleware is the outermost: metrics see every answer, 413s and 426s included
    errors.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes or settings.server_max_body_bytes)
    app.add_middleware(ProtocolMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if settings.auth != "none":  # RUNYARD_AUTH=control_plane: a control-plane token on every route
        from runyard.control_plane.deploy import protect_from_settings

        protect_from_settings(app, settings)
    return app


def _serving_gc() -> tuple[int, int, int]:
    """Fewer garbage collections while serving; returns the thresholds to restore.

    A page of 500 step runs allocates ~20,000 dicts and models (parsed JSON columns, the answer), which at
    the default threshold (700) sets off ~30 young collections, each walking every young object: ~15% of
    the request's CPU. Requests leave few reference cycles, so collecting every 50,000 allocations costs
    little memory. The objects of imports and app start-up are frozen out of every later collection.
    """
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, before[1], before[2])
    return before


def _quiet_fastapi_alias_warning() -> None:
    """FastAPI wraps each body or query model as ``Annotated[Model, Field(alias=name)]`` and silences
    pydantic's "alias has no effect" warning while building it; our schemas use ``defer_build`` (fast
    imports), so pydantic builds it later, on a route's first request, and the warning escapes. It is
    noise (FastAPI means to silence it), so it is filtered by its exact message, nothing broader.
    """
    try:
        from pydantic.warnings import UnsupportedFieldAttributeWarning
    except ImportError:  # pydantic < 2.12 never warns
        return
    warnings.filterwarnings(
        "ignore", message=r"The 'alias' attribute with value", category=UnsupportedFieldAttributeWarning
    )


def reap_silent_runs(db: Database, *, timeout: timedelta) -> list[uuid.UUID]:
    """One pass of the reaper: fails every run whose runner has been silent for ``timeout``."""
    from runyard.workspace.services import runs

    with db.session(write=True) as session:
        failed = runs.fail_silent_runs(session, timeout=timeout)
    for run_id in failed:
        logger.warning("Run %s sent no heartbeat for %.0fs; marked failed.", run_id, timeout.total_seconds())
    return failed


async def _reap_forever(handle: DatabaseHandle, *, interval: float, timeout: float) -> None:
    delta = timedelta(seconds=timeout)
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(lambda: reap_silent_runs(handle.get(), timeout=delta))
        except Exception:  # the next pass retries; a reaper that dies would leave runs "running" forever
            logger.exception("Looking for silent runs failed; retrying in %.0fs.", interval)
