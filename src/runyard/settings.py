"""The one settings tree of Runyard, read from ``RUNYARD_*`` environment variables.

Every setting is greppable here, has a description and can be overridden by the environment, e.g.
``RUNYARD_HOME=/tmp/ry`` or ``RUNYARD_URL=http://127.0.0.1:8080``.

Every process (the CLI, each pipeline script, the local service) reads these settings first, so this module
imports nothing heavy: no pydantic (60-120 ms of start-up). The few conversions it needs (bool, int, float,
path, choice, secret) and the ``gt``/``ge``/``le`` bounds are written out here instead.
"""

from __future__ import annotations

import functools
import math
import os
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from runyard.exceptions import InvalidInput

ENV_PREFIX = "RUNYARD_"
#: Words marking a setting whose value may be a credential: errors never echo its value.
_SENSITIVE_WORDS = ("secret", "password", "key")
_TRUE = frozenset({"1", "t", "y", "on", "yes", "true"})
_FALSE = frozenset({"0", "f", "n", "no", "off", "false"})


class SecretValue:
    """A credential read from the environment: ``repr``/``str`` mask it so logs and tracebacks never show it.

    Stands in for ``pydantic.SecretStr`` (same ``get_secret_value()``, masking, equality and length) so that
    reading settings needs no pydantic.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __repr__(self) -> str:
        return f"SecretValue({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretValue) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)


class SettingField:
    """What one setting is: its type (from the annotation on :class:`Settings`), default, description, bounds.

    Read-only. A plain slotted class, not a dataclass: building a dataclass costs ~2 ms at import.
    """

    __slots__ = ("choices", "default", "description", "ge", "gt", "kind", "le", "name", "optional")

    name: str
    default: Any
    description: str
    #: ``bool``, ``int``, ``float``, ``str``, ``Path`` or :class:`SecretValue`.
    kind: type
    #: Whether ``None`` is allowed (``str | None``).
    optional: bool
    #: The allowed values of a ``Literal[...]`` setting (then ``kind`` is ``str``).
    choices: tuple[str, ...]
    gt: float | None
    ge: float | None
    le: float | None

    def __init__(self, *, name: str, default: Any, description: str, kind: type = str, optional: bool = False,
                 choices: tuple[str, ...] = (), gt: float | None = None, ge: float | None = None,
                 le: float | None = None) -> None:
        values = {"name": name, "default": default, "description": description, "kind": kind,
                  "optional": optional, "choices": choices, "gt": gt, "ge": ge, "le": le}
        for part, value in values.items():
            object.__setattr__(self, part, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SettingField is read-only (setting {name!r})")

    def __repr__(self) -> str:
        parts = ("name", "kind", "optional", "choices", "default", "gt", "ge", "le", "description")
        shown = ", ".join(f"{part}={getattr(self, part)!r}" for part in parts)
        return f"SettingField({shown})"

    def typed(self, name: str, kind: type, *, optional: bool, choices: tuple[str, ...]) -> SettingField:
        """This declaration completed with its attribute name and the type read from its annotation."""
        return SettingField(name=name, default=self.default, description=self.description, kind=kind,
                            optional=optional, choices=choices, gt=self.gt, ge=self.ge, le=self.le)

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def sensitive(self) -> bool:
        """Whether an error may not show the value (a secret, or a name that sounds like a credential)."""
        return self.kind is SecretValue or any(word in self.name for word in _SENSITIVE_WORDS)

    def convert(self, value: object) -> Any:
        """``value`` (an environment string, or a keyword argument) as this setting's type, within its bounds.

        Raises ``ValueError`` with a message that never contains the value.
        """
        if value is None and self.optional:
            return None
        if self.choices:
            if value not in self.choices:
                allowed = ", ".join(repr(c) for c in self.choices[:-1]) + f" or {self.choices[-1]!r}"
                raise ValueError(f"Input should be {allowed}")
            return value
        converted = _CONVERTERS[self.kind](value)
        if self.gt is not None and not converted > self.gt:
            raise ValueError(f"Input should be greater than {_number(self.gt)}")
        if self.ge is not None and not converted >= self.ge:
            raise ValueError(f"Input should be greater than or equal to {_number(self.ge)}")
        if self.le is not None and not converted <= self.le:
            raise ValueError(f"Input should be less than or equal to {_number(self.le)}")
        return converted


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = value.strip().lower() if isinstance(value, str) else None
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError("Input should be a valid boolean (1/0, true/false, yes/no, on/off)")


def _to_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError("Input should be a valid integer")


def _to_float(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError("Input should be a valid number") from None
    else:
        raise ValueError("Input should be a valid number")
    if math.isnan(number):
        raise ValueError("Input should be a number, not NaN")
    return number


def _to_str(value: object) -> str:
    if isinstance(value, str):
        return value
    raise ValueError("Input should be a valid string")


def _to_path(value: object) -> Path:
    if isinstance(value, str | os.PathLike):
        return Path(value)
    raise ValueError("Input should be a valid path")


def _to_secret(value: object) -> SecretValue:
    if isinstance(value, SecretValue):
        return value
    if isinstance(value, str):
        return SecretValue(value)
    raise ValueError("Input should be a valid string")


_CONVERTERS: dict[type, Callable[[object], Any]] = {
    bool: _to_bool, int: _to_int, float: _to_float, str: _to_str, Path: _to_path, SecretValue: _to_secret,
}


def setting(*, default: Any, description: str, gt: float | None = None, ge: float | None = None,
            le: float | None = None) -> Any:
    """Declare one setting in the body of :class:`Settings`; its type is the attribute's annotation.

    Typed ``Any`` so that ``home: Path = setting(...)`` type-checks; the declaration is replaced by a complete
    :class:`SettingField` once the class exists.
    """
    return SettingField(name="", default=default, description=description, gt=gt, ge=ge, le=le)


class Settings:
    """Every field ``name`` is read from ``RUNYARD_<NAME>`` by :meth:`from_env`; ``Settings(**values)`` takes
    the same names as keywords (converted and checked the same way), anything left out keeps its default.

    A plain class filled from :meth:`fields` rather than a pydantic model or a dataclass: each pipeline process
    reads settings at start-up, and importing pydantic there cost 60-120 ms. Read-only once built, since
    :func:`get_settings` shares one instance with the whole process.
    """

    home: Path = setting(
        default=Path("~/.runyard"),
        description="Where the embedded workspace database, client config and local artifacts live.",
    )
    url: str | None = setting(
        default=None, description="Workspace Server URL; when set, the client talks HTTP instead of in-process."
    )
    api_key: str | None = setting(default=None, description="API key sent to the Workspace Server.")
    project: str | None = setting(
        default=None,
        description="The project the client works in (pipelines, runs, artifacts, stacks); default: the "
        "`project` in RUNYARD_HOME/client.json, else `default`.",
    )
    database_url: str | None = setting(
        default=None,
        description="Workspace database for the embedded workspace or `runyard up` (default: SQLite in home).",
    )
    sqlite_busy_timeout_ms: int = setting(
        default=30_000, description="How long a SQLite writer waits for another process's lock."
    )
    local_service: bool = setting(
        default=True,
        description="Reach the embedded SQLite workspace through a resident local service over a Unix socket "
        "(started on first use, exits when idle), so pipeline processes start fast; 0 opens the database "
        "in-process.",
    )
    local_service_idle_s: float = setting(
        default=300.0, gt=0, description="The local workspace service exits after this long without a client."
    )
    local_service_spin_s: float = setting(
        default=0.002, ge=0, le=0.1,
        description="A client polls this long for the local service's answer before sleeping on it: waking "
        "an idle CPU costs more than a round trip (0 never polls).",
    )
    http_timeout_s: float = setting(default=30.0, description="Timeout of one HTTP request to the server.")
    http_retries: int = setting(default=5, description="Retries on connection errors and 5xx, with backoff.")
    capture_logs: bool = setting(
        default=True, description="Capture what steps print and log into the stack's log backend."
    )
    log_level: str = setting(default="INFO", description="Level of Runyard's own console messages.")
    server_heartbeat_timeout_s: float = setting(
        default=300.0,
        description="The Workspace Server marks failed a running run whose runner sent no heartbeat for this long.",
    )
    server_reaper_interval_s: float = setting(
        default=30.0, description="How often the Workspace Server looks for runs whose runner went silent."
    )
    server_max_body_bytes: int = setting(
        default=10 * 1024 * 1024, description="Largest request body the Workspace Server accepts (413 above)."
    )

    # --- secrets (runyard.secrets) ---
    secrets_key: SecretValue | None = setting(
        default=None,
        description="Key(s) encrypting secret values in the workspace database: URL-safe base64 of 32 bytes, "
        "comma-separated while rotating (the first encrypts). Default: a random key kept in home/secrets.key, "
        "mode 0600. Read where the workspace runs (the server, or this process for the embedded workspace).",
    )
    secrets_store: str = setting(
        default="database",
        description="Secret store flavor that keeps the values of new secrets (entry point group "
        "`runyard.secret_stores`); `database`: encrypted in the workspace database; `aws`: AWS Secrets Manager "
        "(region, credentials and endpoint from the usual AWS_* variables; needs `runyard[aws]`).",
    )
    secrets_aws_prefix: str = setting(
        default="runyard/", description="Name prefix of the AWS Secrets Manager secrets the `aws` store makes."
    )

    # --- authentication and the control plane (runyard.control_plane) ---
    auth: Literal["none", "control_plane", "all_in_one"] = setting(
        default="none",
        description="`control_plane`: every workspace API and dashboard route requires a token signed by the "
        "control plane at RUNYARD_CONTROL_PLANE_URL (or an API key); `all_in_one`: the same, with the control "
        "plane served by this very process (`runyard up --admin-email ...`); `none`: the local single user, "
        "loopback only.",
    )
    control_plane_url: str | None = setting(
        default=None, description="Control plane URL a Workspace Server fetches keys (JWKS) and revocations from."
    )
    workspace_audience: str | None = setting(
        default=None, description="The `aud` this Workspace Server accepts in tokens (registered in the control plane)."
    )
    control_plane_database_url: str | None = setting(
        default=None, description="Control-plane database (default: SQLite `control-plane.db` in home)."
    )
    control_plane_issuer: str = setting(default="runyard-control-plane", description="`iss` of issued tokens.")
    control_plane_secret_key: SecretValue | None = setting(
        default=None,
        description="Encrypts the token-signing keys at rest and signs browser cookies (default: a random key "
        "kept in home/control-plane.secret, mode 0600).",
    )
    access_token_ttl_s: int = setting(
        default=600, ge=30, le=900, description="Lifetime of an access token (<= 15 min)."
    )
    refresh_token_ttl_s: int = setting(default=30 * 86400, description="Lifetime of a login (refresh token) session.")
    workload_token_ttl_s: int = setting(
        default=24 * 3600, description="Longest life of a run's workload token (it also ends when the run ends)."
    )
    jwks_min_refresh_s: float = setting(
        default=10.0, description="A workspace refetches the JWKS on an unknown `kid` at most this often."
    )
    revocation_poll_s: float = setting(
        default=30.0, description="How often a workspace polls the control plane's revocation list."
    )
    audit_api_key: SecretValue | None = setting(
        default=None,
        description="API key of a service account with `audit:create`: a split Workspace Server forwards its audit "
        "events to the control plane with it (without it they go to the `runyard.audit` logger).",
    )
    password_hash_memory_kib: int = setting(
        default=65536, ge=8192, description="argon2id memory cost of password hashes (RFC 9106: 64 MiB)."
    )
    password_hash_time_cost: int = setting(default=3, ge=1, description="argon2id passes over that memory.")
    admin_email: str | None = setting(default=None, description="First admin created by `runyard up` if none exists.")
    admin_password: SecretValue | None = setting(default=None, description="Password of that first admin.")
    oidc_issuer: str | None = setting(default=None, description="OpenID Connect provider for SSO (its issuer URL).")
    oidc_client_id: str | None = setting(default=None, description="Client id registered at the SSO provider.")
    oidc_client_secret: SecretValue | None = setting(default=None, description="Client secret at the SSO provider.")
    oidc_teams_claim: str = setting(default="groups", description="ID-token claim whose values name teams to join.")
    oidc_org: str = setting(default="default", description="Organization SSO users are provisioned into.")

    def __init__(self, **values: object) -> None:
        unknown = sorted(set(values) - set(_FIELDS))
        if unknown:
            raise TypeError(f"Settings() got unknown setting(s): {', '.join(unknown)}")
        self.__dict__.update(_converted(values, label=lambda spec: spec.name, hint=None))

    @classmethod
    def fields(cls) -> Mapping[str, SettingField]:
        """Every setting by attribute name, in declaration order, with its type, default and description."""
        return MappingProxyType(_FIELDS)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``RUNYARD_*`` variables (names are case-insensitive); a bad value names its variable.

        Unknown ``RUNYARD_*`` variables are ignored (older or newer Runyard versions may set others).
        """
        environ = os.environ if environ is None else environ
        wanted = {spec.env_var: name for name, spec in _FIELDS.items()}
        values = {wanted[key.upper()]: raw for key, raw in environ.items() if key.upper() in wanted}
        settings = cls.__new__(cls)
        settings.__dict__.update(
            _converted(values, label=lambda spec: spec.env_var, hint="Fix or unset that environment variable.")
        )
        return settings

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Settings are read-only (setting {name!r}); build another Settings instead.")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Settings are read-only (deleting {name!r}).")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{name}={value!r}' for name, value in vars(self).items())})"

    @property
    def control_plane_db_url(self) -> str:
        return self.control_plane_database_url or f"sqlite:///{self.home_path / 'control-plane.db'}"

    @property
    def home_path(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def workspace_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_path / 'workspace.db'}"

    @property
    def artifacts_path(self) -> Path:
        return self.home_path / "artifacts"


