"""``Client()`` secrets over both transports (in-process and HTTP) on SQLite and PostgreSQL: same answers,
same errors, and values read through ``get_secret`` are masked in captured logs."""

from __future__ import annotations

import pytest

from runyard.client.client import Client
from runyard.client.workspace_api import WorkspaceAPI
from runyard.exceptions import Conflict, InvalidInput, NotFound
from runyard.logs import masking


@pytest.fixture(params=["in_process", "http"])
def client(request: pytest.FixtureRequest, local_api: WorkspaceAPI, http_api: WorkspaceAPI) -> Client:
    return Client(local_api if request.param == "in_process" else http_api)


@pytest.fixture(autouse=True)
def _forget_masked_values() -> None:
    masking.clear()


def test_crud_through_the_client(client: Client) -> None:
    created = client.create_secret("api-token", {"token": "tok-123456", "url": "https://x"}, description="ci")
    assert created.keys == ["token", "url"] and created.description == "ci"
    assert not hasattr(created, "values")

    assert [s.name for s in client.list_secrets()] == ["api-token"]
    assert client.get_secret_metadata("api-token") == created
    secret = client.get_secret("api-token")
    assert secret.values == {"token": "tok-123456", "url": "https://x"}
    assert "tok-123456" not in repr(secret)  # values stay out of reprs and tracebacks
    assert masking.mask("token=tok-123456") == "token=***"

    updated = client.update_secret("api-token", {"token": "tok-rotated"}, remove_keys=["url"])
    assert updated.keys == ["token"] and updated.description == "ci"
    assert client.get_secret(str(created.id)).values == {"token": "tok-rotated"}

    client.delete_secret("api-token")
    assert client.list_secrets() == []


def test_errors_are_the_same_exceptions_on_both_transports(client: Client) -> None:
    client.create_secret("dup", {"a": "value-a"})
    with pytest.raises(Conflict, match="exists already"):
        client.create_secret("dup", {"a": "value-b"})
    with pytest.raises(NotFound, match="No secret named 'ghost'"):
        client.get_secret("ghost")
    with pytest.raises(NotFound):
        client.delete_secret("ghost")
    with pytest.raises(InvalidInput, match="at least one"):
        client.update_secret("dup", remove_keys=["a"])
    with pytest.raises(ValueError, match="at least one KEY=VALUE"):  # refused before it leaves the client
        client.create_secret("empty", {})
