"""The work itself: plain functions that every tool's pipeline calls, and the plain-Python floor too.

Keeping the bodies here means each tool's script only adds that tool's decorators and wiring, so a
difference in time is the tool's, not the workload's.
"""

from __future__ import annotations

import json
import os
import sys
import time

# Figure 5: 100 MiB of float64 = 13,107,200 elements.
BIG_ELEMENTS = 100 * 1024 * 1024 // 8


def trivial() -> int:
    return 1


def add_one(x: int) -> int:
    return x + 1


def load_split():
    """Figure 2, step 1: a dataset scikit-learn ships, split 75/25."""
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float64)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    return X_train, X_test, y_train, y_test


def train(X_train, y_train):
    """Figure 2, step 2."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000).fit(X_train, y_train)


def evaluate(model, X_test, y_test) -> float:
    """Figure 2, step 3."""
    return float(model.score(X_test, y_test))


def make_array(n: int):
    """Figure 5 producer body."""
    import numpy as np

    return np.full(n, 1.0, dtype=np.float64)


def array_sum(a) -> float:
    """Figure 5 consumer body."""
    return float(a.sum())


ROUNDS = 3  # figure 5: in-process rounds per fresh process


def median(xs):
    import statistics

    return statistics.median(xs)


def compute_time() -> float:
    """Figure 5: the two step bodies (make the big array, sum it) run bare, median of ROUNDS after a warm-up."""
    array_sum(make_array(BIG_ELEMENTS))
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        array_sum(make_array(BIG_ELEMENTS))
        times.append(time.perf_counter() - t0)
    return median(times)


def steps_arg(default: int = 1) -> int:
    """``--steps N`` from the command line (figure 3 scripts)."""
    if "--steps" in sys.argv:
        return int(sys.argv[sys.argv.index("--steps") + 1])
    return default


def report(**fields) -> None:
    """The one line ``benchmarks/run.py`` reads back from every script."""
    sys.stdout.flush()
    print("BENCH_RESULT " + json.dumps(fields), flush=True)


def scratch_dir() -> str:
    """Folder for figure 5's raw np.save/np.load, on the same disk as the tools' artifact stores."""
    path = os.environ.get("BENCH_SCRATCH") or os.getcwd()
    os.makedirs(path, exist_ok=True)
    return path


now = time.perf_counter
