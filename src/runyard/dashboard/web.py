"""What every dashboard page shares: templates, the permission aliases, security headers, error pages.

Pages are server-rendered with Jinja2 autoescaping on, so a run name or a log line can never become
markup. JavaScript lives only in static files: the Content-Security-Policy below forbids inline scripts
and inline styles, which is what makes an escaping slip (or a hostile artifact) inert in the browser.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import secrets
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.responses import HTMLResponse, Response

from runyard import __version__
from runyard.control_plane.csrf import CSRF_COOKIE
from runyard.dashboard.project import DashboardAuthorize, DashboardProject, project_choices, remember
from runyard.exceptions import InvalidInput, NotFound, PermissionDenied, RunyardError, Unauthenticated
from runyard.workspace.api.deps import Principal

logger = logging.getLogger("runyard.dashboard")

ROOT = Path(__file__).parent
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"

#: The dashboard's own pages: scripts, styles, fetches and workers only from this server; no framing.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "worker-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
#: User HTML (an HTML or Markdown artifact) served for a sandboxed iframe: no scripts, no requests at
#: all (``default-src 'none'``), a unique origin (``sandbox``), framable by the dashboard only.
SANDBOX_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'"

_COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

# Each page declares the read permission of the resource it shows, exactly as the API routes do, so
# the same grants open the same data. The scope checked is the page's project (``?project=``, else the
# cookie, else ``default``: ``dashboard/project.py``), never the API's header; the page passes that same
# ``PageProject`` to its services.
CanReadRuns = Annotated[Principal, Depends(DashboardAuthorize("runs:read"))]
CanReadPipelines = Annotated[Principal, Depends(DashboardAuthorize("pipelines:read"))]
CanReadArtifacts = Annotated[Principal, Depends(DashboardAuthorize("artifacts:read"))]
CanReadStacks = Annotated[Principal, Depends(DashboardAuthorize("stacks:read"))]
#: The project a page shows, resolved once per request (the permission check above uses the same value).
PageProject = DashboardProject


def secure(response: Response, *, csp: str = PAGE_CSP, framable: bool = False) -> Response:
    """Stamps the security headers on a dashboard response (pages, fragments, JSON and static files)."""
    for name, value in _COMMON_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", csp)
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN" if framable else "DENY")
    return response


class PageRoute(APIRoute):
    """A dashboard route: domain errors become a friendly HTML page, and every answer gets the headers.

    The API maps the same errors to JSON (``workspace/api/errors.py``); a person following a stale link
    deserves a page that says what is missing and where to look instead.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except Unauthenticated as exc:  # a person's browser goes to the sign-in page, scripts get the 401
                response = sign_in_redirect(request) or error_page(request, exc)
            except RunyardError as exc:
                response = error_page(request, exc)
            except (RequestValidationError, ValidationError) as exc:
                response = error_page(request, InvalidInput(f"That address asks for something malformed: "
                                                            f"{_first_error(exc)}."))
            except Exception:  # a bug: say so on a page (with the headers), log it with an id to quote
                request_id = uuid.uuid4().hex[:12]
                logger.exception("dashboard page %s failed (request %s)", request.url.path, request_id)
                response = error_page(request, RunyardError(
                    f"This page failed unexpectedly (request {request_id}).",
                    hint="Reload it; if it persists, report it with the request id."), status=500)
            remember(request, response)
            return secure(response)

        return page_handler


def sign_in_redirect(request: Request) -> Response | None:
    """Where a signed-out browser navigating to a page goes (``app.state.sign_in_path``, set by the
    deployment that offers browser sign-in); ``None`` for fetches, which keep their 401."""
    from urllib.parse import quote

    from starlette.responses import RedirectResponse

    target = getattr(request.app.state, "sign_in_path", None)
    if target is None or request.method != "GET" or "text/html" not in request.headers.get("accept", ""):
        return None
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{target}?next={quote(here, safe='')}", status_code=303)


def page_router() -> APIRouter:
    """A router of dashboard routes: friendly errors, security headers, absent from ``/openapi.json``."""
    return APIRouter(route_class=PageRoute, include_in_schema=False)


def parse_id(value: str, what: str) -> uuid.UUID:
    """Ids come from URLs people paste: a malformed one is a friendly "not found", not a 422."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"There is no {what} with id {value!r}.",
                       hint="Check the link, or find it in the lists.") from None


def _first_error(exc: RequestValidationError | ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid input"
    where = ".".join(str(p) for p in errors[0].get("loc", ()) if p not in ("query", "path"))
    return f"{where or 'input'}: {errors[0].get('msg', 'invalid')}"


_STATUS_OF_ERROR: dict[type[RunyardError], int] = {NotFound: 404, PermissionDenied: 403, Unauthenticated: 401}


def error_page(request: Request, exc: RunyardError, *, status: int | None = None) -> HTMLResponse:
    if status is None:
        status = next((code for cls, code in _STATUS_OF_ERROR.items() if isinstance(exc, cls)), 400)
    titles = {404: "Not found", 403: "Not allowed", 401: "Please sign in", 400: "Something is off",
              500: "Something broke"}
    context = {"title": titles[status], "nav": "", "message": exc.message, "hint": exc.hint}
    return render(request, "error.html", context, status_code=status)


def render(request: Request, template: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    csrf, fresh = csrf_token(request)
    project = getattr(request.state, "dashboard_project", None)  # None on pages of no project (settings)
    choices = project_choices(request) if project is not None else []
    html = environment().get_template(template).render(request=request, csrf_token=csrf, project=project,
                                                       project_choices=choices, **context)
    response = HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
    if fresh:
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")
    return response


def csrf_token(request: Request) -> tuple[str, bool]:
    """The double-submit CSRF token the page's scripts send with a write (e.g. cancelling a run), and
    whether it is new (then set as the ``SameSite=Strict`` cookie it must equal). Signed-in browsers
    write through the control plane's cookie session only with it (``control_plane/cookie_auth.py``)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and 16 <= len(existing) <= 100:
        return existing, False
    return secrets.token_urlsafe(24), True


@lru_cache(maxsize=1)
def environment() -> Any:
    """Built on first use so ``create_app`` costs nothing extra for API-only processes."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        ago=ago, when=when, duration=duration, short=short, pretty=pretty, number=number, bytes=human_bytes,
        status_class=status_class,
    )
    env.globals.update(static=static_url, runyard_version=__version__)
    return env


@lru_cache(maxsize=1)
def _asset_version() -> str:
    """Changes whenever a static file changes, so browsers never run a stale script after an upgrade."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:10]


def static_url(path: str) -> str:
    return f"/static/{path}?v={_asset_version()}"


# --- formatting filters -------------------------------------------------------------------------------
def when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "-"
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now" if seconds < 5 else f"{int(seconds)} s ago"


def duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def short(value: Any, length: int = 12) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= length else text[:length] + "…"


def pretty(value: Any, limit: int = 20_000) -> str:
    """Indented JSON for display; cut at ``limit`` characters so a huge value cannot bloat the page."""
    text = json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "\n… (cut)"


def number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def human_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover


def status_class(status: Any) -> str:
    return f"status status-{status}"
