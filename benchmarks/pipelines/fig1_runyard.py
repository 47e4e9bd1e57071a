"""Figure 1, Runyard: a 1-step pipeline of a trivial step on the local orchestrator."""

import workloads

from runyard import pipeline, step


@step
def trivial() -> int:
    return workloads.trivial()


@pipeline(enable_cache=False)
def one_step():
    trivial()


if __name__ == "__main__":
    run = one_step()
    workloads.report(tool="runyard", status=str(run.status))
