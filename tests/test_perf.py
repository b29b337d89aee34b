"""The paused collector: nothing built in a sync is walked by the collector on the way out, and nothing cyclic
is lost for good; work in the background hands back what it made or raised."""

from __future__ import annotations

import gc
import weakref

import pytest

from syncer.perf import collect_frozen, in_background, paused_gc


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_what_a_paused_block_built_is_frozen_then_collected_when_asked() -> None:
    collect_frozen()
    with paused_gc():
        assert not gc.isenabled()
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: reference counting alone never frees it
        gone = weakref.ref(a)
        del a, b
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # the survivors are out of the collector's sight
    gc.collect()
    assert gone() is not None  # frozen: a collection pass neither walks nor frees it
    assert collect_frozen() >= 2
    assert gone() is None and gc.get_freeze_count() == 0


def test_a_block_run_with_the_collector_off_leaves_it_off_and_freezes_nothing() -> None:
    collect_frozen()
    gc.disable()
    try:
        with paused_gc():
            built = [Node() for _ in range(10)]
        assert not gc.isenabled() and gc.get_freeze_count() == 0 and len(built) == 10
    finally:
        gc.enable()


def test_work_in_the_background_hands_back_its_result_or_its_error() -> None:
    assert in_background(lambda: sum(range(10))).result() == 45

    def broken() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        in_background(broken).result()
