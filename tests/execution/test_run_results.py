"""What calling a pipeline returns, and what the workspace stores for it, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path
from typing import Annotated

from runyard import Client, pipeline, step
from runyard.client.models import Run


@step
def produce(n: int = 3) -> Annotated[dict[str, int], "counts"]:
    return {f"k{i}": i for i in range(n)}


@step
def consume(counts: dict[str, int]) -> Annotated[int, "count_total"]:
    return sum(counts.values())


@pipeline
def counting(n: int = 3) -> None:
    consume(produce(n=n))


def test_calling_a_pipeline_returns_the_finished_run(database_url: str, runyard_home: Path) -> None:
    run = counting(n=3)
    assert isinstance(run, Run)
    assert isinstance(run.id, uuid.UUID)
    assert run.status == "completed"
    assert run.pipeline_name == "counting"
    assert run.started is not None and run.ended is not None and run.ended >= run.started
    assert {k: v.status for k, v in run.steps.items()} == {"produce": "completed", "consume": "completed"}

    counts = run.steps["produce"].outputs["counts"]
    assert counts.load() == {"k0": 0, "k1": 1, "k2": 2}
    assert counts.version == 1
    assert re.fullmatch(r"[0-9a-f]{64}", counts.content_hash)
    # the content hash addresses the stored folder under the local artifact store of RUNYARD_HOME
    assert counts.uri.endswith(counts.content_hash)
    assert Path(counts.uri).is_dir()
    assert Path(counts.uri).resolve().is_relative_to((runyard_home / "artifacts").resolve())
    assert counts.size > 0
    assert counts.materializer == "runyard.json"
    assert counts.producer_step_run_id == run.steps["produce"].id

    total = run.steps["consume"].outputs["count_total"]
    assert total.load() == 3
    assert run.steps["consume"].inputs["counts"].id == counts.id

    # stored state, read through a fresh Client
    client = Client()
    stored = client.get_run(run.id)
    assert stored.status == "completed"
    assert stored.name == run.name
    assert stored.parameters == {"n": 3}
    assert stored.stack_id == client.get_stack("default").id
    assert stored.steps["consume"].outputs["count_total"].load() == 3
    assert [r.id for r in client.list_runs(pipeline="counting")] == [run.id]
    assert client.get_pipeline("counting").name == "counting"


def test_content_hash_is_the_sha256_of_the_stored_files(database_url: str) -> None:
    run = counting(n=2)
    av = run.steps["produce"].outputs["counts"]
    folder = Path(av.uri)
    manifest = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = f.relative_to(folder).as_posix()
        manifest.update(f"{rel}\0{hashlib.sha256(f.read_bytes()).hexdigest()}\n".encode())
    assert manifest.hexdigest() == av.content_hash


def test_versions_increment_per_artifact_name_across_runs(database_url: str) -> None:
    first = counting.with_options(enable_cache=False)(n=1)
    second = counting.with_options(enable_cache=False)(n=2)
    third = counting.with_options(enable_cache=False)(n=2)
    v = [r.steps["produce"].outputs["counts"] for r in (first, second, third)]
    assert [x.version for x in v] == [1, 2, 3]
    # equal content has an equal address; different content a different one
    assert v[1].content_hash == v[2].content_hash
    assert v[0].content_hash != v[1].content_hash
    assert v[1].uri == v[2].uri
    client = Client()
    assert client.get_artifact_version("counts").version == 3
    assert client.get_artifact_version("counts", version=1).load() == {"k0": 0}
    assert client.get_artifact_version("counts", version=2).id == v[1].id
    assert [x.version for x in client.list_artifact_versions(name="counts")] == [3, 2, 1]
    assert client.get_artifact_version(str(v[0].id)).version == 1


def test_run_name_tags_and_status_filter_are_stored(database_url: str) -> None:
    run = counting.with_options(run_name="my-run", tags=["a", "b"])()
    assert run.name == "my-run"
    assert sorted(run.tags) == ["a", "b"]
    client = Client()
    assert [r.id for r in client.list_runs(tag="a")] == [run.id]
    assert client.list_runs(tag="zzz") == []
    assert [r.id for r in client.list_runs(status="completed")] == [run.id]
    assert client.list_runs(status="failed") == []
