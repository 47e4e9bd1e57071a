"""The dashboard's guards: a permission on every page, strict headers, no inline script or style."""

from __future__ import annotations

import re
from typing import Any

import pytest
from dashboard_workspace import Filled
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from runyard.dashboard import router
from runyard.workspace.api.deps import Authorize, Principal, current_principal
from runyard.workspace.app import create_app

#: The one route without a permission: static files hold no workspace data (see pages/static.py).
UNGUARDED = {"/static/{path:path}"}
#: Settings routes without an organization: they act on the caller's own session only (a redirect, sign-out).
SETTINGS_ENTRY = {"/settings", "/settings/sign-out"}


def _authorizations(dependant: Any) -> list[Authorize]:
    found = [dependant.call] if isinstance(dependant.call, Authorize) else []
    for sub in dependant.dependencies:
        found.extend(_authorizations(sub))
    return found


def _flatten(routes: list[Any]) -> list[Any]:
    """Routes of included routers too (FastAPI keeps an included router as one entry)."""
    out = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        out += _flatten(inner.routes) if inner is not None else [route]
    return out


def test_every_dashboard_route_checks_one_read_permission() -> None:
    routes = [r for r in _flatten(router().routes) if isinstance(r, APIRoute)]
    assert len(routes) >= 15
    for route in routes:
        checks = _authorizations(route.dependant)
        if route.path.startswith("/settings"):  # control-plane administration: checked below
            assert checks == [], route.path
            continue
        if route.path in UNGUARDED:
            assert checks == []
            continue
        assert len(checks) == 1, f"{route.path} has {len(checks)} Authorize dependencies"
        assert checks[0].permission.endswith(":read"), (route.path, checks[0])
        assert route.methods == {"GET"}, route.path  # the dashboard only reads (for now)


def test_every_settings_route_declares_one_guard_and_forms_check_csrf() -> None:
    """Settings administer the control plane: each route declares one ``SettingsGuard`` (the organization's
    grants, as the control-plane API reads them); every POST goes through ``SettingsForm`` (CSRF first)."""
    from runyard.dashboard.settings_auth import SettingsForm, SettingsGuard

    def guards(dependant: Any) -> list[SettingsGuard]:
        found = [dependant.call] if isinstance(dependant.call, SettingsGuard) else []
        for sub in dependant.dependencies:
            found.extend(guards(sub))
        return found

    routes = [r for r in _flatten(router().routes) if isinstance(r, APIRoute) and r.path.startswith("/settings")]
    assert len(routes) >= 20
    for route in routes:
        if route.path in SETTINGS_ENTRY:
            assert guards(route.dependant) == [], route.path
            continue
        found = guards(route.dependant)
        assert len(found) == 1, f"{route.path} has {len(found)} settings guards"
        if "POST" in route.methods:
            assert isinstance(found[0], SettingsForm), route.path


def test_dashboard_routes_are_not_part_of_the_api_document(tmp_path: Any) -> None:
    spec = TestClient(create_app(f"sqlite:///{tmp_path / 'w.db'}")).get("/openapi.json").json()
    assert not [p for p in spec["paths"] if not p.startswith("/api/v1") and p != "/health"]


def _pages(ws: Filled, client: TestClient) -> list[str]:
    table = client.get("/api/v1/artifact-versions/table").json()["id"]
    return ["/", "/runs", "/pipelines", "/pipelines/weather", f"/runs/{ws.second}", f"/runs/{ws.second}?step=featurize",
            f"/runs/{ws.second}/steps/load_table", "/artifacts", "/artifacts/table", f"/artifact-versions/{table}",
            f"/compare?runs={ws.first},{ws.second}", "/stacks", "/components", f"/runs/{ws.first}/graph.json",
            "/runs/no-such-run"]


@pytest.mark.parametrize("filled", ["sqlite"], indirect=True)
def test_pages_carry_strict_security_headers(client: TestClient, filled: Filled) -> None:
    for path in [*_pages(filled, client), "/static/app.css", "/static/js/run.js"]:
        response = client.get(path)
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, path
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "same-origin" and headers["x-frame-options"] == "DENY", path


@pytest.mark.parametrize("filled", ["sqlite"], indirect=True)
def test_pages_have_no_inline_script_style_or_external_reference(client: TestClient, filled: Filled) -> None:
    for path in _pages(filled, client):
        text = client.get(path).text
        if path.endswith(".json"):
            continue
        # every script is a file; the one exception is data (the run graph), which a browser never executes
        # and whose JSON has every "<" escaped, so no "</script>" in a step name can end the block early
        for data in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', text, re.S):
            assert "<" not in data, path
        code = re.sub(r'<script type="application/json"[^>]*>.*?</script>', "", text, flags=re.S)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", code), path
        assert not re.search(r"\sstyle=", text) and "<style" not in text, path
        assert not re.search(r"\son[a-z]+=", text), path  # no inline event handlers
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path  # nothing from outside


@pytest.mark.parametrize("filled", ["sqlite"], indirect=True)
def test_a_principal_without_the_permission_gets_a_403_page(filled: Filled) -> None:
    app: FastAPI = create_app(filled.url)
    app.dependency_overrides[current_principal] = lambda: Principal(id="g", name="guest", kind="user",
                                                                    permissions=frozenset({"artifacts:read"}))
    with TestClient(app) as client:
        denied = client.get("/runs")
        assert denied.status_code == 403 and "Not allowed" in denied.text and "runs read" in denied.text
        assert denied.headers["content-type"].startswith("text/html")
        assert client.get("/artifacts").status_code == 200  # the permission it holds
        assert client.get("/static/app.css").status_code == 200


@pytest.mark.parametrize("filled", ["sqlite"], indirect=True)
def test_static_files_stay_inside_the_static_folder(client: TestClient, filled: Filled) -> None:
    assert client.get("/static/js/run.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/../web.py").status_code == 404
    assert client.get("/static/%2e%2e/web.py").status_code == 404
    assert client.get("/static/nope.js").status_code == 404
    first = client.get("/static/app.css")
    again = client.get("/static/app.css", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("filled", ["sqlite"], indirect=True)
def test_a_bug_in_a_page_is_a_500_page_with_the_same_headers(filled: Filled, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr("runyard.workspace.services.dashboard.active_runs", broken)
    with TestClient(create_app(filled.url), raise_server_exceptions=False) as client:
        response = client.get("/")
    assert response.status_code == 500 and "Something broke" in response.text and "request" in response.text
    assert "a bug" not in response.text  # nothing internal leaks
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
