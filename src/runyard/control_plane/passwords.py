"""Password hashing (argon2id) and the password policy.

The defaults follow RFC 9106's second recommended option (argon2id, 64 MiB, 3 passes): slow enough that a
stolen hash table is expensive to crack, fast enough for an interactive login. Both costs are settings
(tests lower them); a hash made with other costs is upgraded at the next successful login.
:func:`verify_password` also runs on unknown emails (against a dummy hash) so the time a failed login
takes does not tell whether the account exists.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from runyard.exceptions import InvalidInput

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_LENGTH = 12
MAX_LENGTH = 1024  # hashing megabytes of "password" is a denial of service, not a password

#: The most common passwords of at least 12 characters (breach corpora); compared case-insensitively.
COMMON_PASSWORDS = frozenset({
    "123456789012", "1234567890123", "12345678910111", "password1234", "password12345", "password123456",
    "passwordpassword", "qwertyuiopas", "qwertyuiop123", "qwerty123456", "1q2w3e4r5t6y", "1qaz2wsx3edc",
    "abcdefghijkl", "abc123456789", "iloveyou1234", "letmein12345", "welcome12345", "administrator",
    "admin1234567", "changeme1234", "trustno1trustno1", "000000000000", "111111111111", "aaaaaaaaaaaa",
    "monkey123456", "football1234", "baseball1234", "superman1234", "starwars1234", "sunshine1234",
    "princess1234", "dragon123456", "passw0rd1234", "p@ssw0rd1234", "p@ssword1234", "qwertyqwerty",
    "asdfghjklzxc", "zaq12wsxcde3", "runyard12345", "runyardrunyard", "correcthorsebatterystaple",
})


def _hasher() -> PasswordHasher:
    from runyard.settings import get_settings

    settings = get_settings()
    return _hasher_for(settings.password_hash_memory_kib, settings.password_hash_time_cost)


@functools.cache
def _hasher_for(memory_kib: int, time_cost: int) -> PasswordHasher:
    from argon2 import PasswordHasher, Type

    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=4, type=Type.ID)


def _dummy_hash() -> str:
    return _dummy_for(id(_hasher()))


@functools.cache
def _dummy_for(_hasher_id: int) -> str:
    return str(_hasher().hash("not a real password, only here to spend the same time"))


def check_policy(password: str, *, email: str) -> None:
    """Raises :class:`InvalidInput` naming the rule a password breaks (never echoing the password)."""
    if len(password) < MIN_LENGTH:
        raise InvalidInput(f"The password is shorter than {MIN_LENGTH} characters.",
                           hint="Use a passphrase of a few unrelated words.")
    if len(password) > MAX_LENGTH:
        raise InvalidInput(f"The password is longer than {MAX_LENGTH} characters.")
    lowered = password.lower()
    local_part = email.lower().split("@", 1)[0]
    if lowered == email.lower() or lowered == local_part:
        raise InvalidInput("The password must not be the email address.")
    if lowered in COMMON_PASSWORDS or len(set(lowered)) < 4:
        raise InvalidInput("The password is too common or too repetitive.",
                           hint="Use a passphrase of a few unrelated words.")


def hash_password(password: str) -> str:
    return str(_hasher().hash(password))


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant-ish time: with no hash (unknown user, SSO-only user) a dummy hash is verified instead."""
    from argon2.exceptions import InvalidHashError, VerificationError

    if len(password) > MAX_LENGTH:
        return False
    try:
        ok = bool(_hasher().verify(password_hash or _dummy_hash(), password))
    except (VerificationError, InvalidHashError):
        return False
    return ok and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return bool(_hasher().check_needs_rehash(password_hash))
