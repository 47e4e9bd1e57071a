"""Identities on SQLite and PostgreSQL: password policy and hashing, lockout, API keys and tokens at rest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from runyard.control_plane import passwords
from runyard.control_plane.actor import SYSTEM
from runyard.control_plane.core import ControlPlane
from runyard.control_plane.credentials import parse_credential
from runyard.control_plane.db.models import ApiKeyRow, AuditEventRow, SessionRow, UserRow
from runyard.control_plane.services import keys, orgs, sessions, users
from runyard.exceptions import Conflict, InvalidInput
from runyard.workspace.db.types import utcnow

GOOD = "violet kettle orbit 42"


@pytest.mark.parametrize("password, rule", [
    ("short pass", "shorter than 12"),
    ("alice@example.com", "email"),
    ("ALICE", "shorter"),
    ("Password1234", "common"),
    ("aaaaaaaaaaaaaaaa", "repetitive"),
    ("x" * 2000, "longer than"),
])
def test_password_policy_names_the_rule_and_never_the_password(password: str, rule: str) -> None:
    with pytest.raises(InvalidInput) as info:
        passwords.check_policy(password, email="alice@example.com")
    assert rule in info.value.message
    assert password not in info.value.headline


def test_the_email_local_part_is_refused_too() -> None:
    with pytest.raises(InvalidInput):
        passwords.check_policy("alice.wonderland", email="alice.wonderland@example.com")


def test_passwords_are_stored_as_argon2id_hashes(cp: ControlPlane) -> None:
    with cp.db.session(write=True) as s:
        user = users.create_user(s, email="Alice@Example.com", password=GOOD, actor=SYSTEM)
    with cp.db.session(write=False) as s:
        row = s.get(UserRow, user.id)
        assert row is not None and row.email == "alice@example.com"
        assert row.password_hash is not None and row.password_hash.startswith("$argon2id$")
        assert GOOD not in row.password_hash
    assert passwords.verify_password(GOOD, row.password_hash)
    assert not passwords.verify_password(GOOD + "!", row.password_hash)


def test_production_cost_is_rfc9106(monkeypatch: pytest.MonkeyPatch) -> None:
    from runyard.settings import Settings

    monkeypatch.delenv("RUNYARD_PASSWORD_HASH_MEMORY_KIB")
    monkeypatch.delenv("RUNYARD_PASSWORD_HASH_TIME_COST")
    settings = Settings()
    assert settings.password_hash_memory_kib == 65536 and settings.password_hash_time_cost == 3


def test_duplicate_email_conflicts(cp: ControlPlane) -> None:
    with cp.db.session(write=True) as s:
        users.create_user(s, email="bob@example.com", password=None, actor=SYSTEM)
    with pytest.raises(Conflict), cp.db.session(write=True) as s:
        users.create_user(s, email="BOB@example.com", password=None, actor=SYSTEM)


def test_five_failures_lock_the_account_and_backoff_doubles(cp: ControlPlane) -> None:
    with cp.db.session(write=True) as s:
        users.create_user(s, email="carol@example.com", password=GOOD, actor=SYSTEM)
    now = utcnow()
    for _ in range(5):
        with cp.db.session(write=True) as s:
            assert users.authenticate_password(s, email="carol@example.com", password="wrong one!!!", actor=SYSTEM,
                                               now=now) is None
    with cp.db.session(write=True) as s:  # locked: even the right password fails
        assert users.authenticate_password(s, email="carol@example.com", password=GOOD, actor=SYSTEM, now=now) is None
    with cp.db.session(write=False) as s:
        row = s.scalar(select(UserRow).where(UserRow.email == "carol@example.com"))
        assert row is not None and row.locked_until is not None
        assert timedelta(seconds=50) < row.locked_until - now <= timedelta(minutes=1)
    later = now + timedelta(minutes=2)
    with cp.db.session(write=True) as s:  # one more failure after the lock: two minutes
        assert users.authenticate_password(s, email="carol@example.com", password="wrong again!", actor=SYSTEM,
                                           now=later) is None
    with cp.db.session(write=False) as s:
        row = s.scalar(select(UserRow).where(UserRow.email == "carol@example.com"))
        assert row is not None and row.locked_until is not None
        assert row.locked_until - later == timedelta(minutes=2)
    much_later = later + timedelta(minutes=3)
    with cp.db.session(write=True) as s:
        assert users.authenticate_password(s, email="carol@example.com", password=GOOD, actor=SYSTEM,
                                           now=much_later) is not None
    with cp.db.session(write=False) as s:
        outcomes = [e.details.get("reason") for e in s.scalars(select(AuditEventRow).where(
            AuditEventRow.action == "login").order_by(AuditEventRow.time))]
    assert outcomes.count("bad_password") == 4 and "locked_now" in outcomes and "locked" in outcomes
    assert outcomes[-1] is None  # the final success


def test_unknown_email_fails_like_a_wrong_password(cp: ControlPlane) -> None:
    with cp.db.session(write=True) as s:
        assert users.authenticate_password(s, email="nobody@example.com", password=GOOD, actor=SYSTEM) is None


def _service_account(cp: ControlPlane):  # type: ignore[no-untyped-def]
    with cp.db.session(write=True) as s:
        org = orgs.create_org(s, name="acme", actor=SYSTEM)
        return org, keys.create_service_account(s, org_id=org.id, name="ci", description="", actor=SYSTEM)


def test_api_keys_are_shown_once_and_stored_hashed(cp: ControlPlane) -> None:
    org, sa = _service_account(cp)
    with cp.db.session(write=True) as s:
        new = keys.create_key(s, org_id=org.id, name="deploy", actor=SYSTEM, service_account=sa, expires_in_days=30)
    parsed = parse_credential(new.secret)
    assert parsed is not None and parsed.kind == "ry" and new.secret.startswith(f"ry_{new.row.prefix}_")
    assert parsed.secret not in repr(new) and parsed.secret not in repr(parsed)
    with cp.db.session(write=False) as s:
        row = s.get(ApiKeyRow, new.row.id)
        assert row is not None and parsed.secret not in row.secret_hash and len(row.secret_hash) == 64
        audit_text = " ".join(str(e.details) + str(e.target) for e in s.scalars(select(AuditEventRow)))
    assert parsed.secret not in audit_text
    with cp.db.session(write=True) as s:
        assert keys.authenticate_key(s, value=new.secret) is not None
        assert keys.authenticate_key(s, value=new.secret[:-1] + ("A" if new.secret[-1] != "A" else "B")) is None
        assert keys.authenticate_key(s, value="ry_zzzzzzzzzz_" + "a" * 43) is None


def test_expired_revoked_and_rotated_keys(cp: ControlPlane) -> None:
    org, sa = _service_account(cp)
    with cp.db.session(write=True) as s:
        old = keys.create_key(s, org_id=org.id, name="deploy", actor=SYSTEM, service_account=sa, expires_in_days=1)
    with cp.db.session(write=True) as s:
        assert keys.authenticate_key(s, value=old.secret, now=utcnow() + timedelta(days=2)) is None  # expired
        row = s.get(ApiKeyRow, old.row.id)
        assert row is not None
        new = keys.rotate_key(s, key=row, actor=SYSTEM, grace_s=60)
    with cp.db.session(write=True) as s:
        assert keys.authenticate_key(s, value=old.secret) is not None  # within the grace period
        assert keys.authenticate_key(s, value=old.secret, now=utcnow() + timedelta(seconds=61)) is None
        assert keys.authenticate_key(s, value=new.secret) is not None
        row = s.get(ApiKeyRow, new.row.id)
        assert row is not None and row.rotated_from == old.row.id
        keys.revoke_key(s, key=row, actor=SYSTEM)
    with cp.db.session(write=True) as s:
        assert keys.authenticate_key(s, value=new.secret) is None
    listed = cp.revocations()
    assert str(new.row.id) in listed["api_keys"]


def test_personal_access_tokens_belong_to_users(cp: ControlPlane) -> None:
    with cp.db.session(write=True) as s:
        org = orgs.create_org(s, name="acme", actor=SYSTEM)
        user = users.create_user(s, email="dana@example.com", password=None, actor=SYSTEM)
        new = keys.create_key(s, org_id=org.id, name="laptop", actor=SYSTEM, user=user)
    assert new.secret.startswith("ryp_")
    with cp.db.session(write=True) as s:
        found = keys.authenticate_key(s, value=new.secret)
        assert found is not None and found.user_id == user.id
        users.deactivate_user(s, user=s.get(UserRow, user.id), actor=SYSTEM, org_id=org.id)  # type: ignore[arg-type]
    with cp.db.session(write=True) as s:
        assert keys.authenticate_key(s, value=new.secret) is None  # a disabled owner's tokens stop


def test_refresh_tokens_are_stored_hashed_and_die_with_the_session(cp: ControlPlane) -> None:
    with cp.db.session(write=True) as s:
        user = users.create_user(s, email="erin@example.com", password=None, actor=SYSTEM)
        row, refresh = sessions.start_session(s, subject_type="user", subject_id=user.id, method="password",
                                              actor=SYSTEM, ttl=timedelta(days=1))
    assert refresh is not None and refresh.startswith("ryr_")
    with cp.db.session(write=True) as s:
        stored = s.get(SessionRow, row.id)
        assert stored is not None and stored.refresh_hash and refresh.split("_", 2)[2] not in stored.refresh_hash
        assert sessions.session_from_refresh(s, token=refresh) is not None
        sessions.revoke_session(s, row=stored, actor=SYSTEM)
    with cp.db.session(write=True) as s:
        assert sessions.session_from_refresh(s, token=refresh) is None
    assert str(row.id) in cp.revocations()["sessions"]
