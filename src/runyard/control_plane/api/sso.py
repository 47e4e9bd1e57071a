"""Single sign-on with OpenID Connect: authorization code flow with PKCE (S256), through Authlib.

``/sso/login`` sends the browser to the provider with a fresh ``state``, ``nonce`` and PKCE verifier,
kept in a short-lived signed, ``HttpOnly`` cookie; ``/sso/callback`` checks the state, redeems the code
with the verifier, and verifies the ID token (signature against the provider's JWKS, ``iss``, ``aud``,
``exp``, ``nonce``) before provisioning the user and opening a browser session. The provider's endpoints
come from its discovery document.
"""

from __future__ import annotations

import functools
import html
import secrets
import warnings
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from runyard.control_plane.actor import Actor
from runyard.control_plane.api.deps import ControlPlaneDep, request_actor
from runyard.control_plane.api.pages import page, safe_next, start_browser_session
from runyard.control_plane.core import ControlPlane
from runyard.control_plane.services import audit, sso
from runyard.exceptions import ConfigurationError, RunyardError

router = APIRouter(include_in_schema=False)
FLOW_COOKIE = "ry_cp_sso"
FLOW_MAX_AGE_S = 600
SCOPES = "openid email profile groups"


@functools.lru_cache(maxsize=8)
def _discovery(issuer: str) -> dict[str, Any]:
    import httpx

    response = httpx.get(issuer.rstrip("/") + "/.well-known/openid-configuration", timeout=10)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    if data.get("issuer") != issuer.rstrip("/") and data.get("issuer") != issuer:
        raise ConfigurationError("The SSO provider's discovery document names another issuer.")
    return data


def _client(cp: ControlPlane, redirect_uri: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.integrations.httpx_client import OAuth2Client

    settings = cp.settings
    if not settings.oidc_issuer or not settings.oidc_client_id:
        raise ConfigurationError("SSO is not configured.", hint="Set RUNYARD_OIDC_ISSUER and RUNYARD_OIDC_CLIENT_ID.")
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
    return OAuth2Client(client_id=settings.oidc_client_id, client_secret=secret, scope=SCOPES,
                        redirect_uri=redirect_uri, code_challenge_method="S256", timeout=15)


def _flow_serializer(cp: ControlPlane) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(cp.secret, salt="runyard-cp-sso-flow")


def _redirect_uri(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/sso/callback"


@router.get("/sso/login")
def sso_login(request: Request, cp: ControlPlaneDep, next: str | None = None) -> Response:
    metadata = _discovery(str(cp.settings.oidc_issuer))
    client = _client(cp, _redirect_uri(request))
    state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    url, _ = client.create_authorization_url(metadata["authorization_endpoint"], state=state, nonce=nonce,
                                             code_verifier=verifier)
    response = RedirectResponse(url, status_code=303)
    flow = {"state": state, "nonce": nonce, "verifier": verifier, "next": safe_next(next)}
    response.set_cookie(FLOW_COOKIE, _flow_serializer(cp).dumps(flow), httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", max_age=FLOW_MAX_AGE_S, path="/sso")
    return response


@router.get("/sso/callback")
def sso_callback(request: Request, cp: ControlPlaneDep, code: str | None = None, state: str | None = None,
                 error: str | None = None) -> Response:
    actor = request_actor(request)
    try:
        flow = _flow_serializer(cp).loads(request.cookies.get(FLOW_COOKIE, ""), max_age=FLOW_MAX_AGE_S)
    except BadSignature:
        return _refuse(request, cp, actor, "The sign-in took too long or did not start here.")
    if error or not code or not state or not secrets.compare_digest(str(flow.get("state", "")), state):
        return _refuse(request, cp, actor, "The identity provider did not confirm the sign-in.")
    try:
        claims = _redeem(cp, request, code=code, verifier=str(flow["verifier"]), nonce=str(flow["nonce"]))
        groups = claims.get(cp.settings.oidc_teams_claim) or []
        with cp.db.session(write=True) as session:
            user = sso.provision(session, issuer=str(claims["iss"]), subject=str(claims["sub"]),
                                 email=claims.get("email"), email_verified=bool(claims.get("email_verified")),
                                 name=claims.get("name"), groups=list(groups) if isinstance(groups, list) else [],
                                 org_name=cp.settings.oidc_org, actor=actor)
            audit.record(session, action="login", actor=Actor(kind="user", id=user.id, name=user.email, ip=actor.ip,
                                                               user_agent=actor.user_agent),
                         target=f"user:{user.email}", details={"method": "sso"})
    except RunyardError as exc:
        return _refuse(request, cp, actor, exc.message)
    except Exception as exc:  # a provider answering garbage must not become a 500 with its details
        return _refuse(request, cp, actor, "The identity provider's answer could not be verified.",
                       reason=type(exc).__name__)
    response = RedirectResponse(str(flow.get("next") or "/device"), status_code=303)
    start_browser_session(response, request, cp, user, "sso", actor)
    response.delete_cookie(FLOW_COOKIE, path="/sso")
    return response


def _redeem(cp: ControlPlane, request: Request, *, code: str, verifier: str, nonce: str) -> dict[str, Any]:
    """Code + PKCE verifier -> tokens; the ID token verified against the provider's published keys."""
    import jwt

    issuer = str(cp.settings.oidc_issuer)
    metadata = _discovery(issuer)
    client = _client(cp, _redirect_uri(request))
    token = client.fetch_token(metadata["token_endpoint"], grant_type="authorization_code", code=code,
                               code_verifier=verifier)
    id_token = token.get("id_token")
    if not id_token:
        raise ConfigurationError("The identity provider returned no ID token.")
    signing_key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(id_token)
    algorithms = [a for a in metadata.get("id_token_signing_alg_values_supported", ["RS256"]) if a != "none"]
    claims: dict[str, Any] = jwt.decode(id_token, signing_key.key, algorithms=algorithms,
                                        audience=cp.settings.oidc_client_id, issuer=metadata["issuer"],
                                        options={"require": ["exp", "iat", "sub", "iss", "aud"]})
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise ConfigurationError("The ID token does not answer this sign-in (nonce mismatch).")
    if "email" not in claims and metadata.get("userinfo_endpoint"):
        info = client.get(metadata["userinfo_endpoint"]).json()
        if info.get("sub") == claims["sub"]:
            claims = {**info, **claims}
    return claims


def _refuse(request: Request, cp: ControlPlane, actor: Actor, message: str, reason: str | None = None,
            ) -> HTMLResponse:
    audit.record_in_own_transaction(cp.db, action="login", outcome="failure", actor=actor,
                                    details={"method": "sso", "reason": reason or message[:200]})
    again = f"<p><a href='/sso/login?next={quote('/device', safe='')}'>Try again</a></p>"
    return page(request, "Sign-in failed", f"<p>{html.escape(message)}</p>{again}", status=401)
