"""Login and tokens: the token endpoint (RFC 6749), device authorization (RFC 8628), the published keys
and revocation list, logout, workload tokens, and ``/me``.

The token endpoint takes form fields, as OAuth clients send them. Its grants: ``password`` (email +
password), ``refresh_token``, ``api_key`` (an API key or personal access token, exchanged for a short
token), and the device code grant. ``audience`` picks the Workspace Server the token is for (default:
the control plane itself).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse

from runyard.control_plane.actor import Actor
from runyard.control_plane.api.deps import ControlPlaneDep, CurrentActor, request_actor
from runyard.control_plane.core import ControlPlane
from runyard.control_plane.db.models import OrganizationRow, ServiceAccountRow
from runyard.control_plane.schemas import (
    DeviceCodeResponse,
    Me,
    RevocationList,
    ServiceAccountRead,
    TokenResponse,
    UserRead,
    WorkloadTokenCreate,
)
from runyard.control_plane.services import audit, device, login_codes, orgs, sessions, tokens, users
from runyard.exceptions import InvalidInput, Unauthenticated

router = APIRouter(tags=["auth"])
AnonymousActor = Annotated[Actor, Depends(request_actor)]
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(code: str, description: str, status: int = 400) -> JSONResponse:
    """RFC 6749 5.2 error, with our ``message`` beside ``error_description`` so every client reads it."""
    return JSONResponse({"error": code, "error_description": description, "message": description},
                        status_code=status, headers=_NO_STORE)


def _tokens(access: str, ttl: int, refresh: str | None = None) -> JSONResponse:
    body = TokenResponse(access_token=access, expires_in=ttl, refresh_token=refresh)
    return JSONResponse(body.model_dump(exclude_none=True), headers=_NO_STORE)


@router.post("/api/v1/auth/token", operation_id="auth-token", response_model=TokenResponse)
def token(
    cp: ControlPlaneDep,
    actor: AnonymousActor,
    grant_type: Annotated[str, Form(max_length=100)],
    username: Annotated[str | None, Form(max_length=320)] = None,
    password: Annotated[str | None, Form(max_length=1024)] = None,
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
    api_key: Annotated[str | None, Form(max_length=200)] = None,
    device_code: Annotated[str | None, Form(max_length=200)] = None,
    audience: Annotated[str | None, Form(max_length=200)] = None,
    code: Annotated[str | None, Form(max_length=200)] = None,
    code_verifier: Annotated[str | None, Form(max_length=200)] = None,
    redirect_uri: Annotated[str | None, Form(max_length=500)] = None,
) -> JSONResponse:
    if grant_type == "authorization_code":  # a workspace dashboard's sign-in (split mode)
        return _code_grant(cp, actor, code or "", code_verifier or "", redirect_uri or "")
    if grant_type == "password":
        if not username or password is None:
            raise InvalidInput("The password grant needs username and password.")
        return _password_grant(cp, actor, username, password, audience)
    if grant_type == "refresh_token":
        with cp.db.session(write=True) as session:
            row = sessions.session_from_refresh(session, token=refresh_token or "")
            if row is None:
                raise Unauthenticated("The refresh token is invalid, expired or revoked.", hint="Log in again.")
            access, ttl = tokens.issue_for_session(session, keyring=cp.keyring, settings=cp.token_settings, row=row,
                                                   audience=audience)
        return _tokens(access, ttl)
    if grant_type == "api_key":
        access, ttl = cp.exchange_api_key(api_key or "", audience, actor=actor)
        return _tokens(access, ttl)
    if grant_type == DEVICE_GRANT:
        return _device_grant(cp, actor, device_code or "")
    return _oauth_error("unsupported_grant_type", "This grant type is not supported.")


def _password_grant(cp: ControlPlaneDep, actor: Actor, username: str, password: str,
                    audience: str | None) -> JSONResponse:
    with cp.db.session(write=True) as session:  # committed even on failure: the counter and audit entry
        user = users.authenticate_password(session, email=username, password=password, actor=actor)
        user_id = user.id if user is not None else None
    if user_id is None:
        raise Unauthenticated("Wrong email or password, or too many attempts: wait a minute and retry.")
    access, refresh, ttl = cp.login_token(user_id=user_id, audience=audience, method="password",
                                          actor=_user_actor(actor, user_id, username))
    return _tokens(access, ttl, refresh)


def _device_grant(cp: ControlPlaneDep, actor: Actor, device_code: str) -> JSONResponse:
    with cp.db.session(write=True) as session:
        result, row = device.poll(session, device_code=device_code)
        user_id = row.user_id if row is not None else None
        audience = row.audience if row is not None else None
    if result != "approved" or user_id is None:
        messages = {"authorization_pending": "Waiting for the user to approve.",
                    "slow_down": "Polling too fast; wait longer between polls.",
                    "access_denied": "The user denied the request.", "expired_token": "The code has expired."}
        return _oauth_error(result, messages.get(result, "Not approved."))
    access, refresh, ttl = cp.login_token(user_id=user_id, audience=audience, method="device",
                                          actor=_user_actor(actor, user_id, None))
    return _tokens(access, ttl, refresh)


def _code_grant(cp: ControlPlane, actor: Actor, code: str, verifier: str, redirect_uri: str) -> JSONResponse:
    """A one-time login code (``/workspace-login``) -> an access token of the browser's session, for the
    code's workspace only; no refresh token (the dashboard signs in again through the redirect)."""
    with cp.db.session(write=True) as session:
        row = login_codes.redeem(session, code=code, code_verifier=verifier, redirect_uri=redirect_uri)
        browser = sessions.get_session(session, session_id=row.session_id)
        access, ttl = tokens.issue_for_session(session, keyring=cp.keyring, settings=cp.token_settings, row=browser,
                                               audience=row.audience)
        audit.record(session, action="login.workspace", actor=_user_actor(actor, browser.subject_id, None),
                     org_id=users.primary_org(session, user_id=browser.subject_id), workspace=row.audience,
                     details={"method": "browser"})
    return _tokens(access, ttl)


