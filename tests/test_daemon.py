"""`syncer daemon`: the schedule (jitter, backoff, cap, reset), failures that never end the loop, clean stops."""

from __future__ import annotations

import gc
import logging
import os
import random
import signal
import threading
import time
import weakref
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from syncer.cli import main
from syncer.errors import ConfigError, LockedError, SinkError, SourceError
from syncer.ops.daemon import Schedule, collect_then_wait, human, run_forever, stop_on_signals
from syncer.perf import paused_gc

ROOT = Path(__file__).resolve().parents[1]
EVERY = 900.0


class Flat:
    """An rng whose jitter is always `at` (-1: the low end, 0: none, 1: the high end), in units of the jitter."""

    def __init__(self, at: float = 0.0):
        self.at = at

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * (self.at + 1) / 2


def loop(outcomes: list, rng=None, every: float = EVERY, **kw):
    """Run the loop over scripted outcomes (a str, or an exception to raise); returns (sleeps, calls, code)."""
    stop, sleeps, script = threading.Event(), [], list(outcomes)

    def run_once() -> str:
        step = script.pop(0)
        if not script:
            stop.set()  # the last scripted run: stop after it, as a signal during the run would
        if isinstance(step, BaseException):
            raise step
        return step

    code = run_forever(run_once, Schedule(every, **kw), stop, sleep=sleeps.append, rng=rng or Flat())
    return sleeps, len(outcomes) - len(script), code


def test_a_success_waits_every_within_ten_percent():
    rng = random.Random(7)
    waits = [Schedule(EVERY).delay(0, rng) for _ in range(2000)]
    assert all(0.9 * EVERY <= w <= 1.1 * EVERY for w in waits)
    assert max(waits) - min(waits) > 0.15 * EVERY  # it does jitter, over most of the range
    assert Schedule(EVERY).delay(0, Flat(-1)) == pytest.approx(0.9 * EVERY)
    assert Schedule(EVERY).delay(0, Flat(1)) == pytest.approx(1.1 * EVERY)


def test_backoff_doubles_per_failure_in_a_row_up_to_the_cap():
    s = Schedule(EVERY)  # 15 min, capped at 1 h
    assert [s.delay(n, Flat()) for n in range(6)] == [900, 1800, 3600, 3600, 3600, 3600]
    assert s.delay(10_000, Flat()) == 3600  # no overflow after days of failures
    rng = random.Random(3)
    for n in range(1, 8):
        base = min(3600, EVERY * 2**n)
        assert all(0.9 * base <= s.delay(n, rng) <= 1.1 * base for _ in range(200))


def test_a_custom_cap_and_an_interval_longer_than_the_cap():
    assert Schedule(60, cap=300).delay(5, Flat()) == 300
    assert Schedule(7200).delay(3, Flat()) == 7200  # backing off never waits less than the normal interval


def test_backoff_grows_with_failures_and_resets_on_success():
    script = ["ok", SourceError("Jira down"), SinkError("sheet down"), SourceError("still"), "ok", "ok"]
    sleeps, calls, code = loop(script)
    assert code == 0 and calls == 6
    assert sleeps == [900, 1800, 3600, 3600, 900]  # the last run stopped the loop: no sleep after it


def test_a_failing_run_never_ends_the_loop(caplog):
    caplog.set_level(logging.INFO, logger="syncer.ops.daemon")
    script = ["ok", RuntimeError("boom"), ConfigError(["sources[0]: Jira rejected the credentials (HTTP 401)"]),
              SourceError("Asana kept failing"), KeyError("x"), "ok"]
    sleeps, calls, code = loop(script)
    assert code == 0 and calls == 6 and len(sleeps) == 5
    text = caplog.text
    assert "unexpected error: RuntimeError: boom" in text
    assert "FAILED (2 in a row) in 0.0 s: config error: sources[0]: Jira rejected the credentials" in text
    assert "FAILED (4 in a row)" in text and "run 6 ok" in text and "stopping" in text


def test_a_config_error_before_any_success_is_a_startup_error():
    with pytest.raises(ConfigError):
        loop([ConfigError("sources[0].token: rejected"), "ok"])


def test_another_sync_holding_the_lock_is_not_a_failure(caplog):
    caplog.set_level(logging.INFO, logger="syncer.ops.daemon")
    sleeps, _, _ = loop([SourceError("down"), LockedError("another sync holds the lock"), SourceError("down"), "ok"])
    assert sleeps == [1800, 900, 3600]  # normal wait while locked; the failure streak goes on afterwards
    assert "run 2 skipped" in caplog.text and "WARNING" not in caplog.records[1].levelname


