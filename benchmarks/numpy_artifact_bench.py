"""Benchmark: NumpyMaterializer save + finalize + load of a 100 MiB float64
array, against a raw ``np.save`` + ``np.load``, on a fresh folder each round. Prints the ratio.

    .venv/bin/python benchmarks/numpy_artifact_bench.py [--touch] [--rounds=15] [--dir=/tmp]

``--touch`` sums the loaded array, so a lazily mapped load pays for reading its pages too.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

from runyard.artifacts.builtin.numpy_materializer import NumpyMaterializer
from runyard.artifacts.stores.local import LocalArtifactStore


def _arg(name: str, default: str) -> str:
    return next((a.split("=", 1)[1] for a in sys.argv if a.startswith(f"--{name}=")), default)


def main() -> None:
    touch = "--touch" in sys.argv
    rounds = int(_arg("rounds", "15"))
    arr = np.random.default_rng(0).random(100 * 1024 * 1024 // 8)
    base = tempfile.mkdtemp(prefix="runyard-bench-", dir=_arg("dir", tempfile.gettempdir()))
    times: dict[str, list[float]] = {"raw_save": [], "raw_load": [], "save": [], "load": []}
    try:
        for i in range(rounds):
            arr[0] = i  # new content each round, so nothing is deduplicated
            raw = f"{base}/raw{i}.npy"
            os.sync()  # start each round without a backlog of dirty pages
            t0 = time.perf_counter()
            np.save(raw, arr)
            t1 = time.perf_counter()
            loaded = np.load(raw)
            _ = float(loaded.sum()) if touch else 0.0
            t2 = time.perf_counter()
            times["raw_save"].append(t1 - t0)
            times["raw_load"].append(t2 - t1)
            del loaded

            store = LocalArtifactStore(f"{base}/store{i}")
            os.sync()
            t0 = time.perf_counter()
            materializer = NumpyMaterializer(store)
            temp = store.new_temp_folder()
            materializer.save(arr, temp)
            uri, _hash, _size = store.finalize(temp, known_hashes=materializer.known_hashes)
            t1 = time.perf_counter()
            loaded = NumpyMaterializer(store).load(None, uri)
            _ = float(loaded.sum()) if touch else 0.0
            t2 = time.perf_counter()
            assert loaded[0] == i
            times["save"].append(t1 - t0)
            times["load"].append(t2 - t1)
            del loaded
            os.remove(raw)
            shutil.rmtree(f"{base}/store{i}")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    stats: tuple[tuple[str, Callable[[list[float]], float]], ...] = (("median", statistics.median), ("min", min))
    for label, pick in stats:
        rs, rl, s, ld = (pick(times[k][1:]) * 1000 for k in ("raw_save", "raw_load", "save", "load"))
        print(f"[{label}] touch={touch} raw save {rs:.1f} + load {rl:.1f} = {rs + rl:.1f} ms | "
              f"runyard save {s:.1f} + load {ld:.1f} = {s + ld:.1f} ms | ratio {(s + ld) / (rs + rl):.2f}x")


if __name__ == "__main__":
    main()
