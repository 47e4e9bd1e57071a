"""Figure 5, Runyard: producer step returns a 100 MiB array, consumer loads it and sums it.

In-process, caching off: a warm-up run with the big array (imports, workspace, and the first touch of
~300 MiB of fresh memory and page cache, which on this VM costs ~10x a steady-state touch and would
swamp the figure), then 3 rounds of (big run, same pipeline with a 1-element array). Medians over the
rounds: ``artifact`` = big - small - compute, where compute is the two step bodies run bare.
"""

import numpy as np
import workloads

from runyard import pipeline, step


@step
def produce(n: int) -> np.ndarray:
    return workloads.make_array(n)


@step
def consume(a: np.ndarray) -> float:
    return workloads.array_sum(a)


@pipeline(enable_cache=False)
def transfer(n: int = 1):
    consume(produce(n))


def timed(n: int) -> float:
    t0 = workloads.now()
    run = transfer(n=n)
    elapsed = workloads.now() - t0
    assert str(run.status).endswith("completed"), run.status
    return elapsed


if __name__ == "__main__":
    timed(workloads.BIG_ELEMENTS)  # warm-up
    bigs, smalls = [], []
    for _ in range(workloads.ROUNDS):
        bigs.append(timed(workloads.BIG_ELEMENTS))
        smalls.append(timed(1))
    big, small = workloads.median(bigs), workloads.median(smalls)
    compute = workloads.compute_time()
    workloads.report(tool="runyard", big=big, small=small, compute=compute, artifact=big - small - compute)
