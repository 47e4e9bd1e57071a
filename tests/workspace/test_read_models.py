"""The fast paths the server uses to build and read its answers give what the slow, validating ones give."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime

import pytest

from runyard.schemas.artifacts import ArtifactVersionRead
from runyard.schemas.status import StepStatus
from runyard.schemas.steps import StepRunRead
from runyard.workspace.db.engine import load_json


def _version_values() -> dict[str, object]:
    return dict(
        id=uuid.uuid4(), created=datetime(2026, 5, 1, 12, 0, 1, 500, tzinfo=UTC), artifact_id=uuid.uuid4(),
        name="train.model", version=3, uri="s3://bucket/ab/cd", content_hash="ab" * 32, size=12_345,
        materializer="runyard.pickle", data_type="sklearn.linear_model.LogisticRegression",
        artifact_store_id=uuid.uuid4(), producer_step_run_id=None, metadata={"rows": 10, "nested": {"a": [1, 2]}},
    )


def test_trusted_model_equals_the_validated_one_in_any_field_order() -> None:
    version = _version_values()
    step = dict(
        id=uuid.uuid4(), created=datetime(2026, 5, 1, 12, 0, tzinfo=UTC), run_id=uuid.uuid4(), invocation_id="train",
        step_name="train", status=StepStatus.COMPLETED, parameters={"lr": 0.1}, source_hash="f" * 64, cache_key=None,
        cache_parts={}, original_step_run_id=None, error=None, traceback=None, attempts=1,
        started=datetime(2026, 5, 1, 12, 0, tzinfo=UTC), ended=None,
        inputs={"data": ArtifactVersionRead.trusted(**version)}, outputs={}, metadata={},
    )
    shuffled = list(step.items())
    random.Random(7).shuffle(shuffled)
    fast = StepRunRead.trusted(**dict(shuffled))
    slow = StepRunRead.model_validate(step)
    assert fast == slow
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.model_fields_set == slow.model_fields_set
    assert fast.inputs["data"] == ArtifactVersionRead.model_validate(version)


def test_trusted_model_refuses_a_missing_or_unknown_field() -> None:
    values = _version_values()
    del values["size"]
    with pytest.raises(TypeError, match="missing \\['size'\\]"):
        ArtifactVersionRead.trusted(**values)
    with pytest.raises(TypeError, match="unknown \\['extra'\\]"):
        ArtifactVersionRead.trusted(**{**_version_values(), "extra": 1})


def test_trusted_many_equals_validated_models_and_refuses_a_short_row() -> None:
    rows = [_version_values(), {**_version_values(), "metadata": {}, "artifact_store_id": None}]
    fast = ArtifactVersionRead.trusted_many(tuple(r[name] for name in ArtifactVersionRead.model_fields) for r in rows)
    slow = [ArtifactVersionRead.model_validate(r) for r in rows]
    assert fast == slow
    assert [f.model_dump_json() for f in fast] == [s.model_dump_json() for s in slow]
    assert fast[0].model_fields_set == slow[0].model_fields_set
    with pytest.raises(TypeError, match="needs 13 values per row"):
        ArtifactVersionRead.trusted_many([tuple(rows[0].values())[:-1]])


@pytest.mark.parametrize("text", [
    "{}", "[]", "null", "3", "-1.5e3", '"x"', '{"a": {"b": [1, 2.5, null, true, "\\u00e9"]}}',
    ' {"a": 1}', '{"a": 1} ', '{"a": 1}\n',
])
def test_load_json_parses_like_json_loads(text: str) -> None:
    assert load_json(text.encode()) == json.loads(text)
    assert load_json(memoryview(text.encode())) == json.loads(text)
    assert load_json(text) == json.loads(text)


@pytest.mark.parametrize("text", ["", "{", '{"a": 1} x', "nan-ish", "{'a': 1}"])
def test_load_json_raises_on_invalid_json_like_json_loads(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        load_json(text.encode())
