"""Access tokens: claims, lifetimes, key rotation, JWKS caching, revocation polling, control plane down."""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

import jwt
import pytest
from cp_world import World

from runyard.control_plane.actor import SYSTEM
from runyard.control_plane.core import ControlPlane
from runyard.control_plane.services import sessions
from runyard.control_plane.services.tokens import CONTROL_PLANE_AUDIENCE
from runyard.control_plane.verifier import KeySource, TokenVerifier
from runyard.exceptions import PermissionDenied, ServerUnavailable, Unauthenticated


class CountingSource(KeySource):
    """Wraps the in-process control plane; counts calls and can play dead."""

    def __init__(self, cp: ControlPlane) -> None:
        self.cp = cp
        self.jwks_calls = 0
        self.revocation_calls = 0
        self.down = False

    def jwks(self) -> dict[str, Any]:
        self.jwks_calls += 1
        if self.down:
            raise ServerUnavailable("down")
        return self.cp.jwks()

    def revocations(self) -> dict[str, Any]:
        self.revocation_calls += 1
        if self.down:
            raise ServerUnavailable("down")
        return self.cp.revocations()

    def exchange_api_key(self, key: str, audience: str) -> str:
        if self.down:
            raise ServerUnavailable("down")
        return self.cp.exchange_api_key(key, audience)[0]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _verifier(world: World, source: KeySource, clock: Clock | None = None, **kw: Any) -> TokenVerifier:
    return TokenVerifier(source, audience=world.ws_a.audience, issuer=world.cp.token_settings.issuer,
                         clock=clock or time.monotonic, **kw)


def test_claims_and_lifetime(world: World) -> None:
    token = world.token("developer")
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["kid"]
    claims = world.cp.verifier(world.ws_a.audience).verify(token)
    assert claims["sub"] == f"user:{world.users['developer'].id}" and claims["kind"] == "user"
    assert claims["aud"] == world.ws_a.audience and claims["org"] == str(world.org.id)
    assert claims["roles"] == ["developer"] and "runs:create" in claims["perms"] and "runs:read" in claims["perms"]
    assert claims["sid"] and claims["jti"] and claims["iat"] <= time.time() + 1
    assert 0 < claims["exp"] - claims["iat"] <= 900


def test_project_grants_are_listed_per_project_not_workspace_wide(world: World) -> None:
    claims = world.cp.verifier(world.ws_a.audience).verify(world.token("project"))
    assert claims["perms"] == [] and "runs:create" in claims["proj"]["p1"]


def test_no_token_for_a_workspace_without_grants(world: World) -> None:
    with pytest.raises(PermissionDenied):
        world.token("other_ws", "a")
    with pytest.raises(PermissionDenied):
        world.token("developer", "b")


def test_rotation_keeps_the_previous_key_published(world: World) -> None:
    old_token = world.token("viewer")
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    with world.cp.db.session(write=True) as s:
        new_kid = world.cp.keyring.rotate(s)
    new_token = world.token("viewer")
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid != old_kid
    assert {k["kid"] for k in world.cp.jwks()["keys"]} == {old_kid, new_kid}
    verifier = world.cp.verifier(world.ws_a.audience)
    assert verifier.verify(old_token)["sub"] == verifier.verify(new_token)["sub"]
    assert all("d" not in k for k in world.cp.jwks()["keys"])  # never a private part


def test_unknown_kid_refetches_at_most_every_n_seconds(world: World) -> None:
    source, clock = CountingSource(world.cp), Clock()
    verifier = _verifier(world, source, clock, min_refresh_s=10)
    verifier.verify(world.token("viewer"))
    assert source.jwks_calls == 1
    with world.cp.db.session(write=True) as s:
        world.cp.keyring.rotate(s)
    rotated = world.token("viewer")
    clock.now += 1  # too soon after the last fetch: refused without asking the control plane
    with pytest.raises(Unauthenticated):
        verifier.verify(rotated)
    assert source.jwks_calls == 1
    clock.now += 10
    assert verifier.verify(rotated)
    assert source.jwks_calls == 2
    for _ in range(20):
        with pytest.raises(Unauthenticated):  # a flood of made-up kids costs at most one fetch per interval
            verifier.verify(jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256", headers={"kid": "nope"}))
    assert source.jwks_calls == 2


def test_revocation_reaches_the_workspace_within_the_poll_interval(world: World) -> None:
    source, clock = CountingSource(world.cp), Clock()
    verifier = _verifier(world, source, clock, poll_s=30)
    token, _ = world.session_token("developer")
    claims = verifier.verify(token)
    with world.cp.db.session(write=True) as s:
        sessions.revoke_session(s, row=sessions.get_session(s, session_id=uuid.UUID(claims["sid"])), actor=SYSTEM)
    assert verifier.verify(token)  # not yet polled: still accepted
    clock.now += 31
    with contextlib.suppress(Unauthenticated):  # triggers the background poll (which may win the race)
        verifier.verify(token)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and str(claims["sid"]) not in verifier._revoked_sessions:
        time.sleep(0.01)
    with pytest.raises(Unauthenticated, match="revoked"):
        verifier.verify(token)


def test_a_workspace_keeps_serving_issued_tokens_when_the_control_plane_is_down(world: World) -> None:
    source, clock = CountingSource(world.cp), Clock()
    verifier = _verifier(world, source, clock, poll_s=30)
    token = world.token("developer")
    verifier.verify(token)
    source.down = True
    clock.now += 120
    for _ in range(3):
        assert verifier.verify(token)["sub"].startswith("user:")
        time.sleep(0.05)


def test_a_cold_workspace_with_the_control_plane_down_answers_unavailable(world: World) -> None:
    source = CountingSource(world.cp)
    source.down = True
    with pytest.raises(ServerUnavailable):
        _verifier(world, source).verify(world.token("developer"))


def test_control_plane_tokens_are_not_workspace_tokens(world: World) -> None:
    cp_token = world.cp.login_token(user_id=world.users["admin"].id, audience=None)[0]
    assert jwt.decode(cp_token, options={"verify_signature": False})["aud"] == CONTROL_PLANE_AUDIENCE
    with pytest.raises(Unauthenticated):
        world.cp.verifier(world.ws_a.audience).verify(cp_token)


def test_api_key_exchange_is_capped_by_key_expiry(world: World) -> None:
    token, ttl = world.cp.exchange_api_key(world.api_key, world.ws_a.audience)
    claims = world.cp.verifier(world.ws_a.audience).verify(token)
    assert claims["kind"] == "service_account" and claims["akid"] == str(world.api_key_id)
    assert "sid" not in claims and ttl <= 900


def test_after_an_idle_spell_the_first_request_already_sees_the_revocation(world: World) -> None:
    source, clock = CountingSource(world.cp), Clock()
    verifier = _verifier(world, source, clock, poll_s=30)
    token, _ = world.session_token("developer")
    claims = verifier.verify(token)
    with world.cp.db.session(write=True) as s:
        sessions.revoke_session(s, row=sessions.get_session(s, session_id=uuid.UUID(claims["sid"])), actor=SYSTEM)
    clock.now += 600  # nobody called for ten minutes
    with pytest.raises(Unauthenticated, match="revoked"):
        verifier.verify(token)
