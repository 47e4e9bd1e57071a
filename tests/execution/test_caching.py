"""Caching: hits reuse the original step run; misses say which part of the key changed."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Annotated, Any

import pytest

from runyard import Client, pipeline, step
from runyard.execution.cache import cache_key, cache_parts, explain_miss

EXECUTED: list[str] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    EXECUTED.clear()


@step
def numbers(n: int = 3) -> Annotated[list[int], "numbers"]:
    EXECUTED.append("numbers")
    return list(range(n))


@step
def doubled(values: list[int], factor: int = 2) -> Annotated[list[int], "doubled"]:
    EXECUTED.append("doubled")
    return [v * factor for v in values]


@pipeline
def cached_pipeline(n: int = 3, factor: int = 2) -> None:
    doubled(numbers(n=n), factor=factor)


def test_identical_second_run_is_cached_and_points_at_the_original(database_url: str) -> None:
    first = cached_pipeline()
    assert {s.status for s in first.steps.values()} == {"completed"}
    assert EXECUTED == ["numbers", "doubled"]
    assert first.steps["numbers"].cache_explanation == "cache miss: this step has not run before with caching on"

    EXECUTED.clear()
    second = cached_pipeline()
    assert second.status == "completed"
    assert EXECUTED == []
    for inv in ("numbers", "doubled"):
        st = second.steps[inv]
        assert st.status == "cached"
        assert st.original_step_run_id == first.steps[inv].id
        assert st.cache_key == first.steps[inv].cache_key
        assert st.cache_explanation == f"cache hit: reused the outputs of step run {first.steps[inv].id}"
        # outputs are the original versions, not new ones
        assert {k: v.id for k, v in st.outputs.items()} == {k: v.id for k, v in first.steps[inv].outputs.items()}
    assert second.steps["doubled"].outputs["doubled"].load() == [0, 2, 4]
    assert second.steps["doubled"].inputs["values"].id == first.steps["numbers"].outputs["numbers"].id

    third = cached_pipeline()
    # a chain of hits still points at the step run that really executed
    assert third.steps["doubled"].original_step_run_id == first.steps["doubled"].id
    client = Client()
    assert client.get_artifact_version("doubled").version == 1
    stored = client.get_run(second.id).steps["numbers"]
    assert stored.status == "cached"
    assert stored.original_step_run_id == first.steps["numbers"].id
    assert client.get_step_run(stored.original_step_run_id).status == "completed"


def test_changed_parameter_misses_and_names_it(database_url: str) -> None:
    cached_pipeline(n=3, factor=2)
    EXECUTED.clear()
    run = cached_pipeline(n=3, factor=5)
    assert run.steps["numbers"].status == "cached"
    assert run.steps["doubled"].status == "completed"
    assert EXECUTED == ["doubled"]
    assert run.steps["doubled"].cache_explanation == "cache miss: parameter 'factor' changed (2 -> 5)"
    assert run.steps["doubled"].outputs["doubled"].load() == [0, 5, 10]


def test_changed_input_data_misses_and_names_the_input(database_url: str) -> None:
    cached_pipeline(n=3)
    EXECUTED.clear()
    run = cached_pipeline(n=4)
    assert run.steps["numbers"].cache_explanation == "cache miss: parameter 'n' changed (3 -> 4)"
    explanation = run.steps["doubled"].cache_explanation or ""
    assert explanation == "cache miss: input 'values' has different content"
    assert EXECUTED == ["numbers", "doubled"]


@step(enable_cache=False)
def read_file(path: str) -> Annotated[str, "file_text"]:
    return Path(path).read_text()


@step
def shout(text: str) -> Annotated[str, "shouted"]:
    EXECUTED.append("shout")
    return text.upper()


def test_uncached_upstream_with_the_same_content_still_lets_downstream_hit(tmp_path: Path) -> None:
    @pipeline
    def from_file(path: str) -> None:
        shout(read_file(path=path))

    data = tmp_path / "data.txt"
    data.write_text("hello")
    first = from_file(path=str(data))
    again = from_file(path=str(data))
    assert again.steps["read_file"].status == "completed"
    assert again.steps["read_file"].cache_explanation == "cache disabled for this step"
    assert again.steps["shout"].status == "cached"  # same content hash of its input
    assert again.steps["shout"].original_step_run_id == first.steps["shout"].id
    data.write_text("changed")
    changed = from_file(path=str(data))
    assert changed.steps["shout"].status == "completed"
    assert changed.steps["shout"].cache_explanation == "cache miss: input 'text' has different content"
    assert changed.steps["shout"].outputs["shouted"].load() == "CHANGED"


@step
def transform(values: list[int]) -> Annotated[list[int], "transformed"]:
    return [v + 1 for v in values]


transform_v1 = transform


@step
def transform(values: list[int]) -> Annotated[list[int], "transformed"]:  # type: ignore[no-redef]
    return [v + 100 for v in values]  # the user edited the body


transform_v2 = transform


def _pipeline_with(transform_step: Any) -> Any:
    @pipeline(name="editing")
    def editing() -> None:
        transform_step(numbers())

    return editing


def test_edited_step_source_misses_and_says_the_code_changed(database_url: str) -> None:
    assert transform_v1.source == transform_v2.source  # same module and name, different body
    assert transform_v1.source_hash != transform_v2.source_hash
    first = _pipeline_with(transform_v1)()
    assert first.steps["transform"].outputs["transformed"].load() == [1, 2, 3]
    again = _pipeline_with(transform_v1)()
    assert again.steps["transform"].status == "cached"
    edited = _pipeline_with(transform_v2)()
    assert edited.steps["numbers"].status == "cached"
    st = edited.steps["transform"]
    assert st.status == "completed"
    assert st.cache_explanation == "cache miss: the step's code changed"
    assert st.outputs["transformed"].load() == [100, 101, 102]
    assert st.source_hash == transform_v2.source_hash


def _exec_step(body: str) -> Any:
    """A step whose source is not in a file (as in a notebook cell or exec)."""
    namespace: dict[str, Any] = {"step": step, "Annotated": Annotated}
    exec(textwrap.dedent(body), namespace)
    return namespace["dynamic"]


def test_exec_defined_step_source_change_misses() -> None:
    v1 = _exec_step('''
        @step
        def dynamic(values: list) -> Annotated[list, "dyn"]:
            return [v * 2 for v in values]
    ''')
    v2 = _exec_step('''
        @step
        def dynamic(values: list) -> Annotated[list, "dyn"]:
            return [v * 3 for v in values]
    ''')
    assert v1.source_hash != v2.source_hash
    first = _pipeline_with(v1)()
    assert first.steps["dynamic"].outputs["dyn"].load() == [0, 2, 4]
    assert _pipeline_with(v1)().steps["dynamic"].status == "cached"
    changed = _pipeline_with(v2)()
    assert changed.steps["dynamic"].status == "completed"
    assert changed.steps["dynamic"].cache_explanation == "cache miss: the step's code changed"
    assert changed.steps["dynamic"].outputs["dyn"].load() == [0, 3, 6]


def test_enable_cache_false_never_hits() -> None:
    uncached = cached_pipeline.with_options(enable_cache=False)
    first = uncached()
    EXECUTED.clear()
    second = uncached()
    assert EXECUTED == ["numbers", "doubled"]
    for inv in ("numbers", "doubled"):
        assert second.steps[inv].status == "completed"
        assert second.steps[inv].original_step_run_id is None
        assert second.steps[inv].cache_explanation == "cache disabled for this step"
    assert second.steps["doubled"].outputs["doubled"].version == 2
    # and a later cached run does not reuse uncached step runs either (they stored no key)
    assert first.steps["numbers"].cache_key is None
    cached = cached_pipeline()
    assert cached.steps["numbers"].status == "completed"


def test_step_level_enable_cache_false_beats_the_pipeline() -> None:
    @pipeline(enable_cache=True)
    def mixed() -> None:
        doubled.with_options(enable_cache=False)(numbers())

    mixed()
    again = mixed()
    assert again.steps["numbers"].status == "cached"
    assert again.steps["doubled"].status == "completed"


def test_cache_entry_whose_files_were_deleted_is_not_a_hit(database_url: str) -> None:
    first = cached_pipeline()
    av = first.steps["numbers"].outputs["numbers"]
    shutil.rmtree(Path(av.uri))
    EXECUTED.clear()
    run = cached_pipeline()
    st = run.steps["numbers"]
    assert st.status == "completed"
    assert st.cache_explanation == "cache miss: the files of cached output(s) numbers are gone"
    assert "numbers" in EXECUTED
    # the re-run recreated the files: the new and the old version load again
    assert st.outputs["numbers"].load() == [0, 1, 2]
    assert Path(av.uri).is_dir()
    # the downstream step's input content is unchanged, so it still hits
    assert run.steps["doubled"].status == "cached"


def test_explain_miss_names_every_changed_part() -> None:
    base = cache_parts(source_hash="a", parameters={"x": 1, "y": 2}, input_hashes={"d": "h1"},
                       output_types={"o": "runyard.json"}, artifact_store="s1")
    changed = cache_parts(source_hash="b", parameters={"x": 1, "z": 3}, input_hashes={"d": "h2"},
                          output_types={"o": "runyard.pickle"}, artifact_store="s2")
    text = explain_miss(changed, base)
    for needle in ("the step's code changed", "parameter 'y' was removed", "parameter 'z' is new",
                   "input 'd' has different content", "output types or materializers changed",
                   "the artifact store changed"):
        assert needle in text
    assert cache_key(base) != cache_key(changed)
    assert cache_key(base) == cache_key(dict(reversed(list(base.items()))))  # key order does not matter
    assert explain_miss(base, base).startswith("cache miss: same key")
