"""Figure 3, Prefect 3: a flow chaining N trivial tasks (``--steps N``), each adding one."""

import workloads
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

N = workloads.steps_arg()


@task(cache_policy=NO_CACHE)
def start() -> int:
    return workloads.trivial()


@task(cache_policy=NO_CACHE)
def add_one(x: int) -> int:
    return workloads.add_one(x)


@flow
def chain() -> int:
    x = start()
    for _ in range(N - 1):
        x = add_one(x)
    return x


if __name__ == "__main__":
    state = chain(return_state=True)
    workloads.report(tool="prefect", status=state.type.value, result=state.result())
