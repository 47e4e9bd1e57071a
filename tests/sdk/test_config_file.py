"""``pipeline.with_options(config_path=...)``: YAML run configuration, applied and validated."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import pytest

from runyard import Client, pipeline, step
from runyard.exceptions import ConfigurationError, PipelineDefinitionError
from runyard.sdk.spec import RetryPolicy


@step
def make(rows: int = 2, fill: int = 0) -> Annotated[list[int], "made"]:
    return [fill] * rows


@step
def scale(values: list[int], factor: int = 1) -> Annotated[list[int], "scaled"]:
    return [v * factor for v in values]


@pipeline
def configured(rows: int = 2) -> None:
    scale(make(rows=rows))


def _write(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_config_file_sets_parameters_steps_cache_retries_name_and_tags(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
run_name: nightly-{date}
enable_cache: false
tags: [nightly, cfg]
parameters: {rows: 3}
steps:
  make:
    parameters: {fill: 7}
    retries: 2
  scale:
    parameters: {factor: 10}
    enable_cache: true
    retries: {max: 3, delay: 0.01, backoff: 2}
""",
    )
    configured_run = configured.with_options(config_path=path)
    spec = configured_run.compile().spec
    assert spec.parameters == {"rows": 3}
    assert spec.step("make").parameters == {"rows": 3, "fill": 7}
    assert spec.step("make").retry == RetryPolicy(max_retries=2)
    assert spec.step("make").enable_cache is False  # the pipeline-level setting
    assert spec.step("scale").parameters == {"factor": 10}
    assert spec.step("scale").enable_cache is True  # the step entry wins
    assert spec.step("scale").retry == RetryPolicy(max_retries=3, delay=0.01, backoff=2.0)

    run = configured_run()
    assert run.status == "completed"
    today = datetime.now(UTC).strftime("%Y_%m_%d")
    assert run.name == f"nightly-{today}"
    assert sorted(run.tags) == ["cfg", "nightly"]
    assert run.parameters == {"rows": 3}
    assert run.steps["scale"].outputs["scaled"].load() == [70, 70, 70]
    assert run.steps["make"].parameters == {"rows": 3, "fill": 7}
    assert run.steps["make"].cache_key is None  # cache disabled: no key stored
    assert run.steps["scale"].cache_key is not None
    stored = Client().get_run(run.id)
    assert stored.name == f"nightly-{today}"
    assert [r.id for r in Client().list_runs(tag="nightly")] == [run.id]


def test_call_arguments_and_options_win_over_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "parameters: {rows: 5}\nrun_name: from-file\n")
    p = configured.with_options(config_path=path, run_name="from-option")
    run = p(rows=1)
    assert run.parameters == {"rows": 1}
    assert run.name == "from-option"
    assert run.steps["make"].outputs["made"].load() == [0]


def test_run_name_with_date_and_time_placeholders_gives_unique_names(tmp_path: Path) -> None:
    path = _write(tmp_path, "run_name: r-{date}-{time}\n")
    a = configured.with_options(config_path=path)()
    b = configured.with_options(config_path=path)()
    assert re.fullmatch(r"r-\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2}_\d{6}", a.name)
    assert a.name != b.name


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("colour: red\n", "unknown key 'colour'"),
        ("steps:\n  make:\n    retry: 2\n", "steps.make: unknown key 'retry'"),
        ("steps:\n  make:\n    retries: {max: 1, wait: 2}\n", "steps.make.retries: unknown key 'wait'"),
        ("steps:\n  make:\n    retries: many\n", "steps.make.retries must be a count"),
        ("enable_cache: maybe\n", "enable_cache must be true or false"),
        ("tags: nightly\n", "tags must be a list of strings"),
        ("parameters: [1, 2]\n", "parameters must be a mapping"),
        ("- just\n- a list\n", "the top level must be a mapping"),
        ("parameters: {rows: [\n", "is not valid YAML"),
        ('continue_on_failure: "no"\n', "continue_on_failure must be true or false"),
        ("run_name: 123\n", "run_name must be a string"),
        ("stack: [a]\n", "stack must be a string"),
    ],
)
def test_bad_config_files_name_the_key_and_the_file(tmp_path: Path, text: str, needle: str) -> None:
    path = _write(tmp_path, text, name="bad.yaml")
    with pytest.raises(ConfigurationError) as info:
        configured.with_options(config_path=path)
    assert needle in info.value.message
    assert str(path) in info.value.message


def test_unknown_key_hint_lists_the_allowed_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "colour: red\n")
    with pytest.raises(ConfigurationError) as info:
        configured.with_options(config_path=path)
    assert "run_name" in (info.value.hint or "") and "parameters" in (info.value.hint or "")


def test_missing_config_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        configured.with_options(config_path=tmp_path / "nope.yaml")


def test_unknown_pipeline_parameter_step_or_step_parameter_in_the_file(tmp_path: Path) -> None:
    bad_param = _write(tmp_path, "parameters: {nrows: 3}\n", "p.yaml")
    with pytest.raises(PipelineDefinitionError, match="has no parameter 'nrows'") as info:
        configured.with_options(config_path=bad_param).compile()
    assert "rows" in (info.value.hint or "")

    bad_step = _write(tmp_path, "steps:\n  trian:\n    parameters: {lr: 1}\n", "s.yaml")
    with pytest.raises(PipelineDefinitionError, match="names step 'trian'") as info:
        configured.with_options(config_path=bad_step).compile()
    assert "make" in (info.value.hint or "") and "scale" in (info.value.hint or "")

    bad_step_param = _write(tmp_path, "steps:\n  scale:\n    parameters: {factr: 2}\n", "sp.yaml")
    with pytest.raises(PipelineDefinitionError, match=r"Step 'scale'.*has no parameter 'factr'"):
        configured.with_options(config_path=bad_step_param).compile()


def test_config_enable_cache_false_never_hits(tmp_path: Path) -> None:
    path = _write(tmp_path, "enable_cache: false\n")
    p = configured.with_options(config_path=path)
    p()
    again = p()
    assert {s.status for s in again.steps.values()} == {"completed"}
    assert again.steps["make"].cache_explanation == "cache disabled for this step"


def test_config_orchestrator_and_invocation_specific_step_entries(tmp_path: Path) -> None:
    @pipeline
    def twice() -> None:
        scale(make(), factor=2)
        scale(make(), factor=3)

    path = _write(
        tmp_path,
        "orchestrator: local\nsteps:\n  scale_2:\n    parameters: {factor: 5}\n  make:\n    parameters: {rows: 1}\n",
    )
    p = twice.with_options(config_path=path)
    assert p.config.orchestrator == {"name": "local"}
    spec = p.compile().spec
    assert spec.step("scale").parameters == {"factor": 2}
    assert spec.step("scale_2").parameters == {"factor": 5}  # the invocation id entry wins over the call
    assert spec.step("make").parameters == {"rows": 1}  # a step-name entry applies to every invocation
    assert spec.step("make_2").parameters == {"rows": 1}
