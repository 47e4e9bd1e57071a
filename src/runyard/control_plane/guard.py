"""The workspace side of authentication: bearer credential -> :class:`Principal`, and the permission check.

``install_auth(app, settings)`` puts an :class:`Authenticator` on ``app.state.authenticator`` when auth is
configured; ``workspace/api/deps.py`` then asks it who is calling (``current_principal``) and whether
they may (``Authorize``). Without it the local single user stays, as before.

Answers leak nothing: a 401 says the credential is missing or not accepted (never which check failed
beyond "expired" or "revoked"), a 403 names the permission lacking. Each refusal, and each run trigger
or deletion, leaves an audit entry with who, what, when and from where.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runyard.control_plane.audit_sink import AuditSink
from runyard.control_plane.credentials import looks_like_jwt, parse_credential
from runyard.control_plane.rbac import allows, required_permission
from runyard.control_plane.share_rules import ShareClaim, shares_from_claim
from runyard.control_plane.verifier import TokenVerifier
from runyard.exceptions import PermissionDenied, Unauthenticated
from runyard.workspace.api.deps import Principal

#: Successful requests worth an audit entry: (method, route template) -> action.
AUDITED: dict[tuple[str, str], str] = {
    ("POST", "/runs"): "run.trigger",
    ("DELETE", "/runs/{run_id}"): "run.delete",
    ("PATCH", "/runs/{run_id}"): "run.update",
    ("POST", "/runs/{run_id}/cancel"): "run.cancel",
    ("DELETE", "/pipelines/{name_or_id}"): "pipeline.delete",
    ("POST", "/stacks"): "stack.create",
    ("PATCH", "/stacks/{name_or_id}"): "stack.update",
    ("DELETE", "/stacks/{name_or_id}"): "stack.delete",
    ("POST", "/components"): "component.create",
    ("PATCH", "/components/{type}/{name_or_id}"): "component.update",
    ("DELETE", "/components/{type}/{name_or_id}"): "component.delete",
    ("POST", "/secrets"): "secret.create",
    ("PATCH", "/secrets/{name_or_id}"): "secret.update",
    ("DELETE", "/secrets/{name_or_id}"): "secret.delete",
    # reads are not audited, except reading secret values: who saw which secret, and when
    ("GET", "/secrets/{name_or_id}/values"): "secret.read_values",
}
#: Path prefixes of the audited reads, so every other GET skips the audit middleware's bookkeeping.
_AUDITED_READ_PREFIXES = tuple(sorted({"/api/v1" + path.split("{", 1)[0] for method, path in AUDITED
                                       if method == "GET"}))
_EXCHANGE_CACHE_MAX = 1024
#: Actions that write nothing: a workload token may do them outside its run (within its permissions).
_READS = frozenset({"read", "read_secret_values"})


@dataclass(frozen=True)
class TokenPrincipal(Principal):
    """A caller identified by a control-plane token; ``run_id`` set for a run's workload token."""

    org: str | None = None
    audience: str | None = None
    session_id: str | None = None
    api_key_id: str | None = None
    run_id: str | None = None
    #: ``(project name, permissions)`` pairs: grants limited to one project, not the whole workspace.
    projects: tuple[tuple[str, frozenset[str]], ...] = ()
    roles: frozenset[str] = frozenset()
    #: Shares of single pipelines or stacks (the ``shr`` claim, minus those revoked since it was issued).
    shares: tuple[ShareClaim, ...] = ()

    def can(self, permission: str, project: str | None = None) -> bool:
        """Workspace-wide grants cover every project; a project grant covers that project only."""
        if super().can(permission):
            return True
        if project is None:
            return False
        granted = next((perms for name, perms in self.projects if name == project), frozenset())
        return allows(granted, permission)


def principal_from_claims(claims: dict[str, Any]) -> TokenPrincipal:
    kind = claims.get("kind")
    if kind not in ("user", "service_account", "workload"):
        raise Unauthenticated("The access token does not name a caller this server knows.")
    perms = claims.get("perms") or []
    projects = claims.get("proj") or {}
    if not isinstance(perms, list) or not isinstance(projects, dict):
        raise Unauthenticated("The access token is malformed.")
    return TokenPrincipal(
        id=str(claims["sub"]), name=str(claims.get("name") or claims["sub"]), kind=kind,
        permissions=frozenset(str(p) for p in perms), org=claims.get("org"), audience=str(claims["aud"]),
        session_id=claims.get("sid"), api_key_id=claims.get("akid"), run_id=claims.get("run"),
        projects=tuple((str(k), frozenset(str(p) for p in v)) for k, v in projects.items() if isinstance(v, list)),
        roles=frozenset(str(r) for r in claims.get("roles") or []),
        shares=shares_from_claim(claims.get("shr")) if kind != "workload" else (),
    )


