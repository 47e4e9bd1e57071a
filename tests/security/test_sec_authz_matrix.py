"""The authorization matrix: every workspace route (from the OpenAPI document) x every kind of caller.

Each route's expected permission is written down in :data:`RULES`, by hand: a route added without a rule
fails :func:`test_every_route_has_a_rule`, so nobody ships an endpoint whose access was never decided.
"allowed" means the request got past authentication and authorization (any status but 401/403; with
made-up ids that is mostly 404 or 422); "denied" must be exactly 401 or 403 with an error body that says
nothing about the resource, and must leave an audit entry.

Callers include project users: ``project`` holds a developer grant on project ``p1`` only, and
``other_project`` on ``p2`` only. Each kind of caller sends its requests in one project (the
``X-Runyard-Project`` header; none means ``default``): a project grant counts in its project and nowhere
else, a workspace-wide grant in every project.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cp_world import World, bearer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from runyard.control_plane.actor import SYSTEM
from runyard.control_plane.db.models import ApiKeyRow, AuditEventRow, ServiceAccountRow
from runyard.control_plane.rbac import BUILTIN_ROLES, allows, required_permission
from runyard.control_plane.services import keys

#: operationId -> the permission it needs (after ``write`` is refined by method). Hand-written on purpose.
RULES: dict[str, str] = {
    "pipelines-create": "pipelines:create", "pipelines-get": "pipelines:read", "pipelines-list": "pipelines:read",
    "pipelines-delete": "pipelines:delete",
    "snapshots-create": "pipelines:create", "snapshots-get": "pipelines:read",
    "runs-create": "runs:create", "runs-get": "runs:read", "runs-list": "runs:read", "runs-update": "runs:update",
    "runs-delete": "runs:delete", "runs-cancel": "runs:update",
    "steps-create": "runs:create", "steps-get": "runs:read", "steps-list": "runs:read", "steps-update": "runs:update",
    "steps-cache_lookup": "runs:read", "steps-list_of_run": "runs:read",
    "artifacts-list": "artifacts:read", "artifact_versions-get": "artifacts:read",
    "artifact_versions-list": "artifacts:read", "artifact_versions-lineage": "artifacts:read",
    "logs-append": "runs:create", "logs-read": "runs:read", "logs-stream": "runs:read",
    "metadata-create": "runs:create",
    "stacks-create": "stacks:create", "stacks-get": "stacks:read", "stacks-list": "stacks:read",
    "stacks-update": "stacks:update", "stacks-delete": "stacks:delete",
    # components are parts of stacks: the routes declare the stacks permissions
    "components-create": "stacks:create", "components-get": "stacks:read",
    "components-list": "stacks:read", "flavors-list": "stacks:read", "components-update": "stacks:update",
    "components-delete": "stacks:delete",
    # metadata is `read`; values need their own permission (developer and viewer lack it)
    "secrets-create": "secrets:create", "secrets-list": "secrets:read", "secrets-get": "secrets:read",
    "secrets-get_values": "secrets:read_secret_values", "secrets-update": "secrets:update",
    "secrets-delete": "secrets:delete",
}
#: Routes anyone may call (liveness for load balancers).
PUBLIC = {"server-health"}

USERS = ("admin", "developer", "viewer", "stack_admin")
BROKEN = ("anonymous", "expired", "tampered", "alg_none", "hs256_public_key", "wrong_audience", "revoked_key",
          "garbage")


def _operations(app: FastAPI) -> list[tuple[str, str, str]]:
    spec = app.openapi()
    return sorted((method.upper(), path, item["operationId"]) for path, methods in spec["paths"].items()
                  for method, item in methods.items())


def _fill(path: str) -> str:
    fillers = {"type": "orchestrator", "name_or_id": "missing", "name": "missing"}
    out = path
    while "{" in out:
        start, end = out.index("{"), out.index("}")
        name = out[start + 1:end].split(":")[0]
        out = out[:start] + fillers.get(name, str(uuid.uuid4())) + out[end + 1:]
    return out


def test_every_route_has_a_rule(protected_app: FastAPI) -> None:
    ops = {op for _, _, op in _operations(protected_app)}
    assert ops - PUBLIC - set(RULES) == set(), "new routes need an authorization rule in RULES"
    assert set(RULES) - ops == set(), "rules for routes that no longer exist"


def test_the_declared_permission_matches_the_rule(protected_app: FastAPI) -> None:
    """The route's own ``Authorize`` (refined by method) is what the rule says: no drift either way."""
    from runyard.workspace.api.deps import Authorize

    def declared(dependant: Any) -> list[str]:
        found = [dependant.call.permission] if isinstance(dependant.call, Authorize) else []
        for sub in dependant.dependencies:
            found.extend(declared(sub))
        return found

    for route in protected_app.routes:
        for ctx in getattr(route, "effective_route_contexts", lambda: [])():
            if not ctx.path_format.startswith("/api/v1"):
                continue
            perms = declared(ctx.dependant)
            assert len(perms) == 1, ctx.path_format
            for method in ctx.methods:
                assert required_permission(perms[0], method) == RULES[ctx.operation_id], (method, ctx.path_format)


