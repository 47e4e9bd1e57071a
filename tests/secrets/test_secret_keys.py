"""The key that encrypts secret values: where it comes from, and clear errors when it is missing or wrong."""

from __future__ import annotations

import sqlite3
import stat
import time
import warnings
from pathlib import Path

import pytest

with warnings.catch_warnings():  # starlette asks for httpx2 instead of httpx; both work
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

from runyard import Client
from runyard.exceptions import SecretKeyError
from runyard.secrets.crypto import generate_key, key_id
from runyard.settings import get_settings

VALUE = "p4ssw0rd-never-in-plain-text"


def _use_key(monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    from runyard.client import connection

    if key is None:
        monkeypatch.delenv("RUNYARD_SECRETS_KEY", raising=False)
    else:
        monkeypatch.setenv("RUNYARD_SECRETS_KEY", key)
    get_settings.cache_clear()
    connection.reset()


def _rows(home: Path) -> list[tuple[str, str, bytes]]:
    with sqlite3.connect(home / "workspace.db") as con:
        return con.execute("SELECT name, key_id, ciphertext FROM secrets ORDER BY name").fetchall()


def test_the_embedded_default_keeps_a_0600_key_file_beside_the_database(runyard_home: Path) -> None:
    assert not (runyard_home / "secrets.key").exists()
    Client().create_secret("db", {"password": VALUE})
    key_file = runyard_home / "secrets.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    [(_, kid, blob)] = _rows(runyard_home)
    assert kid == key_id(__import__("base64").urlsafe_b64decode(key))
    database = (runyard_home / "workspace.db").read_bytes()
    assert VALUE.encode() not in database and key.encode() not in database and VALUE.encode() not in blob
    assert Client().get_secret("db").values == {"password": VALUE}


def test_runyard_secrets_key_replaces_the_key_file(runyard_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_key(monkeypatch, generate_key())
    Client().create_secret("db", {"password": VALUE})
    assert not (runyard_home / "secrets.key").exists()
    assert Client().get_secret("db").values == {"password": VALUE}


def test_a_wrong_key_is_named_not_reported_as_corrupt_data(runyard_home: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    first = generate_key()
    _use_key(monkeypatch, first)
    Client().create_secret("db", {"password": VALUE})
    _use_key(monkeypatch, generate_key())
    with pytest.raises(SecretKeyError, match=r"encrypted with key \w+, which is not among") as e:
        Client().get_secret("db")
    assert "RUNYARD_SECRETS_KEY" in (e.value.hint or "") and VALUE not in str(e.value)
    assert Client().list_secrets()[0].name == "db"  # metadata needs no key


def test_a_missing_key_file_is_a_clear_error(runyard_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Client().create_secret("db", {"password": VALUE})
    (runyard_home / "secrets.key").unlink()
    _use_key(monkeypatch, None)  # a new process: keys are read once per process
    with pytest.raises(SecretKeyError, match=r"secrets.key \(RUNYARD_SECRETS_KEY is not set\)"):
        Client().get_secret("db")
    assert not (runyard_home / "secrets.key").exists()  # a read never invents a new key


def test_a_malformed_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _use_key(monkeypatch, "too-short")
    with pytest.raises(SecretKeyError, match="not 32 bytes") as e:
        Client().create_secret("db", {"password": VALUE})
    assert "generate-key" in (e.value.hint or "")


def test_altered_or_moved_ciphertext_does_not_decrypt(runyard_home: Path) -> None:
    Client().create_secret("a", {"password": VALUE})
    Client().create_secret("b", {"password": "other-value"})
    (_, _, blob_a), _ = _rows(runyard_home)
    with sqlite3.connect(runyard_home / "workspace.db") as con:  # a's ciphertext pasted onto b's row
        con.execute("UPDATE secrets SET ciphertext = ? WHERE name = 'b'", (blob_a,))
        flipped = bytes(blob_a[:-1]) + bytes([blob_a[-1] ^ 1])
        con.execute("UPDATE secrets SET ciphertext = ? WHERE name = 'a'", (flipped,))
    for name in ("a", "b"):
        with pytest.raises(SecretKeyError, match="altered"):
            Client().get_secret(name)


def test_rotation_reencrypts_with_the_first_key(runyard_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from runyard.cli.main import app

    old, new = generate_key(), generate_key()
    _use_key(monkeypatch, old)
    Client().create_secret("a", {"password": VALUE})
    Client().create_secret("b", {"token": "t0ken-value"})
    _use_key(monkeypatch, f"{new},{old}")
    assert Client().get_secret("a").values == {"password": VALUE}  # old rows still read
    result = CliRunner().invoke(app, ["secret", "rotate-key"])
    assert result.exit_code == 0 and "Re-encrypted 2 secrets" in result.output, result.output
    new_id = key_id(__import__("base64").urlsafe_b64decode(new))
    assert {kid for _, kid, _ in _rows(runyard_home)} == {new_id}
    _use_key(monkeypatch, new)  # the old key can go now
    assert Client().get_secret("b").values == {"token": "t0ken-value"}


def test_over_http_a_key_error_is_a_500_with_the_fix_and_is_not_retried(
    runyard_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runyard.client.http import HTTPTransport
    from runyard.client.workspace_api import WorkspaceAPI
    from runyard.workspace.app import create_app

    Client().create_secret("db", {"password": VALUE})
    (runyard_home / "secrets.key").unlink()
    _use_key(monkeypatch, None)
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        response = test_client.get("/api/v1/secrets/db/values")
        assert response.status_code == 500 and response.json()["error"] == "secret_key_error"
        assert "RUNYARD_SECRETS_KEY" in response.text and VALUE not in response.text
        api = WorkspaceAPI(HTTPTransport("http://testserver", client=test_client, retries=5, backoff=2.0))
        started = time.monotonic()
        with pytest.raises(SecretKeyError, match="RUNYARD_SECRETS_KEY is not set"):
            Client(api).get_secret("db")
        assert time.monotonic() - started < 1.5  # five retries with a 2 s backoff would take far longer


def test_processes_creating_the_key_file_at_once_agree_on_one_key(runyard_home: Path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(4) as pool:
        kids = list(pool.map(_first_key_id, [runyard_home] * 8))
    assert len(set(kids)) == 1 and kids[0] is not None
    assert [p.name for p in runyard_home.iterdir() if p.name.startswith(".secrets.key")] == []


def _first_key_id(home: Path) -> str | None:
    from runyard.secrets.crypto import load_keyring

    return load_keyring(env_value=None, home=home, create=True).primary
