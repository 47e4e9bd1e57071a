"""Logins the client keeps: ``RUNYARD_HOME/credentials.json``, readable by its owner only (mode 0600).

Per Workspace Server URL: the control plane to refresh tokens at, the workspace's audience, the refresh
token of the login session, and the current short-lived access token. The file is written atomically
(a temporary file created 0600, then renamed), so a crash never leaves a half-written or world-readable
copy. Nothing here ever logs or prints a token; ``repr`` hides them.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from runyard import exceptions as ex
from runyard.settings import get_settings

_REFRESH_MARGIN_S = 60


@dataclass
class Login:
    control_plane_url: str
    audience: str
    refresh_token: str | None = None
    access_token: str | None = None
    expires_at: float = 0.0

    def __repr__(self) -> str:
        return f"Login(control_plane_url={self.control_plane_url!r}, audience={self.audience!r}, tokens=***)"


def path() -> Path:
    return get_settings().home_path / "credentials.json"


def _load_all() -> dict[str, Any]:
    try:
        data = json.loads(path().read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load(url: str) -> Login | None:
    entry = _load_all().get(url)
    if not isinstance(entry, dict):
        return None
    if not isinstance(entry.get("control_plane_url"), str) or not isinstance(entry.get("audience"), str):
        return None
    return Login(control_plane_url=entry["control_plane_url"], audience=entry["audience"],
                 refresh_token=entry.get("refresh_token"), access_token=entry.get("access_token"),
                 expires_at=float(entry.get("expires_at") or 0))


def save(url: str, login: Login) -> None:
    data = _load_all()
    data[url] = asdict(login)
    _write(data)


def forget(url: str) -> Login | None:
    data = _load_all()
    previous = load(url)
    if data.pop(url, None) is not None:
        _write(data)
    return previous


def _write(data: dict[str, Any]) -> None:
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".credentials-")  # mkstemp creates it 0600
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class BearerSource:
    """Hands the HTTP transport a valid access token, refreshing it at the control plane when it is about
    to expire (or when the server said 401). Thread-safe; one per transport."""

    def __init__(self, url: str, login: Login) -> None:
        self.url = url
        self._login = login
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BearerSource({self.url!r})"

    def copy(self) -> BearerSource:
        """For a new process: same login, its own lock."""
        return BearerSource(self.url, Login(**asdict(self._login)))

    def token(self) -> str | None:
        with self._lock:
            if self._login.access_token and self._login.expires_at - time.time() > _REFRESH_MARGIN_S:
                return self._login.access_token
            if self._login.refresh_token:
                self._refresh()
            return self._login.access_token

    @property
    def control_plane_url(self) -> str:
        return self._login.control_plane_url

    @property
    def audience(self) -> str:
        return self._login.audience

    def control_plane_token(self) -> str:
        """A short token for the control plane's own API (e.g. to ask for a run's workload token)."""
        with self._lock:
            refresh = self._login.refresh_token
        if refresh is None:
            raise ex.Unauthenticated("This login cannot renew tokens.", hint=f"Run `runyard login {self.url}`.")
        token, _ = refresh_access_token(self._login.control_plane_url, refresh, None, login_hint=self.url)
        return token

    def invalidate(self) -> bool:
        """Forces a refresh at the next :meth:`token`; ``False`` if there is nothing to refresh with."""
        with self._lock:
            self._login.expires_at = 0.0
            return self._login.refresh_token is not None

    def _refresh(self) -> None:
        assert self._login.refresh_token is not None
        token, ttl = refresh_access_token(self._login.control_plane_url, self._login.refresh_token,
                                          self._login.audience, login_hint=self.url)
        self._login.access_token = token
        self._login.expires_at = time.time() + ttl
        save(self.url, self._login)


def refresh_access_token(control_plane_url: str, refresh_token: str, audience: str | None, *,
                         login_hint: str = "URL") -> tuple[str, float]:
    """A new access token for ``audience`` from the login session behind ``refresh_token``."""
    import httpx

    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if audience:
        data["audience"] = audience
    try:
        response = httpx.post(control_plane_url.rstrip("/") + "/api/v1/auth/token", data=data, timeout=15)
    except httpx.HTTPError as exc:
        raise ex.ServerUnavailable(f"Cannot reach the control plane at {control_plane_url} to renew the access "
                                   f"token ({type(exc).__name__}).") from None
    if response.status_code != 200:
        raise ex.Unauthenticated("The login has expired or was revoked.", hint=f"Run `runyard login {login_hint}`.")
    body = response.json()
    return str(body["access_token"]), float(body.get("expires_in", 300))
