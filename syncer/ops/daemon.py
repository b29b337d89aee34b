"""`syncer daemon`: sync, sleep `every` with jitter, back off after failures, stop between steps on a signal."""

from __future__ import annotations

import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from syncer.config import Config
from syncer.errors import ConfigError, LockedError, SyncerError
from syncer.perf import collect_frozen
from syncer.pipeline import run_sync

log = logging.getLogger("syncer.ops.daemon")

JITTER = 0.10  # +-10% of every wait, so several daemons (or a daemon and cron) drift apart
MAX_BACKOFF_S = 3600.0
MAX_DOUBLINGS = 30  # 2**30 intervals is past any cap; keeps the float arithmetic finite
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True, slots=True)
class Schedule:
    """The wait after a run: `every` after a success, doubling with each failure in a row up to `cap` (or `every`,
    if longer); every wait jittered by +-`jitter`."""

    every: float
    jitter: float = JITTER
    cap: float = MAX_BACKOFF_S

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to sleep after a run, given the failures in a row so far (0 after a success)."""
        base = min(max(self.cap, self.every), self.every * 2 ** min(failures, MAX_DOUBLINGS))
        return base * (1 + rng.uniform(-self.jitter, self.jitter))


def human(seconds: float) -> str:
    """`3h 05m`, `14m 32s`, `45s`."""
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s}s"


def run_forever(
    run_once: Callable[[], str],
    schedule: Schedule,
    stop: threading.Event,
    *,
    sleep: Callable[[float], Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> int:
    """Call `run_once` (it returns a one-line outcome, or raises) until `stop` is set; returns 0.

    A failing run never ends the loop: it is logged and the next wait backs off. The one exception is a
    ConfigError before any run succeeded: that config has never worked, so it is raised (exit 2) rather than
    retried forever. `sleep` defaults to `stop.wait`, so a stop request ends a wait at once.
    """
    sleep = sleep or stop.wait
    rng = rng or random.Random()
    failures = runs = 0
    succeeded = False
    while not stop.is_set():
        runs += 1
        started = clock()
        ok: bool | None = True
        try:
            outcome = run_once()
        except LockedError as e:  # another sync is doing the work: neither a success nor a failure
            ok, outcome = None, str(e)
        except ConfigError as e:
            if not succeeded:
                raise
            ok, outcome = False, "config error: " + "; ".join(e.problems)
        except SyncerError as e:
            ok, outcome = False, f"sync failed: {e}"
        except Exception as e:  # a daemon outlives surprises; the traceback is there with -v
            log.debug("run %d raised", runs, exc_info=True)
            ok, outcome = False, f"unexpected error: {type(e).__name__}: {e} (run with -v for the traceback)"
        took = clock() - started
        if ok:
            failures, succeeded = 0, True
        elif ok is False:
            failures += 1
        state = {True: "ok", None: "skipped", False: f"FAILED ({failures} in a row)"}[ok]
        line = f"run {runs} {state} in {took:.1f} s: {' '.join(outcome.split())}"  # one line, whatever the error
        if stop.is_set():
            _emit(ok, f"{line}; stopping")
            break
        wait = schedule.delay(failures if ok is False else 0, rng)
        _emit(ok, f"{line}; next run in {human(wait)}")
        sleep(wait)
    log.info("daemon stopped after %d run(s)", runs)
    return 0


def _emit(ok: bool | None, line: str) -> None:
    if ok is False:
        log.warning("%s", line)
    else:
        log.info("%s", line)


@contextmanager
def stop_on_signals(stop: threading.Event, signals: tuple[int, ...] = STOP_SIGNALS) -> Iterator[None]:
    """Set `stop` on SIGTERM/SIGINT (a second signal aborts at once); restore the previous handlers afterwards."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may install handlers
        yield
        return
    received: list[str] = []

    def request_stop(name: str) -> None:
        log.info("received %s: stopping after the current step (send it again to abort)", name)
        stop.set()

    def handler(signum: int, frame: Any) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signal.Signals(signum).name)
        # Event.set takes a lock the interrupted main thread may be holding (inside Event.wait), so setting it
        # (or logging) here could deadlock; another thread waits for those locks instead.
        threading.Thread(target=request_stop, args=(received[0],), name="syncer-stop", daemon=True).start()

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def sync_once(cfg: Config) -> str:
    """One `syncer run`, summarised on one line."""
    r = run_sync(cfg).run
    return (f"{r.mode} sync, fetched {r.fetched}, changed {r.changed}, deleted {r.deleted}, rows written "
            f"{r.rows_written}, {r.api_requests} API request(s), {len(r.warnings)} warning(s)")


def serve(cfg: Config, every: float, verbose: bool = False) -> int:
    """The `syncer daemon` command: the loop around `sync_once`, stopped by SIGTERM/SIGINT; returns 0."""
    # Each run's outcome is the point of a daemon's log, so this logger speaks at INFO even without -v.
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    stop = threading.Event()
    log.info("daemon started: a sync every %s (+-%d%%), backing off up to %s after failures",
             human(every), round(JITTER * 100), human(max(MAX_BACKOFF_S, every)))
    with stop_on_signals(stop):
        return run_forever(lambda: sync_once(cfg), Schedule(every), stop, sleep=collect_then_wait(stop))


def collect_then_wait(stop: threading.Event) -> Callable[[float], bool]:
    """The daemon's wait between runs: first the garbage the last run left frozen (`perf.paused_gc`), cycles
    included, is collected, while nobody waits for it; then `stop.wait`."""
    def wait(seconds: float) -> bool:
        collect_frozen()
        return stop.wait(seconds)

    return wait
