"""Pure ASGI middlewares of the Workspace Server (no per-request task or body copy beyond what each needs).

- :class:`ProtocolMiddleware` stamps every response with the wire schema version and refuses API
  requests from a client that declares another one (before the route runs: a mismatched client's
  *write* must never reach the database, and the client's own check only sees the response).
- :class:`BodyLimitMiddleware` answers 413 to bodies above the cap before the app buffers them.
- :class:`MetricsMiddleware` times each request per route template (never per raw path, which would
  give one time series per run id).
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runyard import __version__
from runyard.exceptions import VersionMismatch
from runyard.schemas.base import SCHEMA_VERSION
from runyard.workspace.api.errors import error_response
from runyard.workspace.api.metrics import ServerMetrics

SCHEMA_HEADER = "x-runyard-schema-version"
VERSION_HEADER = "x-runyard-version"
API_PREFIX = "/api/v1"


class ProtocolMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._headers = [
            (SCHEMA_HEADER.encode(), str(SCHEMA_VERSION).encode()),
            (VERSION_HEADER.encode(), __version__.encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self._headers]
            await send(message)

        theirs = _header(scope, SCHEMA_HEADER.encode())
        if theirs is not None and theirs != str(SCHEMA_VERSION) and scope["path"].startswith(API_PREFIX):
            exc = VersionMismatch(
                f"This client speaks workspace schema version {theirs}; the server speaks {SCHEMA_VERSION} "
                f"(runyard {__version__}).",
                hint=f"Install the runyard version the server runs: pip install 'runyard=={__version__}'.",
            )
            response = error_response(426, exc.code, exc.message, exc.hint)
            await response(scope, receive, stamped_send)
            return
        await self.app(scope, receive, stamped_send)


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes``: from ``Content-Length`` at once, or while a chunked body streams.

    A streamed body is buffered (up to the cap) and replayed to the app, so the 413 is sent before any
    route code runs and cannot be swallowed by the app's own body parsing.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the server enforces the declared length
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replaying(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        mib = self.max_bytes / (1024 * 1024)
        response = error_response(413, "payload_too_large", f"The request body is larger than {mib:g} MiB.",
                                  "Store large data as artifacts, not in metadata or parameters.")
        response.headers["connection"] = "close"
        await response(scope, receive, send)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` (already read from ``receive``) once more, then waits on the
    connection as before: for whoever reads a request's body before the app does."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            self.metrics.observe(scope["method"], _template(scope), status, time.perf_counter() - start)


def _template(scope: Scope) -> str:
    """The matched route's path template, with the API prefix (which newer FastAPI keeps on the router)."""
    path = getattr(scope.get("route"), "path", None)
    if not isinstance(path, str):
        return "<unmatched>"
    if scope["path"].startswith(API_PREFIX) and not path.startswith(API_PREFIX):
        return API_PREFIX + path
    return path


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
