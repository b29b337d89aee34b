"""Benchmark the live Jira source on the fake Jira Cloud: requests and wall time, full and unchanged incremental.

Each read runs as `syncer run` runs it, with the garbage collector paused (`run_sync` pauses it for the whole run;
a 10,000-issue read with the collector running took 1.2 s more, 1.31-1.50x the bound instead of 1.15-1.17x)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import deque
from datetime import timedelta
from pathlib import Path

import responses

HERE = Path(__file__).resolve().parent
# Run as `python bench/jira.py`, this folder leads sys.path and this file would shadow the `jira` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]
from fake_jira import LOOKUPS, FakeJira, source_config  # noqa: E402
from fake_jira_api import CHANGELOG_ISSUES  # noqa: E402

from syncer.config import parse_config  # noqa: E402
from syncer.perf import paused_gc  # noqa: E402
from syncer.retry import RetryPolicy  # noqa: E402
from syncer.sources import FetchResult  # noqa: E402
from syncer.sources.jira.source import JiraSource  # noqa: E402


def run(fake: FakeJira, src: JiraSource, since, checkpoint=None) -> tuple[float, FetchResult, dict[str, int]]:
    """One read, as `syncer run` reads: with the collector paused (`run_sync` pauses it for the whole run)."""
    fake.calls.clear()
    with paused_gc():
        started = time.perf_counter()
        result = src.read(since, fake.now, checkpoint)
        return time.perf_counter() - started, result, dict(fake.calls)


def line(label: str, seconds: float, tasks: int, calls: dict[str, int], bound: int) -> str:
    total = sum(calls.values())
    detail = ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))
    verdict = "OK" if total <= bound else "OVER"
    return f"{label:<12} {tasks:>6} tasks  {total:>5} requests (bound {bound}, {verdict})  {seconds:7.2f} s  [{detail}]"


def graph_bound(fake: FakeJira, page_size: int, slots: int) -> int:
    """Latencies (steps) a full read's dependency graph needs with `slots` requests in flight and no time spent
    outside requests: the look-ups and search pages form one chain; each changelog batch's pages, a chain, can
    start once the batch's last issue was listed; each busy issue's worklog page once its search page arrived."""
    lookups, searches = len(LOOKUPS), math.ceil(len(fake.issues) / page_size)
    chain = lookups + searches
    releases: dict[int, list[int]] = {}  # step -> lengths of the jobs that may start then
    for n in fake.busy_positions():
        releases.setdefault(lookups + n // page_size + 1, []).append(1)
    for b, pages in enumerate(fake.changelog_batches()):
        last = min(len(fake.issues), (b + 1) * CHANGELOG_ISSUES) - 1
        releases.setdefault(lookups + last // page_size + 1, []).append(pages)
    ready: deque[int] = deque()
    running: list[int] = []  # requests left of each job on the wire
    step = done = 0
    while step <= chain or ready or running:
        ready.extend(releases.get(step, ()))
        while ready and len(running) < slots - (step < chain):
            running.append(ready.popleft())
        if running or step < chain:
            done = step + 1  # something was on the wire during this step
        running = [left - 1 for left in running if left > 1]
        step += 1
    return done


def main(argv: list[str] | None = None) -> int:
    """Print requests and wall time of a full and an unchanged incremental read against their bounds."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--issues", type=int, default=1000)
    ap.add_argument("--latency-ms", type=float, default=0.0, help="added to every fake response")
    ap.add_argument("--busy", type=int, default=None, help="issues with more than 20 worklogs (default: 5%%)")
    ap.add_argument("--page-size", type=int, default=100)
    ap.add_argument("--max-in-flight", type=int, default=4, help="the source's max_in_flight")
    args = ap.parse_args(argv)
    busy = args.issues // 20 if args.busy is None else args.busy
    fake = FakeJira()
    built = time.perf_counter()
    fake.populate(args.issues, seed=1, many_worklogs=busy)
    print(f"fake site: {args.issues} issues ({busy} with >20 worklogs), "
          f"{sum(len(r['histories']) for r in fake.issues.values())} changelog entries, "
          f"{len(fake.worklog_times)} worklogs; built in {time.perf_counter() - built:.1f} s; "
          f"latency {args.latency_ms:g} ms per request")
    fake.latency_s = args.latency_ms / 1000
    cfg = parse_config({"sources": [source_config(fake, page_size=args.page_size,
                                                              max_in_flight=args.max_in_flight)],
                        "sink": {"kind": "xlsx", "path": "bench.xlsx"}}, env={})
    src = JiraSource(cfg.sources[0], cfg, where="sources[0]", policy=RetryPolicy())
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        seconds, result, calls = run(fake, src, None)
        tasks = len(result.tasks)
        full_bound = math.ceil(args.issues / args.page_size) + fake.changelog_pages() + busy + len(LOOKUPS)
        print(line("full", seconds, tasks, calls, full_bound))
        print(f"{'':<12} bound = ceil({args.issues}/{args.page_size}) search + {fake.changelog_pages()} bulk "
              f"changelog pages + {busy} worklog + {len(LOOKUPS)} look-ups ({', '.join(LOOKUPS)})")
        steps = graph_bound(fake, args.page_size, args.max_in_flight)
        if args.latency_ms:
            floor = steps * args.latency_ms / 1000
            print(f"{'':<12} dependency-graph bound at {args.max_in_flight} in flight: {steps} latencies = "
                  f"{floor:.2f} s; measured {seconds:.2f} s = {seconds / floor:.2f}x the bound (target <= 1.3x)")
        fake.advance(minutes=15)
        saved = json.loads(json.dumps(result.checkpoint))  # as the state store keeps it
        src = JiraSource(cfg.sources[0], cfg, where="sources[0]", policy=RetryPolicy())
        seconds, result, calls = run(fake, src, fake.now - timedelta(minutes=20), saved)
        print(line("incremental", seconds, len(result.tasks), calls, 1 + 2))
        print(f"{'':<12} bound = 1 search + 2 worklog feeds (the look-ups come from the full run's checkpoint)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
