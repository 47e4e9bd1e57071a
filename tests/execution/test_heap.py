"""A pipeline call keeps the collector off the heap that existed before it, and gives it back after."""

from __future__ import annotations

import gc

from runyard import pipeline, step
from runyard.execution.heap import frozen_heap

seen: list[int] = []


@step
def note_freeze_count() -> int:
    seen.append(gc.get_freeze_count())
    return 1


@pipeline(enable_cache=False)
def watched():
    note_freeze_count()


def test_a_run_freezes_the_existing_heap_and_unfreezes_it_after() -> None:
    seen.clear()
    gc.unfreeze()  # an app built by an earlier test in this process may have frozen its heap
    before = [object() for _ in range(100)]  # objects alive before the call are among the frozen
    assert gc.get_freeze_count() == 0
    run = watched()
    assert run.status == "completed"
    assert seen and seen[0] >= len(before)
    assert gc.get_freeze_count() == 0


def test_a_heap_frozen_by_the_caller_stays_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with frozen_heap():  # frozen objects freed meanwhile leave the count: it may only shrink a little
            assert 0 < gc.get_freeze_count() <= frozen
        assert gc.get_freeze_count() > frozen // 2  # the caller's freeze is not undone
    finally:
        gc.unfreeze()


def test_nothing_is_frozen_while_the_collector_is_disabled() -> None:
    gc.unfreeze()
    gc.disable()
    try:
        with frozen_heap():
            assert gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_an_error_in_the_body_still_unfreezes() -> None:
    gc.unfreeze()
    try:
        with frozen_heap():
            assert gc.get_freeze_count() > 0
            raise KeyError("boom")
    except KeyError:
        pass
    assert gc.get_freeze_count() == 0
