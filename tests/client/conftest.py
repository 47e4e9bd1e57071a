"""Fixtures of the client tests: the HTTP transport against the real app (in-process, no socket)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

with warnings.catch_warnings():  # starlette asks for httpx2 instead of httpx; both work
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from runyard.client.http import HTTPTransport
from runyard.client.transport import InProcessTransport
from runyard.client.workspace_api import WorkspaceAPI
from runyard.workspace.app import create_app


@pytest.fixture
def test_client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def http_api(test_client: TestClient) -> WorkspaceAPI:
    """The typed API over HTTP, served by the real app on the parametrized database."""
    return WorkspaceAPI(HTTPTransport("http://testserver", client=test_client, retries=0))


@pytest.fixture
def local_api(database_url: str) -> WorkspaceAPI:
    """The same API in-process, on the same database."""
    return WorkspaceAPI(InProcessTransport(database_url))
