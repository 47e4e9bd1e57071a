"""``runyard secret ...``: values from options, a hidden prompt or a file; shown only with --show-values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from runyard import Client
from runyard.cli.main import app

PASSWORD = "typed-at-a-hidden-prompt"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    from runyard.cli import output

    monkeypatch.setattr(output.console, "_width", 250)
    return CliRunner()


def invoke(runner: CliRunner, *args: str, code: int = 0, input: str | None = None) -> Any:
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == code, f"{args}: exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result


def test_create_list_get_update_delete(runner: CliRunner, tmp_path: Path) -> None:
    created = invoke(runner, "secret", "create", "warehouse", "-v", "user=etl", "-v", "password", "-d", "DWH",
                     input=PASSWORD + "\n")
    assert "Created secret warehouse with keys password, user." in created.output
    assert PASSWORD not in created.output  # the prompt does not echo
    assert Client().get_secret("warehouse").values == {"user": "etl", "password": PASSWORD}

    listed = json.loads(invoke(runner, "secret", "list", "-o", "json").stdout)
    assert [(s["name"], s["keys"], s["description"]) for s in listed] == [("warehouse", ["password", "user"], "DWH")]
    assert "values" not in listed[0]
    table = invoke(runner, "secret", "list").output
    assert "warehouse" in table and "password, user" in table and PASSWORD not in table

    hidden = invoke(runner, "secret", "get", "warehouse").output
    assert "***" in hidden and PASSWORD not in hidden and "etl" not in hidden.split("by local")[1]
    shown = json.loads(invoke(runner, "secret", "get", "warehouse", "--show-values", "-o", "json").stdout)
    assert shown["values"] == {"user": "etl", "password": PASSWORD}
    assert PASSWORD in invoke(runner, "secret", "get", "warehouse", "--show-values").output

    values_file = tmp_path / "values.json"
    values_file.write_text(json.dumps({"port": "5432", "password": "from-a-file"}))
    invoke(runner, "secret", "update", "warehouse", "-f", str(values_file), "-r", "user")
    assert Client().get_secret("warehouse").values == {"port": "5432", "password": "from-a-file"}
    invoke(runner, "secret", "create", "piped", "-f", "-", input=json.dumps({"token": "from-stdin"}))
    assert Client().get_secret("piped").values == {"token": "from-stdin"}

    invoke(runner, "secret", "delete", "warehouse", code=1, input="n\n")  # not confirmed: kept
    invoke(runner, "secret", "delete", "warehouse", "--yes")
    assert [s.name for s in Client().list_secrets()] == ["piped"]


def test_errors_name_the_fix_and_never_a_value(runner: CliRunner, tmp_path: Path) -> None:
    missing = invoke(runner, "secret", "create", "empty", code=1)
    assert "at least one value" in missing.output and "--from-file" in missing.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"password": "leaky-value", "port": 5432')
    broken = invoke(runner, "secret", "create", "x", "-f", str(bad), code=1)
    assert "is not JSON" in broken.output and "leaky-value" not in broken.output
    bad.write_text('{"password": "leaky-value", "port": 5432}')
    numbers = invoke(runner, "secret", "create", "x", "-f", str(bad), code=1)
    assert "values are strings" in numbers.output and "leaky-value" not in numbers.output
    huge = invoke(runner, "secret", "create", "x", "-v", "blob=" + "q" * 70_000, code=2)
    assert "at most 65536 bytes" in huge.output and "qqqq" not in huge.output
    named = invoke(runner, "secret", "create", "bad name", "-v", "a=leaky-value", code=2)
    assert "name" in named.output and "leaky-value" not in named.output
    assert "No secret named 'ghost'" in invoke(runner, "secret", "get", "ghost", code=1).output
    invoke(runner, "secret", "create", "one", "-v", "a=leaky-value")
    assert "Nothing to change" in invoke(runner, "secret", "update", "one", code=1).output
    emptied = invoke(runner, "secret", "update", "one", "-r", "a", code=1)
    assert "at least one" in emptied.output and "leaky-value" not in emptied.output


def test_generate_key_prints_a_usable_key(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    from runyard.client import connection
    from runyard.settings import get_settings

    key = invoke(runner, "secret", "generate-key").stdout.strip()
    monkeypatch.setenv("RUNYARD_SECRETS_KEY", key)
    get_settings.cache_clear()
    connection.reset()
    invoke(runner, "secret", "create", "k", "-v", "a=value-one")
    assert Client().get_secret("k").values == {"a": "value-one"}
