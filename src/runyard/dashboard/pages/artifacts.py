"""``/artifacts``, ``/artifacts/{name}`` (its versions) and ``/artifact-versions/{id}`` (one version).

A version's page shows where it came from and where it went (lineage across runs), its metadata and a
preview (``dashboard/previews.py``). Two routes serve artifact bytes to the page, both locked down:
``/image`` serves only files whose signature is PNG, JPEG, GIF or WebP, and ``/render`` serves HTML or
Markdown only into a sandboxed iframe, under a CSP that forbids scripts and every request.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, JSONResponse, Response

from runyard.artifacts.stores.base import ArtifactStore
from runyard.dashboard import previews
from runyard.dashboard.web import SANDBOX_CSP, CanReadArtifacts, PageProject, page_router, parse_id, render, secure
from runyard.exceptions import NotFound
from runyard.schemas.artifacts import ArtifactVersionFilter, ArtifactVersionRead
from runyard.schemas.base import PageRequest
from runyard.workspace.api.deps import ReadSession
from runyard.workspace.services import artifacts as artifacts_service
from runyard.workspace.services import dashboard

router = page_router()

PAGE_SIZE = 50
#: Larger images are not served to the page.
MAX_IMAGE_BYTES = 20 * 1024 * 1024


@router.get("/artifacts")
def list_artifacts(request: Request, principal: CanReadArtifacts, session: ReadSession, project: PageProject,
                   cursor: str = "") -> HTMLResponse:
    page = artifacts_service.list_artifacts(session, page=PageRequest(limit=PAGE_SIZE, cursor=cursor or None),
                                            project=project)
    return render(request, "artifacts.html", {"title": "Artifacts", "nav": "artifacts", "artifacts": page.items,
                                              "next_cursor": page.next_cursor, "cursor": cursor})


@router.get("/artifacts/{name:path}")
def artifact_versions(request: Request, principal: CanReadArtifacts, session: ReadSession, project: PageProject,
                      name: str, cursor: str = "") -> HTMLResponse:
    page = artifacts_service.list_artifact_versions(
        session, filter=ArtifactVersionFilter(name=name, limit=PAGE_SIZE, cursor=cursor or None), project=project
    )
    if not page.items and not cursor:
        raise NotFound(f"There is no artifact named {name!r}.", hint="See the artifacts list for the names stored.")
    producers = {s.id: s for s in dashboard.lineage_steps(
        session, step_run_ids=[v.producer_step_run_id for v in page.items if v.producer_step_run_id])}
    return render(request, "artifact.html", {
        "title": name, "nav": "artifacts", "name": name, "versions": page.items, "producers": producers,
        "next_cursor": page.next_cursor, "cursor": cursor,
    })


@router.get("/artifact-versions/{version_id}")
def version_page(request: Request, principal: CanReadArtifacts, session: ReadSession, project: PageProject,
                 version_id: str) -> HTMLResponse:
    version = _version(session, version_id, project)
    lineage = artifacts_service.get_lineage(session, version_id=version.id, project=project)
    around = [e.step_run_id for e in ([lineage.producer] if lineage.producer else []) + lineage.consumers]
    steps = {s.id: s for s in dashboard.lineage_steps(session, step_run_ids=around)}
    preview = previews.preview(version, _store(session, version))
    return render(request, "artifact_version.html", {
        "title": f"{version.name} v{version.version}", "nav": "artifacts", "version": version,
        "lineage": lineage, "steps": steps, "preview": preview,
        "producer": steps.get(lineage.producer.step_run_id) if lineage.producer else None,
    })


@router.get("/artifact-versions/{version_id}/lineage.json")
def lineage_graph(principal: CanReadArtifacts, session: ReadSession, project: PageProject,
                  version_id: str) -> JSONResponse:
    """Nodes and edges around one version: producer's inputs -> producer -> version -> consumers -> outputs."""
    version = _version(session, version_id, project)
    lineage = artifacts_service.get_lineage(session, version_id=version.id, project=project)
    around = [e.step_run_id for e in ([lineage.producer] if lineage.producer else []) + lineage.consumers]
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[tuple[str, str]] = []

    def artifact(vid: uuid.UUID, name: str, number: int) -> str:
        key = f"a:{vid}"
        nodes.setdefault(key, {"id": key, "kind": "artifact", "label": f"{name} v{number}", "sub": "artifact",
                               "href": f"/artifact-versions/{vid}", "current": vid == version.id})
        return key

    artifact(version.id, version.name, version.version)
    for step in dashboard.lineage_steps(session, step_run_ids=around):
        key = f"s:{step.id}"
        nodes[key] = {"id": key, "kind": "step", "label": step.invocation_id, "sub": f"{step.status} · {step.run_name}",
                      "status": str(step.status), "href": f"/runs/{step.run_id}?step={step.invocation_id}"}
        for vid, name, number in step.inputs.values():
            edges.append((artifact(vid, name, number), key))
        for vid, name, number in step.outputs.values():
            edges.append((key, artifact(vid, name, number)))
    return JSONResponse({"nodes": list(nodes.values()), "edges": sorted(set(edges))},
                        headers={"Cache-Control": "no-store"})


@router.get("/artifact-versions/{version_id}/image")
def version_image(principal: CanReadArtifacts, session: ReadSession, project: PageProject,
                  version_id: str) -> Response:
    version = _version(session, version_id, project)
    store = _store(session, version)
    found = previews.image_file(version, store)
    if found is None:
        raise NotFound(f"Artifact {version.name!r} version {version.version} holds no image.")
    uri, media_type = found
    with store.open(uri, "rb") as handle:
        data = handle.read(MAX_IMAGE_BYTES + 1)
    if len(data) > MAX_IMAGE_BYTES:
        raise NotFound("The image is too large to show here.", hint="Load the artifact in Python instead.")
    return secure(Response(data, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"}),
                  csp="default-src 'none'; sandbox")


@router.get("/artifact-versions/{version_id}/render")
def version_render(principal: CanReadArtifacts, session: ReadSession, project: PageProject,
                   version_id: str) -> Response:
    """An HTML or Markdown value as a document for the page's sandboxed iframe, never as a dashboard page."""
    version = _version(session, version_id, project)
    preview = previews.preview(version, _store(session, version))
    if preview.kind == "html":
        body = preview.text
    elif preview.kind == "markdown":
        body = _MARKDOWN_PAGE.format(body=previews.render_markdown(preview.text))
    else:
        raise NotFound(f"Artifact {version.name!r} version {version.version} is not an HTML or Markdown document.")
    response = Response(body, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})
    return secure(response, csp=SANDBOX_CSP, framable=True)


def _version(session: Session, version_id: str, project: str) -> ArtifactVersionRead:
    return artifacts_service.get_artifact_version(session, name_or_id=str(parse_id(version_id, "artifact version")),
                                                  project=project)


def _store(session: Session, version: ArtifactVersionRead) -> ArtifactStore:
    return dashboard.artifact_store_for(session, version=version)


_MARKDOWN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body{{font:15px/1.55 system-ui,sans-serif;margin:1rem;color:#1c2230}}pre,code{{background:#f3f4f7;padding:.1em .3em;
border-radius:4px}}pre{{padding:.6em;overflow:auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccd;
padding:.25em .5em}}img{{max-width:100%}}</style></head><body>{body}</body></html>"""
