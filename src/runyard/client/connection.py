"""Picks the transport: a Workspace Server when a URL is configured, else the embedded workspace.

A SQLite workspace is reached through the local service unless ``RUNYARD_LOCAL_SERVICE=0``. A workspace on
PostgreSQL or MariaDB (``RUNYARD_DATABASE_URL``) is opened in-process: a resident process per user would hold
server connections for its idle time, and teams on such databases run ``runyard up`` anyway."""

from __future__ import annotations

import os
import socket
import threading

from runyard.client.config import ClientConfig
from runyard.client.transport import InProcessTransport, Transport
from runyard.client.workspace_api import WorkspaceAPI
from runyard.settings import get_settings

_lock = threading.Lock()
_api: WorkspaceAPI | None = None
_key: tuple[object, ...] | None = None


def make_transport() -> Transport:
    settings = get_settings()
    url = settings.url or ClientConfig.load().url
    if url:
        from runyard.client import credentials
        from runyard.client.http import HTTPTransport, normalize_url

        login = None if settings.api_key else credentials.load(normalize_url(url))  # from `runyard login`
        bearer = credentials.BearerSource(normalize_url(url), login) if login is not None else None
        return HTTPTransport(url, api_key=settings.api_key, timeout=settings.http_timeout_s,
                             retries=settings.http_retries, bearer=bearer)
    database_url = settings.workspace_database_url
    if settings.local_service and database_url.startswith("sqlite:///") and hasattr(socket, "AF_UNIX"):
        from runyard.client.local_service import LocalServiceTransport

        return LocalServiceTransport(database_url, home=settings.home_path,
                                     busy_timeout_ms=settings.sqlite_busy_timeout_ms,
                                     idle_s=settings.local_service_idle_s, spin_s=settings.local_service_spin_s)
    return InProcessTransport(settings.workspace_database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)


def workspace_api(*, records: bool = False) -> WorkspaceAPI:
    """The process-wide API client; rebuilt when the settings it depends on change.

    ``records=True``: the same connection, speaking plain records (what a pipeline run uses; see
    :class:`WorkspaceAPI`)."""
    global _api, _key
    key = _settings_key()
    with _lock:
        if _api is None or key != _key:
            _api = WorkspaceAPI(make_transport())
            _key = key
        api = _api
    return WorkspaceAPI(api.transport, api.project, records=True) if records else api


def adopt(transport: Transport) -> None:
    """Makes ``transport`` this process's connection, for the settings in force now.

    Why: a ``local_parallel`` worker inherits its parent's connection but must not use it when it holds a
    database in-process (see :mod:`runyard.execution.worker_relay`); a ``Client()`` made inside a step
    there then goes through the same relay as the step's own reports."""
    global _api, _key
    with _lock:
        _api = WorkspaceAPI(transport)
        _key = _settings_key()


def _settings_key() -> tuple[object, ...]:
    settings = get_settings()
    return (settings.url, settings.home, settings.database_url, settings.api_key, settings.project,
            settings.local_service)


def _after_fork_in_child() -> None:
    """A thread of the parent may have held the lock at the fork; the child has no such thread."""
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def reset() -> None:
    global _api, _key
    with _lock:
        if _api is not None:
            _api.transport.close()
        _api = None
        _key = None
