"""Settings come from ``RUNYARD_*`` variables; a bad value is a clear error naming the variable."""

from __future__ import annotations

import pytest

from runyard.exceptions import InvalidInput
from runyard.settings import Settings


def test_variables_are_read_case_insensitively_and_parsed() -> None:
    settings = Settings.from_env({"RUNYARD_HOME": "/tmp/ry-x", "runyard_capture_logs": "off",
                                  "RUNYARD_HTTP_RETRIES": "2", "OTHER": "ignored"})
    assert str(settings.home) == "/tmp/ry-x"
    assert settings.capture_logs is False
    assert settings.http_retries == 2


def test_bad_value_names_the_variable() -> None:
    with pytest.raises(InvalidInput) as info:
        Settings.from_env({"RUNYARD_HTTP_TIMEOUT_S": "soon"})
    assert "RUNYARD_HTTP_TIMEOUT_S='soon'" in str(info.value)


def test_bad_credential_value_is_not_echoed() -> None:
    with pytest.raises(InvalidInput) as info:
        Settings.from_env({"RUNYARD_ACCESS_TOKEN_TTL_S": "5", "RUNYARD_CONTROL_PLANE_SECRET_KEY": "x" * 3,
                           "RUNYARD_PASSWORD_HASH_MEMORY_KIB": "12"})
    text = str(info.value)
    assert "RUNYARD_ACCESS_TOKEN_TTL_S='5'" in text
    assert "RUNYARD_PASSWORD_HASH_MEMORY_KIB: " in text and "'12'" not in text