def _user_actor(actor: Actor, user_id: uuid.UUID, name: str | None) -> Actor:
    return Actor(kind="user", id=user_id, name=name, ip=actor.ip, user_agent=actor.user_agent)


@router.post("/api/v1/auth/device/code", operation_id="auth-device_code", response_model=DeviceCodeResponse)
def device_code(request: Request, cp: ControlPlaneDep,
                audience: Annotated[str | None, Form(max_length=200)] = None,
                client_id: Annotated[str | None, Form(max_length=100)] = None) -> JSONResponse:
    with cp.db.session(write=True) as session:
        row, code = device.start(session, audience=audience)
        user_code = row.user_code
    base = str(request.base_url).rstrip("/")
    body = DeviceCodeResponse(device_code=code, user_code=user_code, verification_uri=f"{base}/device",
                              verification_uri_complete=f"{base}/device?user_code={user_code}",
                              expires_in=int(device.LIFETIME.total_seconds()), interval=device.INTERVAL_S)
    return JSONResponse(body.model_dump(), headers=_NO_STORE)


@router.post("/api/v1/auth/logout", operation_id="auth-logout", status_code=204)
def logout(actor: CurrentActor, cp: ControlPlaneDep) -> None:
    """Ends the caller's session: its refresh token and (within a poll interval) its access tokens."""
    if actor.session_id is None:
        raise InvalidInput("This credential has no session to end.", hint="Revoke an API key instead.")
    with cp.db.session(write=True) as session:
        row = sessions.get_session(session, session_id=actor.session_id)
        sessions.revoke_session(session, row=row, actor=actor)


@router.get("/.well-known/jwks.json", operation_id="auth-jwks")
def jwks(cp: ControlPlaneDep) -> JSONResponse:
    return JSONResponse(cp.jwks(), headers={"Cache-Control": "public, max-age=60"})


@router.get("/api/v1/revocations", operation_id="auth-revocations", response_model=RevocationList)
def revocations(cp: ControlPlaneDep) -> JSONResponse:
    """Public on purpose, like a CRL: it lists random ids, and every workspace must be able to read it."""
    return JSONResponse(cp.revocations(), headers={"Cache-Control": "no-cache"})


@router.post("/api/v1/auth/workload-token", operation_id="auth-workload_token", response_model=TokenResponse)
def workload_token(actor: CurrentActor, cp: ControlPlaneDep, body: WorkloadTokenCreate) -> JSONResponse:
    """A token for one run's writes in one workspace, for the orchestrator to hand to the run's steps."""
    assert actor.id is not None
    with cp.db.session(write=True) as session:
        creator = tokens.subject_of(session, subject_type=actor.subject_type, subject_id=actor.id)
        access, ttl = tokens.issue_workload(session, keyring=cp.keyring, settings=cp.token_settings, creator=creator,
                                           audience=body.audience, run_id=body.run_id, actor=actor,
                                           project=body.project)
    return _tokens(access, ttl)


@router.get("/api/v1/me", operation_id="auth-me")
def me(actor: CurrentActor, cp: ControlPlaneDep) -> Me:
    assert actor.id is not None
    with cp.db.session(write=False) as session:
        if actor.kind == "user":
            user = users.get_user(session, user_id=actor.id)
            names = [o.name for o in orgs.orgs_of_user(session, user_id=user.id)]
            return Me(user=UserRead.model_validate(user), service_account=None, organizations=names,
                      session_id=str(actor.session_id) if actor.session_id else None)
        account = session.get(ServiceAccountRow, actor.id)
        org = session.get(OrganizationRow, account.org_id) if account else None
        return Me(user=None, service_account=ServiceAccountRead.model_validate(account) if account else None,
                  organizations=[org.name] if org else [], session_id=None)