def test_one_log_line_per_run_with_the_next_wait(caplog):
    caplog.set_level(logging.INFO, logger="syncer.ops.daemon")
    loop(["incremental sync, fetched 3", SourceError("Jira at x: HTTP 503"), "fine"])
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "run 1 ok in 0.0 s: incremental sync, fetched 3; next run in 15m 00s"
    assert lines[1] == "run 2 FAILED (1 in a row) in 0.0 s: sync failed: Jira at x: HTTP 503; next run in 30m 00s"
    assert lines[2] == "run 3 ok in 0.0 s: fine; stopping"
    assert [r.levelname for r in caplog.records[:3]] == ["INFO", "WARNING", "INFO"]


def test_the_duration_comes_from_the_injected_clock(caplog):
    caplog.set_level(logging.INFO, logger="syncer.ops.daemon")
    ticks = iter([100.0, 112.5])
    stop = threading.Event()
    run_forever(lambda: stop.set() or "done", Schedule(60), stop, sleep=lambda s: None, clock=lambda: next(ticks))
    assert "run 1 ok in 12.5 s: done; stopping" in caplog.text


def test_human_durations():
    assert [human(45), human(872), human(3600), human(11100)] == ["45s", "14m 32s", "1h 00m", "3h 05m"]


def test_sigterm_during_the_sleep_ends_it_at_once():
    stop, ran = threading.Event(), threading.Event()

    def run_once() -> str:
        ran.set()
        return "ok"

    def send() -> None:
        ran.wait(10)
        time.sleep(0.2)  # into the hour-long wait
        os.kill(os.getpid(), signal.SIGTERM)

    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the real interruptible wait, recording how long it was asked to wait
        waits.append(seconds)
        stop.wait(seconds)

    before = signal.getsignal(signal.SIGTERM)
    threading.Thread(target=send, daemon=True).start()
    with stop_on_signals(stop):
        code = run_forever(run_once, Schedule(3600), stop, sleep=sleep)
    # Asked to wait about an hour, it returned: the signal ended the wait (else this test would hang for an hour).
    assert code == 0 and len(waits) == 1 and waits[0] > 3000 and stop.is_set()
    assert signal.getsignal(signal.SIGTERM) is before  # the previous handler is back


def test_a_signal_during_a_run_finishes_that_run_then_stops():
    stop, calls = threading.Event(), []

    def run_once() -> str:
        calls.append("start")
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)  # Ctrl-C mid-sync
        time.sleep(0.2)
        calls.append("finished")
        return "ok"

    with stop_on_signals(stop):
        code = run_forever(run_once, Schedule(3600), stop, sleep=lambda s: pytest.fail("slept after a stop"))
    assert code == 0 and calls == ["start", "finished"]


def test_a_second_signal_aborts_at_once():
    with stop_on_signals(threading.Event()):
        handler = signal.getsignal(signal.SIGTERM)
        handler(signal.SIGTERM, None)
        with pytest.raises(KeyboardInterrupt):
            handler(signal.SIGTERM, None)


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_wait_between_runs_first_collects_what_the_last_run_left_frozen():
    with paused_gc():
        gone = weakref.ref(_Cycle())  # cyclic garbage made while the collector was paused: frozen on the way out
    gc.collect()
    assert gone() is not None
    stop = threading.Event()
    stop.set()
    assert collect_then_wait(stop)(3600) is True  # a stop already asked for ends the wait at once
    assert gone() is None and gc.get_freeze_count() == 0


@pytest.fixture
def demo_config(tmp_path, monkeypatch):
    cfg = yaml.safe_load((ROOT / "config/demo.yaml").read_text())
    cfg["sink"]["path"] = str(tmp_path / "demo.xlsx")
    cfg["state"]["path"] = str(tmp_path / "state.db")
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    monkeypatch.chdir(ROOT)
    return path


def test_cli_daemon_syncs_then_exits_0_on_sigterm(demo_config, tmp_path):
    def send() -> None:
        deadline = time.monotonic() + 60
        while not (tmp_path / "demo.xlsx").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=send, daemon=True).start()
    result = CliRunner().invoke(main, ["daemon", "--config", str(demo_config), "--every", "1h"])
    assert result.exit_code == 0, result.output
    assert "run 1 ok" in result.output and "full sync, fetched 240" in result.output
    assert "next run in" in result.output and "received SIGTERM" in result.output


def test_cli_daemon_config_error_at_startup_exits_2(tmp_path):
    path = tmp_path / "syncer.yaml"
    path.write_text(yaml.safe_dump({"sources": [{"name": "a", "kind": "asana", "token": "${NOPE_TOKEN}",
                                                 "projects": ["1"]}], "sink": {"kind": "xlsx", "path": "x.xlsx"}}))
    result = CliRunner().invoke(main, ["daemon", "--config", str(path)], env={"NOPE_TOKEN": None})
    assert result.exit_code == 2 and "NOPE_TOKEN is not set" in result.output


@pytest.mark.parametrize("every", ["soon", "0s", "15x"])
def test_cli_daemon_rejects_a_bad_interval(demo_config, every):
    result = CliRunner().invoke(main, ["daemon", "--config", str(demo_config), "--every", every])
    assert result.exit_code == 2 and "--every" in result.output
