"""Figure 1, Prefect 3: a flow with one trivial task, reporting to the Prefect server."""

import workloads
from prefect import flow, task
from prefect.cache_policies import NO_CACHE


@task(cache_policy=NO_CACHE)
def trivial() -> int:
    return workloads.trivial()


@flow
def one_step():
    return trivial()


if __name__ == "__main__":
    state = one_step(return_state=True)
    workloads.report(tool="prefect", status=state.type.value, result=state.result())
