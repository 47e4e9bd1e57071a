"""Token-signing keys: Ed25519 (``EdDSA``), rotated, and published as a JWKS.

The private keys live in the control-plane database as PKCS#8 encrypted with the control plane's secret
key (``RUNYARD_CONTROL_PLANE_SECRET_KEY``, or a random one kept in ``RUNYARD_HOME`` with mode 0600), so a
copy of the database alone cannot mint tokens. Every token names its key in the ``kid`` header. After a
rotation the previous public key stays published as long as a token it signed can still be valid, so
rotating never logs anybody out.

Ed25519 was chosen over ES256 for speed (verification is ~50 us) and because its signatures are
deterministic: no per-signature nonce whose reuse would leak the key.
"""

from __future__ import annotations

import base64
import os
import secrets
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from runyard.control_plane.db.models import SigningKeyRow
from runyard.settings import Settings
from runyard.workspace.db.types import utcnow

ALGORITHM = "EdDSA"
#: How long this process trusts its cached idea of the active key (other replicas may rotate).
_ACTIVE_CACHE_S = 30.0


def secret_key(settings: Settings) -> bytes:
    """The control plane's secret: from the settings, else a random one created once in ``RUNYARD_HOME``."""
    if settings.control_plane_secret_key is not None:
        return settings.control_plane_secret_key.get_secret_value().encode()
    path = settings.home_path / "control-plane.secret"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return Path(path).read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(value)
    return value


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(private: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": kid, "alg": ALGORITHM, "use": "sig"}


class KeyRing:
    """Signs with the active key; creates the first one on demand. One per control-plane process."""

    def __init__(self, secret: bytes, *, publish_retired_for: timedelta) -> None:
        self._secret = secret
        self._publish_retired_for = publish_retired_for
        self._lock = threading.Lock()
        self._active: tuple[str, Ed25519PrivateKey, float] | None = None

    def active(self, session: Session) -> tuple[str, Ed25519PrivateKey]:
        with self._lock:
            if self._active is not None and time.monotonic() - self._active[2] < _ACTIVE_CACHE_S:
                return self._active[0], self._active[1]
        row = session.scalar(select(SigningKeyRow).where(SigningKeyRow.retired_at.is_(None))
                             .order_by(SigningKeyRow.created.desc()).limit(1))
        if row is None:
            row = self._create(session)
        private = serialization.load_pem_private_key(row.private_pem.encode(), password=self._secret)
        assert isinstance(private, Ed25519PrivateKey)
        with self._lock:
            self._active = (row.kid, private, time.monotonic())
        return row.kid, private

    def rotate(self, session: Session) -> str:
        """Retires the active key (still published a while) and makes a new one active."""
        now = utcnow()
        for row in session.scalars(select(SigningKeyRow).where(SigningKeyRow.retired_at.is_(None))):
            row.retired_at = now
        row = self._create(session)
        with self._lock:
            self._active = None
        return row.kid

    def jwks(self, session: Session) -> dict[str, Any]:
        """Active keys and those retired recently enough that tokens they signed may still be valid."""
        horizon = utcnow() - self._publish_retired_for
        rows = session.scalars(select(SigningKeyRow).where(
            or_(SigningKeyRow.retired_at.is_(None), SigningKeyRow.retired_at > horizon))
            .order_by(SigningKeyRow.created.desc()))
        return {"keys": [row.public_jwk for row in rows]}

    def sign(self, session: Session, claims: dict[str, Any]) -> str:
        import jwt

        kid, private = self.active(session)
        return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid, "typ": "JWT"})

    def _create(self, session: Session) -> SigningKeyRow:
        private = Ed25519PrivateKey.generate()
        kid = f"k{utcnow():%Y%m%d}-{secrets.token_hex(4)}"
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.BestAvailableEncryption(self._secret))
        row = SigningKeyRow(kid=kid, algorithm=ALGORITHM, public_jwk=public_jwk(private, kid),
                            private_pem=pem.decode())
        session.add(row)
        session.flush()
        return row
