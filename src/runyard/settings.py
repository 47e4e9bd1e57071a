"""The one settings tree of Runyard, read from ``RUNYARD_*`` environment variables.

Every setting is greppable here, has a description and can be overridden by the environment, e.g.
``RUNYARD_HOME=/tmp/ry`` or ``RUNYARD_URL=http://127.0.0.1:8080``.
"""

from __future__ import annotations

import functools
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUNYARD_", extra="ignore")

    home: Path = Field(
        default=Path("~/.runyard"),
        description="Where the embedded workspace database, client config and local artifacts live.",
    )
    url: str | None = Field(
        default=None, description="Workspace Server URL; when set, the client talks HTTP instead of in-process."
    )
    api_key: str | None = Field(default=None, description="API key sent to the Workspace Server.")
    database_url: str | None = Field(
        default=None,
        description="Workspace database for the embedded workspace or `runyard up` (default: SQLite in home).",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=30_000, description="How long a SQLite writer waits for another process's lock."
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

    @property
    def home_path(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def workspace_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_path / 'workspace.db'}"

    @property
    def artifacts_path(self) -> Path:
        return self.home_path / "artifacts"


@functools.cache
def get_settings() -> Settings:
    """Settings are read once per process; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
