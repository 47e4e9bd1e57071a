"""Settings are parsed by hand (no pydantic at start-up): each type's conversion, the bounds, the error
messages (which never show a credential), keyword construction, and the import staying light."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import runyard.settings
from runyard.exceptions import InvalidInput
from runyard.settings import SecretValue, Settings, get_settings


def _error(environ: dict[str, str]) -> str:
    with pytest.raises(InvalidInput) as info:
        Settings.from_env(environ)
    assert info.value.hint == "Fix or unset that environment variable."
    return info.value.message


@pytest.mark.parametrize(("raw", "expected"), [
    ("1", True), ("true", True), ("TRUE", True), ("Yes", True), ("on", True), ("y", True), ("t", True),
    ("0", False), ("false", False), ("False", False), ("NO", False), ("off", False), ("n", False), ("f", False),
    (" on ", True),
])
def test_bool_spellings(raw: str, expected: bool) -> None:
    assert Settings.from_env({"RUNYARD_CAPTURE_LOGS": raw}).capture_logs is expected


def test_bad_bool_names_the_variable() -> None:
    message = _error({"RUNYARD_LOCAL_SERVICE": "maybe"})
    assert message.startswith("Invalid Runyard setting: RUNYARD_LOCAL_SERVICE='maybe': Input should be a valid boolean")


def test_each_type_is_converted() -> None:
    settings = Settings.from_env({
        "RUNYARD_HOME": "/tmp/ry-home", "RUNYARD_HTTP_RETRIES": " 7 ", "RUNYARD_HTTP_TIMEOUT_S": "2.5",
        "RUNYARD_URL": "http://127.0.0.1:8080", "RUNYARD_AUTH": "all_in_one", "RUNYARD_ADMIN_PASSWORD": "pw-123",
        "RUNYARD_UNKNOWN_THING": "ignored",
    })
    assert settings.home == Path("/tmp/ry-home") and settings.home_path == Path("/tmp/ry-home").resolve()
    assert settings.http_retries == 7 and settings.http_timeout_s == 2.5
    assert settings.url == "http://127.0.0.1:8080" and settings.auth == "all_in_one"
    assert isinstance(settings.admin_password, SecretValue)
    assert settings.admin_password.get_secret_value() == "pw-123"
    assert settings.workspace_database_url == f"sqlite:///{Path('/tmp/ry-home').resolve() / 'workspace.db'}"
    assert settings.artifacts_path == Path("/tmp/ry-home").resolve() / "artifacts"


def test_literal_choice_error_lists_the_choices() -> None:
    message = _error({"RUNYARD_AUTH": "ldap"})
    assert "RUNYARD_AUTH='ldap': Input should be 'none', 'control_plane' or 'all_in_one'" in message


@pytest.mark.parametrize(("variable", "raw", "phrase"), [
    ("RUNYARD_ACCESS_TOKEN_TTL_S", "29", "greater than or equal to 30"),
    ("RUNYARD_ACCESS_TOKEN_TTL_S", "901", "less than or equal to 900"),
    ("RUNYARD_LOCAL_SERVICE_IDLE_S", "0", "greater than 0"),
    ("RUNYARD_LOCAL_SERVICE_SPIN_S", "-0.001", "greater than or equal to 0"),
    ("RUNYARD_LOCAL_SERVICE_SPIN_S", "0.5", "less than or equal to 0.1"),
    ("RUNYARD_HTTP_RETRIES", "2.5", "a valid integer"),
    ("RUNYARD_HTTP_TIMEOUT_S", "nan", "a number, not NaN"),
])
def test_bounds_and_numbers_name_the_variable(variable: str, raw: str, phrase: str) -> None:
    message = _error({variable: raw})
    assert message == f"Invalid Runyard setting: {variable}={raw!r}: Input should be {phrase}."


def test_values_on_the_bounds_are_accepted() -> None:
    settings = Settings.from_env({"RUNYARD_ACCESS_TOKEN_TTL_S": "30", "RUNYARD_LOCAL_SERVICE_SPIN_S": "0.1",
                                  "RUNYARD_PASSWORD_HASH_MEMORY_KIB": "8192"})
    assert (settings.access_token_ttl_s, settings.local_service_spin_s) == (30, 0.1)
    assert settings.password_hash_memory_kib == 8192


def test_every_bad_variable_is_listed_and_no_secret_is_echoed() -> None:
    message = _error({"RUNYARD_HTTP_RETRIES": "many", "RUNYARD_SECRETS_KEY": "hunter2-secret", "RUNYARD_AUTH": "x",
                      "RUNYARD_API_KEY": "k"})
    problems = message.removeprefix("Invalid Runyard setting: ").removesuffix(".").split("; ")
    assert [p.split(":")[0].split("=")[0] for p in problems] == ["RUNYARD_HTTP_RETRIES", "RUNYARD_AUTH"]
    assert "hunter2" not in message
    # a secret that converts is not an error; one that fails (here a bad bound on a key-named int) is never shown
    message = _error({"RUNYARD_PASSWORD_HASH_MEMORY_KIB": "4096", "RUNYARD_ACCESS_TOKEN_TTL_S": "5"})
    assert "RUNYARD_PASSWORD_HASH_MEMORY_KIB: Input should be greater than or equal to 8192" in message
    assert "4096" not in message and "RUNYARD_ACCESS_TOKEN_TTL_S='5'" in message


def test_a_bad_secret_keyword_value_is_never_echoed() -> None:
    with pytest.raises(InvalidInput) as info:
        Settings(oidc_client_secret=12345678)
    assert info.value.message == "Invalid Runyard setting: oidc_client_secret: Input should be a valid string."
    assert "12345678" not in str(info.value)


def test_keyword_construction_converts_like_the_environment() -> None:
    settings = Settings(home=Path("/tmp/kw"), capture_logs="off", http_retries="3", control_plane_secret_key="s3")
    assert settings.home == Path("/tmp/kw") and settings.capture_logs is False and settings.http_retries == 3
    assert settings.control_plane_secret_key == SecretValue("s3")
    assert Settings(home="/tmp/kw").home == Path("/tmp/kw")
    with pytest.raises(InvalidInput, match=r"access_token_ttl_s=5: Input should be greater than or equal to 30"):
        Settings(access_token_ttl_s=5)
    with pytest.raises(TypeError, match=r"unknown setting.*colour"):
        Settings(colour="blue")


def test_defaults_match_the_declared_fields() -> None:
    settings = Settings()
    for name, spec in Settings.fields().items():
        assert getattr(settings, name) == spec.default
        assert spec.description.strip() and spec.env_var == f"RUNYARD_{name.upper()}"
    assert settings.access_token_ttl_s == 600 and settings.auth == "none" and settings.secrets_key is None
    assert settings == Settings() and settings != Settings(http_retries=1)


def test_fields_describe_types_bounds_and_secrets() -> None:
    fields = Settings.fields()
    assert list(fields)[:2] == ["home", "url"]
    assert (fields["home"].kind, fields["url"].kind, fields["url"].optional) == (Path, str, True)
    assert (fields["access_token_ttl_s"].ge, fields["access_token_ttl_s"].le) == (30, 900)
    assert fields["auth"].choices == ("none", "control_plane", "all_in_one")
    secrets = {name for name, spec in fields.items() if spec.kind is SecretValue}
    assert secrets == {"secrets_key", "control_plane_secret_key", "audit_api_key", "admin_password",
                       "oidc_client_secret"}
    with pytest.raises(TypeError):
        fields["home"] = fields["url"]  # type: ignore[index]


def test_settings_are_read_only() -> None:
    settings = Settings()
    with pytest.raises(AttributeError, match="read-only"):
        settings.http_retries = 9


def test_secret_value_is_masked_but_comparable() -> None:
    secret = SecretValue("s3cr3t")
    assert repr(secret) == "SecretValue('**********')" and str(secret) == "**********"
    assert "s3cr3t" not in repr(Settings(admin_password="s3cr3t"))
    assert secret.get_secret_value() == "s3cr3t" and len(secret) == 6
    assert secret == SecretValue("s3cr3t") and secret != SecretValue("other") and secret != "s3cr3t"
    assert hash(secret) == hash(SecretValue("s3cr3t"))
    assert not SecretValue("") and str(SecretValue("")) == ""


def test_get_settings_is_cached_until_cleared(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    monkeypatch.setenv("RUNYARD_HTTP_RETRIES", "4")
    first = get_settings()
    assert first.http_retries == 4 and get_settings() is first
    monkeypatch.setenv("RUNYARD_HTTP_RETRIES", "6")
    assert get_settings() is first
    get_settings.cache_clear()
    assert get_settings().http_retries == 6
    get_settings.cache_clear()


def test_reading_settings_imports_no_pydantic(tmp_path: Path) -> None:
    """Every pipeline process reads settings first; pydantic would add 60-120 ms to its start-up."""
    src = Path(runyard.settings.__file__).resolve().parents[1]
    env = {**os.environ, "RUNYARD_HOME": str(tmp_path), "PYTHONPATH": str(src)}
    code = ("import sys, runyard.settings as s; s.get_settings(); "
            "print(s.__file__, sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    path, modules = done.stdout.strip().split(" ", 1)
    assert Path(path).resolve() == Path(runyard.settings.__file__).resolve()
    assert modules == "[]"
