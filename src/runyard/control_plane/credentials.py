"""Opaque credentials: API keys (``ry_``), personal access tokens (``ryp_``) and refresh tokens (``ryr_``).

Format ``<kind>_<prefix>_<secret>``: the prefix (10 characters, random) finds the row and lets a person
tell keys apart in a listing; the secret (256 random bits) is stored only as its SHA-256. Comparing
hashes with :func:`hmac.compare_digest` keeps the check constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

API_KEY = "ry"
PAT = "ryp"
REFRESH = "ryr"
_ALPHABET = string.ascii_lowercase + string.digits
_FORMAT = re.compile(r"^(ry|ryp|ryr)_([a-z0-9]{10})_([A-Za-z0-9_-]{40,64})$")


@dataclass(frozen=True)
class Opaque:
    """A parsed credential: ``kind`` is ``ry``, ``ryp`` or ``ryr``."""

    kind: str
    prefix: str
    secret: str

    @property
    def secret_hash(self) -> str:
        return hash_secret(self.secret)

    def __str__(self) -> str:
        return f"{self.kind}_{self.prefix}_{self.secret}"

    def __repr__(self) -> str:  # never print the secret, even in a traceback
        return f"Opaque({self.kind}_{self.prefix}_***)"


def new_credential(kind: str) -> Opaque:
    prefix = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return Opaque(kind=kind, prefix=prefix, secret=secrets.token_urlsafe(32))


def parse_credential(value: str) -> Opaque | None:
    match = _FORMAT.match(value.strip())
    if match is None:
        return None
    return Opaque(kind=match.group(1), prefix=match.group(2), secret=match.group(3))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and not value.startswith(("ry_", "ryp_", "ryr_"))
