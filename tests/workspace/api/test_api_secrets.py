"""``/secrets``: CRUD, values only through their own route, encryption at rest, 4xx for bad input.

Runs on SQLite and PostgreSQL; every test asserts the HTTP answer and what the database kept.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from runyard.exceptions import NotFound
from runyard.workspace.db.engine import Database
from runyard.workspace.services import secrets

PASSWORD = "correct-horse-battery-staple"


def _create(client: TestClient, name: str = "warehouse", **values: str) -> dict[str, Any]:
    body = {"name": name, "values": values or {"user": "etl", "password": PASSWORD}, "description": "the DWH"}
    response = client.post("/api/v1/secrets", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_create_get_list_update_delete(client: TestClient, stored: Any) -> None:
    created = _create(client)
    assert created["keys"] == ["password", "user"] and created["store"] == "database"
    assert created["created_by"] == "local user" and "values" not in created
    assert PASSWORD not in client.get("/api/v1/secrets").text  # listings never carry values
    assert client.get("/api/v1/secrets/warehouse").json() == created
    assert client.get(f"/api/v1/secrets/{created['id']}").json() == created
    assert stored(secrets.get_secret_values, name_or_id="warehouse").values == {"user": "etl", "password": PASSWORD}

    values = client.get("/api/v1/secrets/warehouse/values")
    assert values.status_code == 200 and values.json()["values"] == {"user": "etl", "password": PASSWORD}

    updated = client.patch("/api/v1/secrets/warehouse", json={"values": {"port": "5432", "user": "loader"},
                                                               "remove_keys": ["password"], "description": ""})
    assert updated.status_code == 200, updated.text
    assert updated.json()["keys"] == ["port", "user"] and updated.json()["description"] is None
    assert updated.json()["updated"] > created["updated"]
    assert stored(secrets.get_secret_values, name_or_id="warehouse").values == {"port": "5432", "user": "loader"}

    _create(client, "another", token="abc123456")
    listed = client.get("/api/v1/secrets").json()
    assert [s["name"] for s in listed] == ["another", "warehouse"]
    assert [s["name"] for s in client.get("/api/v1/secrets", params={"name_contains": "ware"}).json()] == [
        "warehouse"]

    assert client.delete("/api/v1/secrets/warehouse").status_code == 204
    with pytest.raises(NotFound):
        stored(secrets.get_secret, name_or_id="warehouse")
    assert client.get("/api/v1/secrets/warehouse/values").status_code == 404
    assert client.delete("/api/v1/secrets/warehouse").status_code == 404


def test_values_are_encrypted_at_rest(client: TestClient, db: Database) -> None:
    _create(client, "vault", password=PASSWORD)
    with db.session(write=False) as session:
        row = session.execute(text("SELECT * FROM secrets WHERE name = 'vault'")).mappings().one()
    raw = b"".join(str(v).encode() if not isinstance(v, bytes | memoryview) else bytes(v) for v in row.values())
    assert PASSWORD.encode() not in raw and b"horse" not in raw
    assert row["key_id"] and len(bytes(row["ciphertext"])) >= len(PASSWORD) + 12 + 16  # nonce + GCM tag


def test_a_name_is_unique(client: TestClient) -> None:
    _create(client)
    duplicate = client.post("/api/v1/secrets", json={"name": "warehouse", "values": {"a": "b"}})
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "conflict"


@pytest.mark.parametrize(("body", "where"), [
    ({"name": "bad name", "values": {"a": "b"}}, "name"),
    ({"name": "../etc", "values": {"a": "b"}}, "name"),
    ({"name": "x" * 201, "values": {"a": "b"}}, "name"),
    ({"name": "empty", "values": {}}, "at least one"),
    ({"name": "badkey", "values": {"no spaces": PASSWORD}}, "keys must be"),
    ({"name": "nonstring", "values": {"n": 5}}, "values.n"),
    ({"name": "huge", "values": {"blob": "x" * (64 * 1024 + 1)}}, "at most 65536 bytes"),
    ({"name": "many", "values": {f"k{i}": "v" for i in range(101)}}, "at most 100 keys"),
    ({"name": "extra", "values": {"a": "b"}, "owner": "me"}, "owner"),
])
def test_bad_input_is_422_and_never_echoes_values(client: TestClient, body: dict[str, Any], where: str) -> None:
    response = client.post("/api/v1/secrets", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_input" and where in response.text
    assert PASSWORD not in response.text and "xxxxxxxx" not in response.text
    assert client.get("/api/v1/secrets").json() == []


def test_update_rules_are_4xx(client: TestClient, stored: Any) -> None:
    _create(client, "one", only="value-1")
    emptied = client.patch("/api/v1/secrets/one", json={"remove_keys": ["only"]})
    assert emptied.status_code == 422 and "at least one" in emptied.json()["message"]
    unknown = client.patch("/api/v1/secrets/one", json={"remove_keys": ["nope"]})
    assert unknown.status_code == 422 and "'nope'" in unknown.json()["message"]
    too_big = client.patch("/api/v1/secrets/one", json={"values": {"b": "y" * 70_000}})
    assert too_big.status_code == 422 and "yyyy" not in too_big.text
    assert client.patch("/api/v1/secrets/missing", json={"values": {"a": "b"}}).status_code == 404
    assert stored(secrets.get_secret_values, name_or_id="one").values == {"only": "value-1"}


def test_a_body_over_the_server_limit_is_413(client: TestClient) -> None:
    response = client.post("/api/v1/secrets", json={"name": "enormous", "values": {"a": "z" * (11 * 1024 * 1024)}})
    assert response.status_code == 413 and "zzzz" not in response.text