class Authenticator:
    def __init__(self, verifier: TokenVerifier, *, audit: AuditSink, org_id: str | None = None,
                 cookie_login: Callable[[Request], str | None] | None = None) -> None:
        self.verifier = verifier
        self.cookie_login = cookie_login  # the dashboard's browser sessions (all-in-one mode)
        self.audit = audit
        self.org_id = org_id  # files events of callers without a token under this workspace's organization
        self._exchanged: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._finished_runs: set[str] = set()

    # who -------------------------------------------------------------------------------------------
    def principal(self, request: Request) -> Principal:
        try:
            claims = self._claims(request)
            principal = principal_from_claims(claims)
            revoked = self.verifier.revoked_shares
            if principal.shares and revoked:
                principal = replace(principal, shares=tuple(s for s in principal.shares if s.id not in revoked))
            if principal.run_id is not None:
                self._check_run_alive(request, principal.run_id)
            return principal
        except Unauthenticated as exc:
            self.emit(request, action="auth.refused", outcome="denied", principal=None,
                      details={"reason": exc.message})
            raise

    def _claims(self, request: Request) -> dict[str, Any]:
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            cookie_token = self.cookie_login(request) if self.cookie_login is not None else None
            if not cookie_token:
                raise Unauthenticated("This server requires a token.",
                                      hint="Run `runyard login URL`, or send `Authorization: Bearer <token>`.")
            credential = cookie_token
        if looks_like_jwt(credential):
            return self.verifier.verify(credential)
        if parse_credential(credential) is not None:
            return self.verifier.verify(self._exchange(credential))
        raise Unauthenticated("The credential is not a token or an API key.")

    def _exchange(self, key: str) -> str:
        """An access token for an API key, cached until shortly before it expires (revocation is still
        checked on every use, through the token's ``akid``)."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        now = time.monotonic()
        cached = self._exchanged.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        token = self.verifier.source.exchange_api_key(key, self.verifier.audience)
        claims = self.verifier.verify(token)
        lifetime = max(0.0, float(claims["exp"]) - time.time() - 30)
        with self._lock:
            if len(self._exchanged) >= _EXCHANGE_CACHE_MAX:
                self._exchanged.clear()
            self._exchanged[digest] = (token, now + lifetime)
        return token

    def _check_run_alive(self, request: Request, run_id: str) -> None:
        """A workload token ends with its run: once the run is finished, the token is refused."""
        if run_id in self._finished_runs:
            raise Unauthenticated("The run this workload token belongs to has finished.")
        from runyard.schemas.status import RunStatus
        from runyard.workspace.db.models import RunRow

        try:
            rid = uuid.UUID(run_id)
        except ValueError:
            raise Unauthenticated("The workload token names no valid run.") from None
        with request.app.state.database.get().session(write=False) as session:
            row = session.get(RunRow, rid)
            status = row.status if row is not None else None
        if status is not None and RunStatus(status).is_finished:
            self._finished_runs.add(run_id)
            raise Unauthenticated("The run this workload token belongs to has finished.")

    # may -------------------------------------------------------------------------------------------
    async def authorize(self, request: Request, principal: Principal, declared: str, project: str | None) -> Principal:
        """``declared`` at the scope of ``project``: a workspace-wide grant, or one on that project (``None``:
        the resource belongs to the whole workspace, so only workspace-wide grants count)."""
        needed = required_permission(declared, request.method)
        if not principal.can(needed, project) and isinstance(principal, TokenPrincipal) and principal.shares:
            from runyard.workspace.api.share_gate import admit

            visible = await admit(request, principal.shares, needed, project)  # 404 for a row not shared
            if visible is not None:
                principal = replace(principal, visible=visible)
        if not principal.can(needed, project) and principal.visible is None:
            self.emit(request, action="auth.forbidden", outcome="denied", principal=principal,
                      details={"permission": needed, "project": project})
            resource, _, action = needed.partition(":")
            where = f"in project {project!r}" if project is not None else "in this workspace"
            raise PermissionDenied(f"You may not {action.replace('_', ' ')} {resource} {where}.",
                                   hint=f"Ask an admin for the '{needed}' permission in this project or workspace.")
        if isinstance(principal, TokenPrincipal) and principal.run_id and needed.partition(":")[2] not in _READS:
            target = await _run_of(request)
            if target != principal.run_id:
                self.emit(request, action="auth.forbidden", outcome="denied", principal=principal,
                          details={"permission": needed, "reason": "outside the workload's run"})
                raise PermissionDenied("A workload token may only write its own run.")
        route = getattr(request.scope.get("route"), "path", "")
        audited = AUDITED.get((request.method, _relative(route)))
        if audited is not None:
            request.state.audit = (audited, principal)
        return principal

    # audit -----------------------------------------------------------------------------------------
    def emit(self, request: Request | None, *, action: str, outcome: str, principal: Principal | None,
             details: dict[str, Any] | None = None, target: str | None = None) -> None:
        event: dict[str, Any] = {
            "action": action, "outcome": outcome, "workspace": self.verifier.audience, "details": details or {},
            "actor_type": "anonymous", "target": target, "org_id": self.org_id,
        }
        if principal is not None:
            kind = "user" if principal.kind == "user" else "service_account" \
                if principal.kind == "service_account" else "workspace"
            subject = principal.id.split(":", 1)[-1]
            event.update(actor_type=kind, actor_id=subject, actor_name=principal.name,
                         org_id=getattr(principal, "org", None) or self.org_id)
            run_id = getattr(principal, "run_id", None)
            if run_id:
                event["details"] = {**event["details"], "run": run_id}
        if request is not None:
            request.state.audited = True  # the app's refusal handler must not record it a second time
            event.update(ip=request.client.host if request.client else None,
                         user_agent=request.headers.get("user-agent", "")[:300] or None)
            event["details"] = {**event["details"], "method": request.method, "path": request.url.path[:300]}
        self.audit.emit(event)


async def _run_of(request: Request) -> str | None:
    """The run a write request touches: from the path, the body, or the step it names."""
    params = request.path_params
    if "run_id" in params:
        return str(params["run_id"])
    if "step_run_id" in params:
        return await run_in_threadpool(_run_of_step, request, str(params["step_run_id"]))
    try:
        body = await request.json()
    except Exception:
        return None
    if not isinstance(body, dict):
        return None
    path = _relative(getattr(request.scope.get("route"), "path", ""))
    if path == "/runs":
        return str(body.get("id")) if body.get("id") else None
    if path == "/steps":
        return str(body.get("run_id")) if body.get("run_id") else None
    if path == "/metadata":
        if body.get("resource_type") == "run":
            return str(body.get("resource_id"))
        if body.get("resource_type") == "step_run":
            return await run_in_threadpool(_run_of_step, request, str(body.get("resource_id")))
    return None


def _run_of_step(request: Request, step_run_id: str) -> str | None:
    from runyard.workspace.db.models import StepRunRow

    try:
        sid = uuid.UUID(step_run_id)
    except ValueError:
        return None
    with request.app.state.database.get().session(write=False) as session:
        row = session.get(StepRunRow, sid)
        return str(row.run_id) if row is not None else None


def _relative(path: str) -> str:
    return path.removeprefix("/api/v1")


class AuditMiddleware:
    """Emits the audit entry an authorized write or secret read asked for (``request.state.audit``) once it
    succeeded; GETs outside the audited prefixes pass straight through."""

    def __init__(self, app: ASGIApp, *, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "GET"
                                       and not scope["path"].startswith(_AUDITED_READ_PREFIXES)):
            await self.app(scope, receive, send)
            return
        status = 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        pending = scope.get("state", {}).get("audit")
        if pending is not None and status < 400:
            action, principal = pending
            request = Request(scope)
            self.authenticator.emit(request, action=action, outcome="success", principal=principal,
                                    target=request.url.path.removeprefix("/api/v1")[:300])


def install_auth(app: FastAPI, authenticator: Authenticator | None) -> None:
    """Turns authentication on for a Workspace Server app (``None`` leaves the local single user)."""
    app.state.authenticator = authenticator
    if authenticator is not None:
        app.add_middleware(AuditMiddleware, authenticator=authenticator)
