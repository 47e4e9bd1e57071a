"""Figure 1, ZenML: a 1-step pipeline of a trivial step on the local orchestrator."""

import workloads
from zenml import pipeline, step


@step(enable_cache=False)
def trivial() -> int:
    return workloads.trivial()


@pipeline(enable_cache=False)
def one_step():
    trivial()


if __name__ == "__main__":
    run = one_step()
    workloads.report(tool="zenml", status=str(run.status))
