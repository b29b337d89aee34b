"""Pausing the cyclic garbage collector while millions of small acyclic objects are built; work in the background."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")


@contextmanager
def paused_gc() -> Iterator[None]:
    """Tasks, worklogs and rows hold no reference cycles: collection passes during a sync only cost time
    (about 20% of mapping 100k tasks). Reference counting still frees everything as usual.

    On the way out, every object the collector tracks (all that lives, and any cyclic garbage made while it was
    paused) is frozen (`gc.freeze`) before collection resumes: the first pass after the block would otherwise walk
    every object built meanwhile only to find it alive (0.2 s after an incremental run over 100k tasks, more after
    a full one). Frozen cycles are collected only by `collect_frozen`: a process that runs several blocks and lives
    on (the daemon) calls it when it is idle; a one-shot `syncer run` exits instead."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.freeze()
            gc.enable()


def collect_frozen() -> int:
    """Collect what earlier `paused_gc` blocks left frozen, cycles included; returns how many objects were
    unreachable. The daemon calls it at the start of each wait between runs, when nobody waits for it."""
    gc.unfreeze()
    return gc.collect()


def in_background(work: Callable[[], T]) -> Future[T]:
    """`work` started on a thread of its own; `result()` waits for it (and raises what it raised). For work that
    releases the GIL (polars encoding a frame) beside work that needs it."""
    pool = ThreadPoolExecutor(1, "syncer-background")
    try:
        return pool.submit(work)
    finally:
        pool.shutdown(wait=False)  # the thread ends once `work` is done


def release_free_lists() -> None:
    """Give the memory a finished phase freed back to the system. CPython keeps freed tuples, floats, lists and
    dicts on free lists for reuse; after a read freed millions of objects, the few thousand left on those lists
    lie scattered over hundreds of 1 MiB arenas and keep each one alive (about 300 MB after reading 100k tasks).
    A full collection empties the lists, and collects the few cycles the phase left."""
    gc.collect()
