"""The error boundary: a user's traceback keeps the user's frames and drops Runyard's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runyard.execution import boundary


def _user_code() -> None:
    raise ValueError("from the user")


def _raise_from_user() -> BaseException:
    try:
        _user_code()
    except ValueError as exc:
        return exc
    raise AssertionError("unreachable")


def test_user_frames_are_kept_and_the_error_is_last() -> None:
    text = boundary.user_traceback(_raise_from_user())
    assert text.startswith("Traceback (most recent call last):")
    assert "in _user_code" in text
    assert text.rstrip().endswith("ValueError: from the user")


def test_the_package_folder_is_matched_as_a_folder_not_as_a_name_prefix() -> None:
    import runyard

    package_dir = os.path.join(os.path.dirname(os.path.abspath(runyard.__file__)), "")
    assert package_dir == boundary._RUNYARD_DIR
    assert boundary._RUNYARD_DIR.endswith(os.sep)  # ".../runyard_examples/x.py" does not start with it


def test_a_user_folder_whose_name_starts_like_the_package_is_not_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    here = str(Path(__file__).resolve().parent)
    # pretend Runyard lives in ".../tests/executio": this file's folder shares that prefix but is not inside it
    monkeypatch.setattr(boundary, "_RUNYARD_DIR", os.path.join(here[:-1], ""))
    assert "in _user_code" in boundary.user_traceback(_raise_from_user())
    # and frames really inside the package folder are cut
    monkeypatch.setattr(boundary, "_RUNYARD_DIR", os.path.join(here, ""))
    text = boundary.user_traceback(_raise_from_user())
    assert "in _user_code" not in text
    assert text.rstrip().endswith("ValueError: from the user")


def test_short_error() -> None:
    assert boundary.short_error(KeyError("k")) == "KeyError: 'k'"
    assert boundary.short_error(RuntimeError()) == "RuntimeError"
