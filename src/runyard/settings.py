"""The one settings tree of Runyard, read from ``RUNYARD_*`` environment variables.

Every setting is greppable here, has a description and can be overridden by the environment, e.g.
``RUNYARD_HOME=/tmp/ry`` or ``RUNYARD_URL=http://127.0.0.1:8080``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from runyard.exceptions import InvalidInput

ENV_PREFIX = "RUNYARD_"


class Settings(BaseModel):
    """Every field ``name`` is read from ``RUNYARD_<NAME>`` by :meth:`from_env`.

    Read with plain pydantic rather than pydantic-settings: that package costs ~30 ms of start-up in every
    process (the CLI, each pipeline script) for features we do not use (dotenv, secrets dirs, JSON values).
    """

    model_config = ConfigDict(extra="ignore")

    home: Path = Field(
        default=Path("~/.runyard"),
        description="Where the embedded workspace database, client config and local artifacts live.",
    )
    url: str | None = Field(
        default=None, description="Workspace Server URL; when set, the client talks HTTP instead of in-process."
    )
    api_key: str | None = Field(default=None, description="API key sent to the Workspace Server.")
    project: str | None = Field(
        default=None,
        description="The project the client works in (pipelines, runs, artifacts, stacks); default: the "
        "`project` in RUNYARD_HOME/client.json, else `default`.",
    )
    database_url: str | None = Field(
        default=None,
        description="Workspace database for the embedded workspace or `runyard up` (default: SQLite in home).",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=30_000, description="How long a SQLite writer waits for another process's lock."
    )
    local_service: bool = Field(
        default=True,
        description="Reach the embedded SQLite workspace through a resident local service over a Unix socket "
        "(started on first use, exits when idle), so pipeline processes start fast; 0 opens the database "
        "in-process.",
    )
    local_service_idle_s: float = Field(
        default=300.0, gt=0, description="The local workspace service exits after this long without a client."
    )
    local_service_spin_s: float = Field(
        default=0.002, ge=0, le=0.1,
        description="A client polls this long for the local service's answer before sleeping on it: waking "
        "an idle CPU costs more than a round trip (0 never polls).",
    )
    http_timeout_s: float = Field(default=30.0, description="Timeout of one HTTP request to the server.")
    http_retries: int = Field(default=5, description="Retries on connection errors and 5xx, with backoff.")
    capture_logs: bool = Field(
        default=True, description="Capture what steps print and log into the stack's log backend."
    )
    log_level: str = Field(default="INFO", description="Level of Runyard's own console messages.")
    server_heartbeat_timeout_s: float = Field(
        default=300.0,
        description="The Workspace Server marks failed a running run whose runner sent no heartbeat for this long.",
    )
    server_reaper_interval_s: float = Field(
        default=30.0, description="How often the Workspace Server looks for runs whose runner went silent."
    )
    server_max_body_bytes: int = Field(
        default=10 * 1024 * 1024, description="Largest request body the Workspace Server accepts (413 above)."
    )

    # --- secrets (runyard.secrets) ---
    secrets_key: SecretStr | None = Field(
        default=None,
        description="Key(s) encrypting secret values in the workspace database: URL-safe base64 of 32 bytes, "
        "comma-separated while rotating (the first encrypts). Default: a random key kept in home/secrets.key, "
        "mode 0600. Read where the workspace runs (the server, or this process for the embedded workspace).",
    )
    secrets_store: str = Field(
        default="database",
        description="Secret store flavor that keeps the values of new secrets (entry point group "
        "`runyard.secret_stores`); `database`: encrypted in the workspace database; `aws`: AWS Secrets Manager "
        "(region, credentials and endpoint from the usual AWS_* variables; needs `runyard[aws]`).",
    )
    secrets_aws_prefix: str = Field(
        default="runyard/", description="Name prefix of the AWS Secrets Manager secrets the `aws` store makes."
    )

    # --- authentication and the control plane (runyard.control_plane) ---
    auth: Literal["none", "control_plane", "all_in_one"] = Field(
        default="none",
        description="`control_plane`: every workspace API and dashboard route requires a token signed by the "
        "control plane at RUNYARD_CONTROL_PLANE_URL (or an API key); `all_in_one`: the same, with the control "
        "plane served by this very process (`runyard up --admin-email ...`); `none`: the local single user, "
        "loopback only.",
    )
    control_plane_url: str | None = Field(
        default=None, description="Control plane URL a Workspace Server fetches keys (JWKS) and revocations from."
    )
    workspace_audience: str | None = Field(
        default=None, description="The `aud` this Workspace Server accepts in tokens (registered in the control plane)."
    )
    control_plane_database_url: str | None = Field(
        default=None, description="Control-plane database (default: SQLite `control-plane.db` in home)."
    )
    control_plane_issuer: str = Field(default="runyard-control-plane", description="`iss` of issued tokens.")
    control_plane_secret_key: SecretStr | None = Field(
        default=None,
        description="Encrypts the token-signing keys at rest and signs browser cookies (default: a random key "
        "kept in home/control-plane.secret, mode 0600).",
    )
    access_token_ttl_s: int = Field(default=600, ge=30, le=900, description="Lifetime of an access token (<= 15 min).")
    refresh_token_ttl_s: int = Field(default=30 * 86400, description="Lifetime of a login (refresh token) session.")
    workload_token_ttl_s: int = Field(
        default=24 * 3600, description="Longest life of a run's workload token (it also ends when the run ends)."
    )
    jwks_min_refresh_s: float = Field(
        default=10.0, description="A workspace refetches the JWKS on an unknown `kid` at most this often."
    )
    revocation_poll_s: float = Field(
        default=30.0, description="How often a workspace polls the control plane's revocation list."
    )
    audit_api_key: SecretStr | None = Field(
        default=None,
        description="API key of a service account with `audit:create`: a split Workspace Server forwards its audit "
        "events to the control plane with it (without it they go to the `runyard.audit` logger).",
    )
    password_hash_memory_kib: int = Field(
        default=65536, ge=8192, description="argon2id memory cost of password hashes (RFC 9106: 64 MiB)."
    )
    password_hash_time_cost: int = Field(default=3, ge=1, description="argon2id passes over that memory.")
    admin_email: str | None = Field(default=None, description="First admin created by `runyard up` if none exists.")
    admin_password: SecretStr | None = Field(default=None, description="Password of that first admin.")
    oidc_issuer: str | None = Field(default=None, description="OpenID Connect provider for SSO (its issuer URL).")
    oidc_client_id: str | None = Field(default=None, description="Client id registered at the SSO provider.")
    oidc_client_secret: SecretStr | None = Field(default=None, description="Client secret at the SSO provider.")
    oidc_teams_claim: str = Field(default="groups", description="ID-token claim whose values name teams to join.")
    oidc_org: str = Field(default="default", description="Organization SSO users are provisioned into.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``RUNYARD_*`` variables (names are case-insensitive); a bad value names its variable."""
        environ = os.environ if environ is None else environ
        wanted = {ENV_PREFIX + name.upper(): name for name in cls.model_fields}
        values = {wanted[key.upper()]: raw for key, raw in environ.items() if key.upper() in wanted}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(_describe(err, values) for err in exc.errors())
            raise InvalidInput(
                f"Invalid Runyard setting: {problems}.", hint="Fix or unset that environment variable."
            ) from None

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


def _describe(err: ErrorDetails, values: Mapping[str, str]) -> str:
    """One bad variable, its value quoted unless it may be a credential (never echo those)."""
    field = str(err["loc"][0]) if err.get("loc") else "?"
    sensitive = any(word in field for word in ("secret", "password", "key"))
    shown = "" if sensitive else f"={values.get(field, '')!r}"
    return f"{ENV_PREFIX}{field.upper()}{shown}: {err['msg']}"


@functools.cache
def get_settings() -> Settings:
    """Settings are read once per process; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings.from_env()
