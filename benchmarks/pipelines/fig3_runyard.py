"""Figure 3, Runyard: a chain of N trivial steps (``--steps N``), each adding one to the previous int."""

import workloads

from runyard import pipeline, step

N = workloads.steps_arg()


@step
def start() -> int:
    return workloads.trivial()


@step
def add_one(x: int) -> int:
    return workloads.add_one(x)


@pipeline(enable_cache=False)
def chain():
    x = start()
    for _ in range(N - 1):
        x = add_one(x)


if __name__ == "__main__":
    run = chain()
    workloads.report(tool="runyard", status=str(run.status), steps=len(run.steps))
