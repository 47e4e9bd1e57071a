"""Figure 3, ZenML: a chain of N trivial steps (``--steps N``), each adding one to the previous int."""

import workloads
from zenml import pipeline, step

N = workloads.steps_arg()


@step(enable_cache=False)
def start() -> int:
    return workloads.trivial()


@step(enable_cache=False)
def add_one(x: int) -> int:
    return workloads.add_one(x)


@pipeline(enable_cache=False)
def chain():
    x = start()
    for _ in range(N - 1):
        x = add_one(x)


if __name__ == "__main__":
    run = chain()
    workloads.report(tool="zenml", status=str(run.status), steps=len(run.steps))
