"""The keys that encrypt secret values at rest (AES-256-GCM), and where they come from.

``RUNYARD_SECRETS_KEY`` holds one key, or several separated by commas: the first encrypts, every one
decrypts, so a key is rotated by putting the new one first and keeping the old one until every secret was
written again (``runyard secret rotate-key``). Without the setting, the embedded default keeps a random
key in ``RUNYARD_HOME/secrets.key`` (mode 0600), created on the first write. Keys never go into the
database: each encrypted row stores only the id of its key (a one-way digest), so a copy of the
database alone reveals nothing, and a missing or wrong key is named clearly instead of failing as
"corrupt data".

A key is 32 random bytes, written URL-safe base64 (``runyard secret generate-key`` prints one).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets as random_source
from dataclasses import dataclass
from pathlib import Path

from runyard.exceptions import SecretKeyError

KEY_FILE = "secrets.key"
_NONCE_BYTES = 12


def generate_key() -> str:
    """A new random key in the format ``RUNYARD_SECRETS_KEY`` expects."""
    return base64.urlsafe_b64encode(random_source.token_bytes(32)).decode()


def key_id(key: bytes) -> str:
    """A short, one-way name of a key, stored beside each ciphertext it made."""
    return hashlib.sha256(b"runyard-secrets-key-id:" + key).hexdigest()[:16]


def _decode(text: str, where: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise SecretKeyError(
            f"A key in {where} is not 32 bytes of URL-safe base64.",
            hint="Generate one with `runyard secret generate-key`.",
        )
    return raw


@dataclass(frozen=True)
class Keyring:
    """Keys by id; ``primary`` encrypts new values. ``source`` says where they came from, for messages."""

    keys: dict[str, bytes]
    primary: str | None
    source: str

    @classmethod
    def from_text(cls, text: str, source: str) -> Keyring:
        keys: dict[str, bytes] = {}
        for part in text.replace("\n", ",").split(","):
            if part.strip():
                raw = _decode(part, source)
                keys.setdefault(key_id(raw), raw)
        return cls(keys=keys, primary=next(iter(keys), None), source=source)

    def encrypt(self, plaintext: bytes, *, context: bytes) -> tuple[str, bytes]:
        """``(key id, nonce + ciphertext)``; ``context`` (the secret's id) is bound as associated data,
        so a ciphertext copied onto another secret's row does not decrypt."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if self.primary is None:
            raise SecretKeyError(f"No key to encrypt secrets with ({self.source} is empty).",
                                 hint="Set RUNYARD_SECRETS_KEY (see `runyard secret generate-key`).")
        nonce = os.urandom(_NONCE_BYTES)
        return self.primary, nonce + AESGCM(self.keys[self.primary]).encrypt(nonce, plaintext, context)

    def decrypt(self, kid: str, blob: bytes, *, context: bytes, name: str) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key = self.keys.get(kid)
        if key is None:
            raise SecretKeyError(
                f"Secret {name!r} was encrypted with key {kid}, which is not among the keys from {self.source}.",
                hint="Set RUNYARD_SECRETS_KEY to the key the workspace used (several keys may be given, "
                "comma-separated, while rotating).",
            )
        try:
            return AESGCM(key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], context)
        except InvalidTag:
            raise SecretKeyError(f"Secret {name!r} does not decrypt: its stored value was altered.",
                                 hint="Write the secret again (`runyard secret update`).") from None


def load_keyring(*, env_value: str | None, home: Path, create: bool) -> Keyring:
    """From ``RUNYARD_SECRETS_KEY`` if set, else the key file in ``home`` (made on the first write)."""
    if env_value is not None and env_value.strip():
        return Keyring.from_text(env_value, "RUNYARD_SECRETS_KEY")
    path = home / KEY_FILE
    source = f"{path} (RUNYARD_SECRETS_KEY is not set)"
    try:
        return Keyring.from_text(path.read_text(), source)
    except FileNotFoundError:
        if not create:
            return Keyring(keys={}, primary=None, source=source)
    path.parent.mkdir(parents=True, exist_ok=True)
    # written in full under a private name, then linked into place: no process ever reads a half-written
    # key, and when two create one at once, the first link wins and both use that key
    temp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{random_source.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(generate_key() + "\n")
        try:
            os.link(temp, path)
        except FileExistsError:
            pass
    finally:
        temp.unlink(missing_ok=True)
    return Keyring.from_text(path.read_text(), source)
