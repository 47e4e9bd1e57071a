"""Lineage across runs and run listing (filters, keyset pagination), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Annotated

import pytest

from runyard import Client, pipeline, step
from runyard.exceptions import InvalidInput, NotFound


@step
def dataset(rows: int = 3) -> Annotated[list[int], "dataset"]:
    return list(range(rows))


@step
def train(data: list[int], lr: float = 0.1) -> Annotated[float, "model"]:
    return sum(data) * lr


@step
def evaluate(data: list[int], model: float) -> Annotated[float, "score"]:
    return model / (len(data) or 1)


@pipeline
def training(rows: int = 3, lr: float = 0.1) -> None:
    data = dataset(rows=rows)
    model = train(data, lr=lr)
    evaluate(data, model)


@pipeline
def other(rows: int = 3) -> None:
    dataset(rows=rows)


def test_artifact_lineage_names_producer_and_consumers_across_runs(database_url: str) -> None:
    first = training(rows=3, lr=0.1)
    # same data, new learning rate: the dataset step hits the cache, so both runs consume version 1
    second = training(rows=3, lr=0.5)
    assert second.steps["dataset"].status == "cached"

    client = Client()
    av = client.get_artifact_version("dataset")
    assert av.version == 1
    assert av.load() == [0, 1, 2]
    producer = av.producer
    assert producer is not None
    assert producer.id == first.steps["dataset"].id
    assert producer.run_id == first.id
    assert producer.invocation_id == "dataset"

    lineage = av.lineage()
    assert lineage.producer is not None and lineage.producer.step_run_id == first.steps["dataset"].id
    consumer_edges = {(c.run_id, c.invocation_id, c.name) for c in lineage.consumers}
    assert consumer_edges == {
        (first.id, "train", "data"), (first.id, "evaluate", "data"),
        (second.id, "train", "data"), (second.id, "evaluate", "data"),
    }
    consumers = av.consumers
    assert {c.id for c in consumers} == {
        first.steps["train"].id, first.steps["evaluate"].id, second.steps["train"].id, second.steps["evaluate"].id
    }
    assert all(c.inputs["data"].id == av.id for c in consumers)

    model_v2 = client.get_artifact_version("model")
    assert model_v2.version == 2
    assert model_v2.load() == pytest.approx(1.5)
    model_lineage = client.get_lineage(model_v2.id)
    assert model_lineage.producer is not None and model_lineage.producer.run_id == second.id
    assert [(c.invocation_id, c.name) for c in model_lineage.consumers] == [("evaluate", "model")]
    assert client.get_artifact_version("model", version=1).producer.run_id == first.id  # type: ignore[union-attr]

    versions = client.list_artifact_versions(run_id=second.id)
    assert {v.name for v in versions} == {"model", "score"}  # the cached dataset was produced by the first run


def test_list_runs_filters_by_pipeline_and_status(database_url: str) -> None:
    ok = training(rows=2)
    bad = training.with_options(parameters={"rows": "x"})()  # a str where an int is used: the step fails
    o = other(rows=2)
    client = Client()
    assert bad.status == "failed"
    assert {r.id for r in client.list_runs(pipeline="training")} == {ok.id, bad.id}
    assert [r.id for r in client.list_runs(pipeline="training", status="failed")] == [bad.id]
    assert [r.id for r in client.list_runs(pipeline="training", status="completed")] == [ok.id]
    assert [r.id for r in client.list_runs(pipeline="other")] == [o.id]
    assert client.list_runs(pipeline="missing") == []
    assert [r.id for r in client.list_runs()] == [o.id, bad.id, ok.id]  # newest first
    assert all(r.pipeline_name == "training" for r in client.list_runs(pipeline="training"))


def test_list_runs_paginates_with_next_cursor(database_url: str) -> None:
    ids = [other(rows=1).id for _ in range(5)]
    client = Client()
    seen = []
    cursor = None
    pages = 0
    while True:
        page = client.list_runs(pipeline="other", limit=2, cursor=cursor)
        pages += 1
        assert len(page) <= 2
        seen.extend(r.id for r in page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(ids))
    assert client.list_runs(pipeline="other", limit=5).next_cursor is None
    with pytest.raises(InvalidInput, match="cursor is not valid"):
        client.list_runs(cursor="garbage!")


def test_unknown_names_and_ids_raise_not_found(database_url: str) -> None:
    client = Client()
    with pytest.raises(NotFound, match="No artifact 'nothing'"):
        client.get_artifact_version("nothing")
    with pytest.raises(NotFound):
        client.get_run("00000000-0000-0000-0000-000000000000")
    with pytest.raises(InvalidInput, match="is not a run id"):
        client.get_run("not-an-id")
    training(rows=1)
    with pytest.raises(NotFound, match="No version 9 of artifact 'dataset'"):
        client.get_artifact_version("dataset", version=9)
