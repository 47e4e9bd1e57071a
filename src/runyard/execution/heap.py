"""Keeps the cyclic garbage collector off the heap that existed before a run started.

A pipeline script has usually imported numpy, scikit-learn or pandas before it calls the pipeline: a
heap of millions of long-lived objects. Every full collection walks all of them again, and the objects a
run allocates (module imports, compiled specs, answers from the workspace) are enough to trigger one or
two more of those walks than the user's code alone would, each costing 40-110 ms on these machines.
Freezing the existing heap for the duration of the run (``gc.freeze``) moves it out of the collector's
sight; unfreezing afterwards hands it back, so cyclic garbage that was pending before the run is still
collected later. Processes that froze their own heap (a pre-forking server, say) are left alone.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Freezes the objects alive now for the ``with`` body, unless someone else manages freezing."""
    if gc.get_freeze_count() or not gc.isenabled():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
