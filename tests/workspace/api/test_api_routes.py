"""The API is declared once (``client/operations.py``); the server must serve exactly that."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from runyard.client.operations import operations
from runyard.workspace.api import routers
from runyard.workspace.api.deps import Authorize
from runyard.workspace.app import create_app

API_PREFIX = "/api/v1"


def _api_routes() -> list[tuple[str, str, str | None, APIRoute]]:
    """(method, path relative to /api/v1, operation id, route) for every API route, duplicates included."""
    found = []
    for router in routers():
        for route in router.routes:
            assert isinstance(route, APIRoute)
            path = re.sub(r"{(\w+):\w+}", r"{\1}", route.path)  # {name:path} -> {name}
            path = path.removeprefix(API_PREFIX)
            for method in route.methods:
                found.append((method, path, route.operation_id, route))
    return found


def test_every_operation_has_exactly_one_route_with_its_method_path_and_id() -> None:
    routes = _api_routes()
    for op in operations().values():
        matching = [r for r in routes if (r[0], r[1], r[2]) == (op.method, op.path, op.id)]
        assert len(matching) == 1, f"{op.id}: {op.method} {op.path} has {len(matching)} routes"


def test_no_api_route_lacks_an_operation() -> None:
    declared = {(op.method, op.path, op.id) for op in operations().values()}
    extra = [(m, p, i) for m, p, i, _ in _api_routes() if (m, p, i) not in declared]
    assert extra == []


def test_the_app_serves_nothing_else(tmp_path: Any) -> None:
    app: FastAPI = create_app(f"sqlite:///{tmp_path / 'w.db'}")
    spec = TestClient(app).get("/openapi.json").json()
    served = {(method.upper(), path, item["operationId"])
              for path, methods in spec["paths"].items() for method, item in methods.items()}
    expected = {(op.method, API_PREFIX + op.path, op.id) for op in operations().values()}
    assert served - expected == {("GET", "/health", "server-health")}
    assert expected <= served


def test_operation_ids_are_tag_dash_name() -> None:
    for method, path, op_id, route in _api_routes():
        assert op_id is not None and "-" in op_id, (method, path)
        assert route.tags and op_id.split("-", 1)[0] == route.tags[0], (op_id, route.tags)


def test_every_api_route_checks_a_permission() -> None:
    """The auth issue will only change the principal and Authorize: no route may skip them."""

    def authorizations(dependant: Any) -> list[Authorize]:
        found = [dependant.call] if isinstance(dependant.call, Authorize) else []
        for sub in dependant.dependencies:
            found.extend(authorizations(sub))
        return found

    # a POST that changes a run rather than creating something declares the finer action itself
    finer = {"runs-cancel": "runs:update"}
    for method, path, _, route in _api_routes():
        checks = authorizations(route.dependant)
        assert len(checks) == 1, f"{method} {path} has {len(checks)} Authorize dependencies"
        if route.operation_id in finer:
            assert checks[0].permission == finer[route.operation_id], (method, path, checks[0])
            continue
        expected = "write" if method != "GET" and route.operation_id != "steps-cache_lookup" else "read"
        if route.operation_id == "secrets-get_values":
            expected = "read_secret_values"  # reading values is its own permission, not any `read`
        assert checks[0].permission.endswith(":" + expected), (method, path, checks[0])


def test_routes_call_the_service_function_operations_name() -> None:
    """Thin routes: each route's module calls the service function that its Operation names."""
    import inspect

    by_id = {op.id: op for op in operations().values()}
    for _, _, op_id, route in _api_routes():
        op = by_id[str(op_id)]
        function_name = op.service.split(":")[1]
        source = inspect.getsource(route.endpoint)
        # called, or handed to ``in_transaction`` (which calls it with a session in the thread pool)
        assert re.search(rf"service\.{function_name}[(,]", source), f"{op_id} does not call {op.service}"
