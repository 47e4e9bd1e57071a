"""Figure 5 floor: raw np.save + np.load of the 100 MiB array, in the same folder tree as the stores.

Prints ``io`` (seconds for save+load of the big array) and ``compute`` (make the array + sum it, the
bodies of the two pipeline steps, with no I/O), both timed in-process after a warm-up with the big array
(the first touch of fresh memory and page cache is ~10x slower on this VM, as in the tools' scripts);
``io`` is the median of 3 rounds, as the tools' figures are.
"""

import os

import numpy as np
import workloads

n = workloads.BIG_ELEMENTS
paths = []


def save_load(a):
    # A new file each time, kept until the end, like an artifact store (the page cache is not recycled).
    path = os.path.join(workloads.scratch_dir(), f"raw-{os.getpid()}-{len(paths)}.npy")
    paths.append(path)
    t0 = workloads.now()
    np.save(path, a)
    b = np.load(path)
    elapsed = workloads.now() - t0
    return b, elapsed


save_load(workloads.make_array(n))  # warm-up
times = []
for _ in range(workloads.ROUNDS):
    a = workloads.make_array(n)
    b, elapsed = save_load(a)
    assert b.shape == a.shape
    times.append(elapsed)
    del a, b
io = workloads.median(times)
for p in paths:
    os.remove(p)
compute = workloads.compute_time()
workloads.report(tool="plain", io=io, compute=compute)
