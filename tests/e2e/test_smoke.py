from typing import Annotated

from runyard import Client, pipeline, step


@step
def make(n: int = 3) -> Annotated[list[int], "numbers"]:
    return list(range(n))


@step
def total(numbers: list[int]) -> Annotated[int, "total"]:
    return sum(numbers)


@pipeline
def summing(n: int = 3) -> None:
    total(make(n=n))


def test_pipeline_runs_on_both_databases(database_url: str) -> None:
    run = summing(n=4)
    assert run.status == "completed"
    assert run.steps["total"].outputs["total"].load() == 6
    runs = Client().list_runs(pipeline="summing")
    assert [r.id for r in runs] == [run.id]