#: Callers that send their requests in a project other than ``default``: caller -> (token of, project).
IN_PROJECT = {
    "project_in_p1": ("project", "p1"),  # a project grant, used in its project
    "other_project_in_p1": ("other_project", "p1"),  # a grant on p2, used in p1
    "viewer_in_p1": ("viewer", "p1"),  # a workspace-wide grant reaches every project
    "shared_in_p1": ("shared", "p1"),  # no grant at all: a viewer share of one pipeline of p1
}
#: What a viewer share of one pipeline reaches (past authorization; made-up ids then answer 404).
SHARED_PIPELINE_VIEWER = {
    "pipelines-get", "pipelines-list", "snapshots-get", "runs-get", "runs-list", "steps-get", "steps-list",
    "steps-list_of_run",
    "logs-read", "logs-stream", "artifacts-list", "artifact_versions-get", "artifact_versions-list",
    "components-get",  # the artifact store holding a shared version (anything else: 404)
}


def _shared_user(world: World) -> None:
    """``shared``: a member with no grant, holding a viewer share of a (made-up) pipeline of ``p1``."""
    from runyard.control_plane.services import orgs, shares, users

    with world.cp.db.session(write=True) as s:
        user = users.create_user(s, email="shared@acme.test", password=None, actor=SYSTEM, org_id=world.org.id)
        orgs.add_member(s, org_id=world.org.id, user_id=user.id, actor=SYSTEM)
        target = shares.Target(world.ws_a, orgs.get_project(s, workspace_id=world.ws_a.id, name="p1"), "pipelines",
                               uuid.uuid4())
        shares.create_share(s, org_id=world.org.id, target=target, subject_type="user", subject_id=user.id,
                            subject_label=user.email, role="viewer", permissions=None, actor=SYSTEM,
                            held=frozenset({"*"}))
        world.users["shared"] = user


