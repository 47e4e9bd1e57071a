"""``/static/...``: the dashboard's own scripts, styles and vendored libraries, served from the package.

The one dashboard route without a permission check, on purpose: these files are the same for everyone
and hold no workspace data, and a future sign-in page must be able to load its stylesheet before the
caller is known. Paths are resolved inside ``static/`` only; ETags let browsers revalidate cheaply.
"""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

from fastapi import Request
from starlette.responses import FileResponse, Response

from runyard.dashboard.web import STATIC, page_router
from runyard.exceptions import NotFound

router = page_router()

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".md": "text/plain"}


@router.get("/static/{path:path}")
def static_file(request: Request, path: str) -> Response:
    root = STATIC.resolve()
    target = (root / path).resolve()
    if not target.is_file() or not target.is_relative_to(root):
        raise NotFound(f"No static file {path!r}.")
    stat = target.stat()
    etag = '"' + hashlib.md5(f"{stat.st_mtime}-{stat.st_size}".encode(), usedforsecurity=False).hexdigest() + '"'
    headers = {"Cache-Control": "public, max-age=3600" if request.query_params.get("v") else "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag, **headers})
    media_type = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    return FileResponse(Path(target), media_type=media_type, headers=headers, stat_result=stat)
