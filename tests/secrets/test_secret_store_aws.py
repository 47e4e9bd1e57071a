"""The ``aws`` secret store against AWS Secrets Manager served over real HTTP by moto's server on loopback:
values live in AWS (not in the workspace database), metadata stays in the workspace, errors are clear."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runyard import Client
from runyard.exceptions import NotFound, SecretStoreError
from runyard.settings import get_settings

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

VALUE = "aws-held-password-value"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The workspace set to the aws store, pointed at moto; returns a boto3 client to look inside AWS."""
    import httpx

    from runyard.client import connection

    httpx.post(moto_url + "/moto-api/reset")
    for name, value in {"AWS_ENDPOINT_URL": moto_url, "AWS_DEFAULT_REGION": "eu-west-1",
                        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "RUNYARD_SECRETS_STORE": "aws", "RUNYARD_SECRETS_AWS_PREFIX": "ry-test/"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    get_settings.cache_clear()
    connection.reset()
    return boto3.client("secretsmanager")


def test_values_live_in_aws_and_metadata_in_the_workspace(aws: Any, runyard_home: Path) -> None:
    made = Client().create_secret("warehouse", {"user": "etl", "password": VALUE}, description="DWH")
    assert made.store == "aws" and made.keys == ["password", "user"]
    inside = aws.get_secret_value(SecretId=f"ry-test/{made.id}")
    assert '"password": "aws-held-password-value"' in inside["SecretString"]
    tags = aws.describe_secret(SecretId=f"ry-test/{made.id}")["Tags"]
    assert {"Key": "runyard:secret", "Value": "warehouse"} in tags
    with sqlite3.connect(runyard_home / "workspace.db") as con:
        (row,) = con.execute("SELECT key_id, ciphertext, store FROM secrets").fetchall()
    assert row == (None, None, "aws") and VALUE.encode() not in (runyard_home / "workspace.db").read_bytes()

    assert Client().get_secret("warehouse").values == {"user": "etl", "password": VALUE}
    Client().update_secret("warehouse", {"port": "5439"}, remove_keys=["user"])
    assert Client().get_secret("warehouse").values == {"password": VALUE, "port": "5439"}
    assert [s.name for s in Client().list_secrets()] == ["warehouse"]

    Client().delete_secret("warehouse")
    assert aws.list_secrets()["SecretList"] == []
    with pytest.raises(NotFound):
        Client().get_secret("warehouse")


def test_a_secret_gone_from_aws_is_a_clear_error(aws: Any) -> None:
    made = Client().create_secret("fragile", {"token": VALUE})
    aws.delete_secret(SecretId=f"ry-test/{made.id}", ForceDeleteWithoutRecovery=True)
    with pytest.raises(SecretStoreError, match="answered ResourceNotFoundException for secret 'fragile'") as e:
        Client().get_secret("fragile")
    assert VALUE not in str(e.value)
    Client().delete_secret("fragile")  # deleting what AWS already lost still cleans up the workspace
    assert Client().list_secrets() == []


def test_no_region_or_no_endpoint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, aws: Any) -> None:
    from runyard.client import connection
    from runyard.exceptions import ConfigurationError, ServerUnavailable

    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    get_settings.cache_clear()
    connection.reset()
    with pytest.raises(ConfigurationError, match="no AWS region"):
        Client().create_secret("x", {"a": VALUE})
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()
    connection.reset()
    with pytest.raises(ServerUnavailable, match="unreachable for secret 'x'"):
        Client().create_secret("x", {"a": VALUE})
    assert Client().list_secrets() == []  # nothing half-made
