"""HTTP routes of the Workspace Server: one router per resource, each route a thin call to a service.

Routes do HTTP only (parse, authorize, call the service named in ``runyard.client.operations``, return);
the logic lives in ``runyard.workspace.services``. :func:`routers` lists what ``create_app`` mounts.
"""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from runyard.workspace.api import (
        artifacts,
        components,
        flavors,
        logs,
        metadata,
        pipelines,
        runs,
        secrets,
        snapshots,
        stacks,
        steps,
    )

    # steps first: runners' reports are most requests, and each router before it costs a failed match
    modules = (steps, pipelines, snapshots, runs, logs, artifacts, metadata, stacks, components, flavors,
               secrets)
    return [m.router for m in modules]
