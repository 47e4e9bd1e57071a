"""Domain exceptions -> HTTP, in this one place.

Nothing below the route layer knows about HTTP: services raise :mod:`runyard.exceptions` errors and this
module turns them into a status code and a body ``{"error": code, "message": ..., "hint": ...}``. The
``error`` code is the exception's own ``code``, so the HTTP client can raise the very same exception class
and user code sees identical errors in-process and over HTTP.

Anything unexpected becomes a 500 with a generic message: the traceback goes to the server log (with a
request id the client can quote), never into the response, since it may hold paths, SQL or secrets.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runyard import exceptions as ex

logger = logging.getLogger("runyard.server")

#: Status of each domain error; a subclass not listed takes its nearest listed base's status.
STATUS_OF: dict[type[ex.RunyardError], int] = {
    ex.NotFound: 404,
    ex.Conflict: 409,  # includes InvalidTransition
    ex.InvalidInput: 422,  # includes PipelineDefinitionError, ConfigurationError
    ex.PermissionDenied: 403,
    ex.Unauthenticated: 401,
    ex.VersionMismatch: 426,
    ex.ServerUnavailable: 503,
    ex.ArtifactError: 422,
    ex.StepFailed: 422,
    ex.SecretStoreError: 500,  # includes SecretKeyError
    ex.RunyardError: 400,
}


class ErrorDetail(BaseModel):
    loc: list[str | int]
    message: str
    type: str


class ErrorBody(BaseModel):
    """The body of every error response of the Workspace Server."""

    error: str
    message: str
    hint: str | None = None
    details: list[ErrorDetail] | None = None


def _described(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


#: Declared on every API route so the OpenAPI document (and schemathesis) knows the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _described("Unauthenticated"),
    403: _described("Permission denied"),
    404: _described("Not found"),
    409: _described("Conflict or invalid status transition"),
    413: _described("Request body too large"),
    422: _described("Invalid input"),
    426: _described("Client and server schema versions differ"),
    500: _described("Unexpected server error"),
    503: _described("Database unavailable"),
}


def status_of(exc: ex.RunyardError) -> int:
    for cls in type(exc).__mro__:
        status = STATUS_OF.get(cls)
        if status is not None:
            return status
    return 400


def error_response(status: int, code: str, message: str, hint: str | None = None,
                   details: list[ErrorDetail] | None = None) -> JSONResponse:
    """Also used by the middlewares, which sit outside FastAPI's exception handlers."""
    body = ErrorBody(error=code, message=message, hint=hint, details=details)
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=status)


def _on_domain_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ex.RunyardError)
    return error_response(status_of(exc), exc.code, exc.message, exc.hint)


def _on_validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [_detail(e) for e in exc.errors()]
    message = "; ".join(f"{'.'.join(str(p) for p in d.loc)}: {d.message}" for d in details[:10])
    if len(details) > 10:
        message += f"; and {len(details) - 10} more"
    return error_response(422, ex.InvalidInput.code, message or "The request is invalid.",
                          "Check the request against /openapi.json.", details)


def _detail(error: dict[str, Any]) -> ErrorDetail:
    # never echo the input: it may be huge or secret
    loc: Sequence[Any] = error.get("loc", ())
    return ErrorDetail(loc=[p if isinstance(p, int) else str(p) for p in loc],
                       message=str(error.get("msg", "invalid")), type=str(error.get("type", "invalid")))


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 401: "unauthenticated"}


def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status, hint = exc.status_code, None
    message = str(exc.detail)
    if status == 404:
        message, hint = f"No route {request.method} {request.url.path}.", "The API lives under /api/v1; see /docs."
    elif status == 400:  # FastAPI's "error parsing the body" (e.g. not UTF-8): bad input like any other
        status, message = 422, "The request body could not be read as JSON."
    code = ex.InvalidInput.code if status == 422 else _HTTP_CODES.get(status, "http_error")
    response = error_response(status, code, message, hint)
    if exc.headers:
        response.headers.update(exc.headers)
    if status == 405:
        allowed = allowed_methods(request)
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
    return response


def allowed_methods(request: Request) -> list[str]:
    """Every method of every route matching the request's path, not only those of the first route that
    matched (one path's methods are spread over several route functions; Starlette reports just one's).
    ``app.state.allow_index`` is built by ``create_app``: (path regex, methods) per route."""
    index: list[tuple[re.Pattern[str], set[str]]] = getattr(request.app.state, "allow_index", [])
    found: set[str] = set()
    for pattern, methods in index:
        if pattern.match(request.url.path):
            found.update(methods)
    return sorted(found)


def _on_integrity_error(_request: Request, exc: Exception) -> Response:
    # a unique or foreign key constraint: usually two writers racing, or an id that does not exist
    logger.info("integrity error: %s", exc)
    return error_response(409, ex.Conflict.code, "The write conflicts with stored data (a duplicate, or a "
                          "reference to something that does not exist).", "Re-read the current state and retry.")


def _on_data_error(_request: Request, exc: Exception) -> Response:
    logger.info("data error: %s", exc)
    return error_response(422, ex.InvalidInput.code, "A value is out of range or malformed for the database.",
                          "Check numbers are in range and strings hold no NUL characters.")


def _on_operational_error(_request: Request, exc: Exception) -> Response:
    from runyard.workspace.db.engine import is_transient_conflict

    if is_transient_conflict(exc):  # the step routes run these again themselves (Database.run); others say so
        logger.info("transaction aborted by the database to break a deadlock: %s", exc)
        response = error_response(503, "database_conflict", "The workspace database aborted this request to "
                                  "break a deadlock with a concurrent one; nothing of it was stored.",
                                  "Send it again (Runyard's clients do so by themselves).")
        response.headers["Retry-After"] = "1"
        return response
    logger.warning("database unavailable: %s", exc)
    return error_response(503, "database_unavailable", "The workspace database is unavailable.",
                          "Retry shortly; if it persists, check the server's database.")


def install(app: FastAPI) -> None:
    """Registers every handler; :class:`CatchAllMiddleware` covers what no handler matches."""
    app.add_exception_handler(ex.RunyardError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(DataError, _on_data_error)
    app.add_exception_handler(OperationalError, _on_operational_error)
    app.add_middleware(CatchAllMiddleware)


class CatchAllMiddleware:
    """Unexpected exceptions -> a generic 500, logged once with a request id the user can quote.

    Sits inside Starlette's ServerErrorMiddleware so the exception is not re-raised to the server (which
    would log it a second time) and a test client sees the same 500 a real client would.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise
            request_id = uuid.uuid4().hex[:12]
            logger.exception("unexpected error in %s %s (request %s)", scope.get("method"), scope.get("path"),
                             request_id)
            response = error_response(500, "internal_error", f"The server failed unexpectedly (request "
                                      f"{request_id}).", "Retry; if it persists, report it with the request id.")
            await response(scope, receive, send)