def _tokens(world: World, client: TestClient) -> dict[str, str | None]:
    tokens: dict[str, str | None] = {who: world.token(who) for who in USERS}
    tokens["service_account"] = world.api_key
    tokens["project"] = world.token("project")
    tokens["other_project"] = world.token("other_project")
    _shared_user(world)
    for who, (user, _) in IN_PROJECT.items():
        tokens[who] = world.token(user)
    tokens["other_workspace"] = world.token("other_ws", "b")  # a valid token, for another workspace
    tokens["wrong_audience"] = world.token("developer", None)  # the control plane's own audience
    tokens["anonymous"] = None
    tokens["garbage"] = "not-a-token"
    claims = jwt.decode(tokens["developer"] or "", options={"verify_signature": False})
    header = jwt.get_unverified_header(tokens["developer"] or "")
    public_x = jwt.utils.base64url_decode(world.cp.jwks()["keys"][0]["x"])
    tokens["hs256_public_key"] = jwt.encode({**claims, "perms": ["*"]}, public_x, algorithm="HS256",
                                            headers={"kid": header["kid"]})
    head, _, sig = (tokens["developer"] or "").split(".")
    forged_body = jwt.utils.base64url_encode(json.dumps({**claims, "perms": ["*"]}).encode()).decode()
    tokens["tampered"] = f"{head}.{forged_body}.{sig}"
    tokens["alg_none"] = jwt.encode({**claims, "perms": ["*"]}, None, algorithm="none")
    with world.cp.db.session(write=True) as s:  # an expired token, signed by the real key
        now = int(time.time())
        tokens["expired"] = world.cp.keyring.sign(s, {**claims, "iat": now - 3600, "nbf": now - 3600,
                                                       "exp": now - 1800, "jti": uuid.uuid4().hex})
        ci = s.get(ServiceAccountRow, s.get(ApiKeyRow, world.api_key_id).service_account_id)  # type: ignore[union-attr]
        revoked = keys.create_key(s, org_id=world.org.id, name="revoked", actor=SYSTEM, service_account=ci)
    assert client.get("/api/v1/runs", headers=bearer(revoked.secret)).status_code == 200  # works, then:
    with world.cp.db.session(write=True) as s:
        keys.revoke_key(s, key=s.get(ApiKeyRow, revoked.row.id), actor=SYSTEM)  # type: ignore[arg-type]
    client.app.state.authenticator.verifier.refresh_revocations()  # type: ignore[attr-defined]
    tokens["revoked_key"] = revoked.secret
    return tokens


#: Resources of the whole workspace, not of a project: a grant on one project never reaches them.
WORKSPACE_WIDE = ("secrets:",)


def _expected(who: str, permission: str) -> bool:
    if who in BROKEN or who in ("other_workspace", "project", "other_project", "other_project_in_p1"):
        return False
    if who == "project_in_p1" and permission.startswith(WORKSPACE_WIDE):
        return False
    role = {"service_account": "developer", "project_in_p1": "developer", "viewer_in_p1": "viewer"}.get(who, who)
    return allows(BUILTIN_ROLES[role], permission)


def test_authorization_matrix(world: World, ws_client: TestClient, protected_app: FastAPI) -> None:
    tokens = _tokens(world, ws_client)
    with world.cp.db.session(write=False) as s:
        denied_before = s.scalar(select(func.count()).select_from(AuditEventRow).where(
            AuditEventRow.outcome == "denied")) or 0
    failures: list[str] = []
    denied = 0
    for method, path, op in _operations(protected_app):
        for who, token in tokens.items():
            headers = bearer(token) if token else {}
            if who in IN_PROJECT:
                headers["X-Runyard-Project"] = IN_PROJECT[who][1]
            kwargs: dict[str, Any] = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
            response = ws_client.request(method, _fill(path), headers=headers, **kwargs)
            allowed = response.status_code not in (401, 403)
            expected = op in PUBLIC or (op in SHARED_PIPELINE_VIEWER if who == "shared_in_p1"
                                        else _expected(who, RULES[op]))
            if allowed != expected:
                failures.append(f"{who:16} {method:6} {path}: {response.status_code}, expected "
                                f"{'allow' if expected else 'deny'}")
            if not allowed:
                denied += 1
                body = response.json()
                assert set(body) <= {"error", "message", "hint"}, body
                assert body["error"] in ("unauthenticated", "permission_denied")
                want = 403 if who in ("project", "other_project", *IN_PROJECT, *USERS, "service_account") else 401
                assert response.status_code == want, (who, method, path, response.status_code)
    assert failures == [], "\n".join(failures)
    protected_app.state.authenticator.audit.flush()
    with world.cp.db.session(write=False) as s:
        denied_after = s.scalar(select(func.count()).select_from(AuditEventRow).where(
            AuditEventRow.outcome == "denied")) or 0
    assert denied_after - denied_before == denied


@pytest.mark.parametrize("who", ["viewer", "developer"])
def test_the_dashboard_uses_the_same_guard(world: World, ws_client: TestClient, who: str) -> None:
    assert ws_client.get("/runs").status_code == 401
    assert ws_client.get("/runs", headers=bearer(world.token(who))).status_code == 200
    assert ws_client.get("/runs", headers=bearer(world.token("project"))).status_code == 403
