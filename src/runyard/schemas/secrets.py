"""Secrets: named sets of ``key -> value`` strings, encrypted at rest, their values read only on purpose.

Reading a secret's metadata (name, keys, description, who made it) and reading its values are two
operations with two permissions (``secrets:read`` and ``secrets:read_secret_values``), so a response
model that lists secrets can never carry a value. Models holding values hide them from ``repr`` and
from validation errors, so a value never lands in a traceback or a log line by accident.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import ConfigDict, Field, field_validator

from runyard.schemas.base import Entity, Schema
from runyard.schemas.pipelines import NAME_PATTERN

#: A key inside a secret: an identifier-like name (``password``, ``AWS_ACCESS_KEY_ID``, ``tls.key``).
KEY_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$"
MAX_KEYS = 100
#: The largest a secret's values may be together (UTF-8 bytes): AWS Secrets Manager's limit, too.
MAX_TOTAL_BYTES = 64 * 1024

SecretValues = dict[str, str]
_KEY = re.compile(KEY_PATTERN)


def check_values(values: SecretValues, *, allow_empty: bool = False) -> SecretValues:
    """Keys well formed, at least one key (unless ``allow_empty``), at most 64 KiB in all.

    Messages name keys and sizes, never a value.
    """
    if not values and not allow_empty:
        raise ValueError("a secret needs at least one KEY=VALUE")
    if len(values) > MAX_KEYS:
        raise ValueError(f"a secret holds at most {MAX_KEYS} keys ({len(values)} given)")
    bad = [k for k in values if not _KEY.match(k)]
    if bad:
        shown = ", ".join(repr(k[:40]) for k in bad[:3])
        raise ValueError(f"keys must be letters, digits, '_', '.' or '-' (1-100 characters): {shown}")
    total = sum(len(k.encode()) + len(v.encode("utf-8", "surrogatepass")) for k, v in values.items())
    if total > MAX_TOTAL_BYTES:
        raise ValueError(f"a secret's keys and values may hold at most {MAX_TOTAL_BYTES} bytes ({total} given)")
    return values


class _SecretInput(Schema):
    # a validation error must not quote the request: it may be the secret itself
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, hide_input_in_errors=True)


class SecretCreate(_SecretInput):
    name: str = Field(pattern=NAME_PATTERN, description="Unique in the workspace.")
    values: SecretValues = Field(repr=False, description="key -> value; at least one, 64 KiB at most in all.")
    description: str | None = Field(default=None, max_length=1000)

    @field_validator("values")
    @classmethod
    def _values(cls, values: SecretValues) -> SecretValues:
        return check_values(values)


class SecretUpdate(_SecretInput):
    """``values`` are merged into the stored ones (a key given again is replaced); ``remove_keys`` go."""

    values: SecretValues = Field(default_factory=dict, repr=False)
    remove_keys: list[str] = Field(default_factory=list, max_length=MAX_KEYS)
    description: str | None = Field(default=None, max_length=1000, description="Left unchanged when null.")

    @field_validator("values")
    @classmethod
    def _values(cls, values: SecretValues) -> SecretValues:
        return check_values(values, allow_empty=True)


class SecretRead(Entity):
    """A secret's metadata: never its values."""

    name: str
    description: str | None
    keys: list[str] = Field(description="The names of the values it holds (sorted).")
    store: str = Field(description="The secret store flavor holding the values, e.g. database.")
    created_by: str | None
    updated: datetime


class SecretValuesRead(SecretRead):
    """A secret with its values; only ``secrets-get_values`` answers with it (audited)."""

    values: SecretValues = Field(repr=False)
