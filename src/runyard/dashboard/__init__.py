"""The dashboard: server-rendered pages over the workspace, served by the Workspace Server itself.

``create_app`` mounts :func:`router`; every page reads through the same service functions as the API,
behind the same ``Authorize(...)`` permission dependency. Pages are Jinja2 templates, light scripts
live in ``static/js`` (the DAG is laid out by the vendored dagre in a Web Worker), and nothing is
fetched from outside the server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import APIRouter


def router() -> APIRouter:
    """All dashboard routes (pages, their small JSON feeds, static files), hidden from the OpenAPI document."""
    from fastapi import APIRouter

    from runyard.dashboard.pages import (
        artifacts,
        compare,
        overview,
        pipelines,
        run_detail,
        runs,
        settings,
        settings_actions,
        stacks,
        static,
    )
    from runyard.dashboard.web import PageRoute

    combined = APIRouter(route_class=PageRoute, include_in_schema=False)
    for module in (overview, pipelines, runs, run_detail, artifacts, compare, stacks, static, settings,
                   settings_actions):
        combined.include_router(module.router)
    return combined
