"""A source's independent requests, a bounded number at a time (SPEC §9 `max_in_flight`).

`Gate` lets at most `limit` requests of one source be on the wire at once, lets the fetch's token chains (run by
the thread that drives the fetch) go before queued background work, and holds every worker while one of them
waits out a 429. `Fanout` runs independent jobs on a small thread pool (inline at `limit` 1) and `in_order`
hands their pages on in the order a sequential fetch would have produced them, whatever order they finish in.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from syncer.retry import RetryPolicy, status_of

T = TypeVar("T")
R = TypeVar("R")


class Gate:
    """At most `limit` requests at once, token chains first; a 429 holds every other request of the source until
    the throttled request has waited (its RetryPolicy does the waiting, honouring Retry-After) and been answered."""

    def __init__(self, limit: int):
        self.limit = limit
        self._cond = threading.Condition()
        self._busy = 0  # requests on the wire
        self._waiting = 0  # token-chain requests waiting for a slot: they go first
        self._jobs_busy = 0  # background jobs' requests on the wire
        self._holders: set[int] = set()  # threads whose request was throttled: the source waits with them
        self._leading = False  # a token chain is being followed: one slot stays free for it between its requests
        self._local = threading.local()
        self.peak = 0  # most requests on the wire at once

    def call(self, policy: RetryPolicy, fn: Callable[[], T]) -> T:
        """`fn` (one request) under `policy`, each attempt in a slot. A 429 answer holds the source's other
        requests until this one has waited (as the policy says, honouring Retry-After) and been answered again."""

        def attempt() -> T:
            with self._slot():
                return fn()

        try:
            return policy.call(attempt)
        finally:
            with self._cond:  # answered, or given up: the source goes on
                self._holders.discard(threading.get_ident())
                self._cond.notify_all()

    @property
    def busy(self) -> int:
        """Requests on the wire now."""
        return self._busy

    @contextmanager
    def leading(self) -> Iterator[None]:
        """While the calling thread follows a token chain, background jobs use one slot fewer, so each next page
        is asked for the moment the last one is read (the chain is the fetch's critical path)."""
        with self._cond:
            self._leading = self.limit > 1
        try:
            yield
        finally:
            with self._cond:
                self._leading = False
                self._cond.notify_all()

    def background(self, fn: Callable[..., T]) -> Callable[..., T]:
        """`fn` for a pool thread: its requests queue behind the token chains'."""

        def run(*args: Any) -> T:
            self._local.background = True
            return fn(*args)

        return run

    @contextmanager
    def _slot(self) -> Iterator[None]:
        me, urgent = threading.get_ident(), not getattr(self._local, "background", False)
        with self._cond:
            self._waiting += urgent
            while not self._may_send(me, urgent):
                self._cond.wait()
            self._waiting -= urgent
            self._busy += 1
            self._jobs_busy += not urgent
            self.peak = max(self.peak, self._busy)
            self._cond.notify_all()
        try:
            yield
        except Exception as exc:
            if status_of(exc) == 429:  # held before the slot is given back: nothing else starts meanwhile
                with self._cond:
                    self._holders.add(me)
            raise
        finally:
            with self._cond:
                self._busy -= 1
                self._jobs_busy -= not urgent
                self._cond.notify_all()

    def _may_send(self, me: int, urgent: bool) -> bool:
        if self._busy >= self.limit:
            return False
        if self._holders:  # paused: only the throttled requests go (two throttled at once both retry)
            return me in self._holders
        return urgent or not self._waiting and self._jobs_busy < self.limit - self._leading


class Fanout:
    """Independent jobs of one fetch: on `limit` pool threads, or run at once in this thread when `limit` is 1."""

    def __init__(self, gate: Gate, name: str):
        self.gate = gate
        self._pool = ThreadPoolExecutor(gate.limit, f"syncer-{name}") if gate.limit > 1 else None
        self.beside = self._pool is not None  # whether jobs run beside the caller (else at `submit`, in turn)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        if self._pool is not None:
            return self._pool.submit(self.gate.background(fn), *args)
        done: Future[T] = Future()
        try:
            done.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - handed to whoever asks for the result, as a pool would
            done.set_exception(exc)
        return done

    @staticmethod
    def then(job: Future[T], pick: Callable[[T], R]) -> Future[R]:
        """A future of `pick(job's result)`, done when the job is (for `in_order`)."""
        out: Future[R] = Future()

        def done(f: Future[T]) -> None:
            try:
                out.set_result(pick(f.result()))
            except Exception as exc:  # noqa: BLE001 - the job's own failure, for whoever waits on `out`
                out.set_exception(exc)

        job.add_done_callback(done)
        return out

    def close(self, failed: bool) -> None:
        """Wait for the jobs; after a failure, drop the ones not started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=failed)

    @contextmanager
    def running(self) -> Iterator[Fanout]:
        try:
            yield self
        except BaseException:
            self.close(failed=True)
            raise
        self.close(failed=False)


def in_order(items: Generator[T | Future[list[T]], None, R]) -> Generator[T, None, R]:
    """Pages and futures of page lists, flattened in the order given, each future waited for only in its turn
    (so the producer never waits for a job: it goes on while earlier jobs run); returns what the producer does."""
    pending: deque[T | Future[list[T]]] = deque()
    try:
        while True:
            try:
                item = next(items)
            except StopIteration as end:
                outcome = end.value
                break
            pending.append(item)
            while pending and (not isinstance(pending[0], Future) or pending[0].done()):
                yield from _flat(pending.popleft())
        while pending:
            yield from _flat(pending.popleft())
        return outcome
    finally:
        items.close()  # a failed job or a consumer that stops early: the producer's pool stops too


def _flat(item: Any) -> Iterator[Any]:
    if isinstance(item, Future):
        yield from item.result()
    else:
        yield item
