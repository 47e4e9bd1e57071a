"""The pipeline spec wire format: payloads written by older versions must keep loading."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pytest

from runyard import pipeline, step
from runyard.exceptions import VersionMismatch
from runyard.sdk.spec import SPEC_VERSION, InputSpec, OutputSpec, PipelineSpec, RetryPolicy

#: A spec exactly as version 1 stored it with a snapshot (``PipelineSpec.to_dict()`` through JSON).
#: Never edit this literal: it is what older workspaces hold. Add a new literal for a new version.
SPEC_V1: dict[str, Any] = {
    "name": "wire",
    "steps": [
        {
            "invocation_id": "a",
            "step_name": "a",
            "source": "__main__:a",
            "source_hash": "fd546d1b0136f9ef6efcd795a5210987b401d51af90fdbe36caca6f96f06ada9",
            "parameters": {"n": 2},
            "inputs": {},
            "after": [],
            "outputs": [{"name": "a_out", "type_name": "list[int]"}],
            "enable_cache": True,
            "retry": {"max_retries": 1, "delay": 0.5, "backoff": 1.0},
        },
        {
            "invocation_id": "b",
            "step_name": "b",
            "source": "__main__:b",
            "source_hash": "a64432afdf4f976634aa954de861fe400b91b3803eca7897f3ace1367d2a1ad1",
            "parameters": {},
            "inputs": {"x": {"step": "a", "output": "a_out"}},
            "after": [],
            "outputs": [{"name": "b_out", "type_name": "builtins.int"}],
            "enable_cache": True,
            "retry": {"max_retries": 0, "delay": 0.0, "backoff": 1.0},
        },
        {
            "invocation_id": "c",
            "step_name": "c",
            "source": "__main__:c",
            "source_hash": "9c16917d05fc780ba5ac801c9bbb757d64d8eb2351268ec1b4acdc20012bc134",
            "parameters": {},
            "inputs": {},
            "after": ["b"],
            "outputs": [],
            "enable_cache": False,
            "retry": {"max_retries": 0, "delay": 0.0, "backoff": 1.0},
        },
    ],
    "parameters": {"n": 2},
    "version": 1,
}


def test_version_1_spec_loads() -> None:
    spec = PipelineSpec.from_dict(SPEC_V1)
    assert spec.name == "wire"
    assert spec.version == SPEC_VERSION
    assert spec.parameters == {"n": 2}
    assert [s.invocation_id for s in spec.steps] == ["a", "b", "c"]
    a, b, c = spec.steps
    assert a.retry == RetryPolicy(max_retries=1, delay=0.5, backoff=1.0)
    assert a.outputs == (OutputSpec(name="a_out", type_name="list[int]"),)
    assert a.parameters == {"n": 2}
    assert b.inputs == {"x": InputSpec(step="a", output="a_out")}
    assert b.upstream == ("a",)
    assert c.after == ("b",)
    assert c.upstream == ("b",)
    assert c.enable_cache is False
    assert c.outputs == ()
    assert spec.step("b").source_hash == SPEC_V1["steps"][1]["source_hash"]


def test_version_1_spec_without_optional_keys_loads_with_defaults() -> None:
    minimal = {
        "name": "tiny",
        "steps": [{"invocation_id": "s", "step_name": "s", "source": "m:s", "source_hash": "0" * 64}],
    }
    spec = PipelineSpec.from_dict(minimal)
    (s,) = spec.steps
    assert s.parameters == {} and s.inputs == {} and s.after == () and s.outputs == ()
    assert s.enable_cache is True
    assert s.retry == RetryPolicy()
    assert spec.parameters == {}


def test_newer_spec_version_is_refused_with_a_hint() -> None:
    with pytest.raises(VersionMismatch, match="format version 99") as info:
        PipelineSpec.from_dict({**SPEC_V1, "version": 99})
    assert "Upgrade runyard" in (info.value.hint or "")


@step(retries=1, retry_delay=0.5)
def a(n: int = 2) -> Annotated[list[int], "a_out"]:
    return list(range(n))


@step
def b(x: list[int]) -> Annotated[int, "b_out"]:
    return sum(x)


@pipeline
def wire(n: int = 2) -> None:
    b(a(n=n))


def test_current_spec_round_trips_through_json_and_keeps_the_v1_shape() -> None:
    spec = wire.compile().spec
    data = json.loads(json.dumps(spec.to_dict()))
    assert PipelineSpec.from_dict(data) == spec
    assert PipelineSpec.from_dict(data).spec_hash() == spec.spec_hash()
    # the keys written today are version 1's plus what version 2 added (the step's source text)
    assert set(data) == set(SPEC_V1)
    assert set(data["steps"][0]) == set(SPEC_V1["steps"][0]) | {"source_code"}
    assert data["version"] == SPEC_VERSION == 2
    assert "def " in data["steps"][0]["source_code"]


def test_to_dict_is_exactly_what_asdict_gives() -> None:
    """``to_dict`` is built by hand for speed; it must stay the same document (and so the same spec hash)."""
    import dataclasses

    from runyard.sdk.spec import InputSpec, OutputSpec, PipelineSpec, RetryPolicy, StepSpec

    first = StepSpec(invocation_id="load", step_name="load", source="m:load", source_hash="h1",
                     parameters={"rows": 5, "cols": ["a", {"b": [1, 2]}]}, inputs={}, after=(),
                     outputs=(OutputSpec("data", "builtins.list"),), source_code="def load(): ...")
    second = StepSpec(invocation_id="train_2", step_name="train", source="m:train", source_hash="h2",
                      parameters={}, inputs={"data": InputSpec("load", "data")}, after=("load",),
                      outputs=(OutputSpec("model", "x.Model"), OutputSpec("score", "builtins.float")),
                      enable_cache=False, retry=RetryPolicy(max_retries=2, delay=0.5, backoff=2.0))
    spec = PipelineSpec(name="p", steps=(first, second), parameters={"lr": 0.1, "nested": {"k": [1]}})
    assert spec.to_dict() == dataclasses.asdict(spec)
    assert spec.to_dict()["steps"][0]["parameters"] is not first.parameters  # a copy, as asdict makes
    assert list(spec.to_dict()) == list(dataclasses.asdict(spec))