def _collect(cls: type) -> dict[str, SettingField]:
    """The complete field specs of ``cls``: each ``setting(...)`` declaration typed by its annotation.

    The declarations are then removed from the class, so ``Settings.home`` is not a spec posing as a path.
    """
    annotations: dict[str, str] = cls.__annotations__  # strings, as this module has ``from __future__ import ...``
    # What typing.get_type_hints does, but once per distinct annotation (8, not 41): ~0.7 ms less at import.
    resolved = {text: eval(text, globals()) for text in set(annotations.values())}
    fields: dict[str, SettingField] = {}
    for name, declared in list(vars(cls).items()):
        if not isinstance(declared, SettingField):
            continue
        kind, optional, choices = resolved[annotations[name]], False, ()
        args = typing.get_args(kind)
        if type(None) in args:
            (kind,) = [arg for arg in args if arg is not type(None)]
            optional = True
        if typing.get_origin(kind) is Literal:
            choices, kind = typing.get_args(kind), str
        if kind not in _CONVERTERS:
            raise TypeError(f"Setting {name!r} has an unsupported type {annotations[name]!r}")
        fields[name] = declared.typed(name, kind, optional=optional, choices=choices)
        delattr(cls, name)
    return fields


def _converted(values: Mapping[str, object], *, label: Callable[[SettingField], str],
               hint: str | None) -> dict[str, Any]:
    """Every setting's value: ``values`` converted, defaults for the rest; one error lists every bad value."""
    converted: dict[str, Any] = {}
    problems: list[str] = []
    for name, spec in _FIELDS.items():
        if name not in values:
            converted[name] = spec.default
            continue
        try:
            converted[name] = spec.convert(values[name])
        except ValueError as exc:
            shown = "" if spec.sensitive else f"={values[name]!r}"  # never echo what may be a credential
            problems.append(f"{label(spec)}{shown}: {exc}")
    if problems:
        raise InvalidInput(f"Invalid Runyard setting: {'; '.join(problems)}.", hint=hint)
    return converted


_FIELDS = _collect(Settings)


@functools.cache
def get_settings() -> Settings:
    """Settings are read once per process; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings.from_env()
