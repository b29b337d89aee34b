"""Benchmark the sinks at scale: a full write, an unchanged run and a run with a few changed tasks, for the xlsx
workbook and the fake Google Sheet, with what each reads back and writes (a synthetic workbook of the real tabs'
shapes; the end-to-end runs of the whole sync are bench/sync.py's)."""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "tests")]
import responses  # noqa: E402
from fake_sheets import FakeSheets, make_sink  # noqa: E402

from syncer.sinks import Plan  # noqa: E402
from syncer.sinks.marks import SinkMarks  # noqa: E402
from syncer.sinks.xlsx import XlsxSink  # noqa: E402
from syncer.tables import CLOSED_PERIODS, HEADERS, INTAKE, OWNED_TABS, TASKS, Table  # noqa: E402

LOG = ["2026-11-20T09:00:00+01:00", "incremental", 1.5, 100, 100, 0, 0, 3, None, "0.1.0"]


def task_row(i: int, rng: random.Random, edit: int = 0) -> list:
    """A Tasks row of the tab's shape: text, ISO dates, hours, money, ratios and flags."""
    created = f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T09:00:00+01:00"
    return [
        "web" if i % 3 else "content", f"MKT-{i}", f"Task {i}: landing page copy" + (f" (v{edit})" if edit else ""),
        "Task", ("intake", "in_progress", "review", "done")[i % 4], "In Progress", f"person{i % 40}@acme.com",
        f"Campaign {i % 25}", f"Activity {i % 7}", "Content", f"61{i % 10:02d}", created, created, created,
        f"2026-{1 + i % 12:02d}-28", round(rng.uniform(1, 40), 2), round(rng.uniform(0, 60), 2),
        round(rng.uniform(0, 5000), 2), float(rng.choice((500, 1200, 2500))), None, None,
        round(rng.uniform(0, 30), 2), round(rng.uniform(0, 5), 2), 0.0, i % 9 == 0, i % 5 == 0, i % 2 == 0,
        f"https://acme.atlassian.net/browse/MKT-{i}",
    ]


def workbook_tables(n: int, edits: dict[int, int] | None = None) -> dict[str, Table]:
    """Every owned tab: `n` tasks, an intake row for every second one, the roll-ups a few thousand rows."""
    rng, edits = random.Random(7), edits or {}
    out: dict[str, Table] = {t: [list(HEADERS[t])] for t in OWNED_TABS if t != CLOSED_PERIODS}
    out[TASKS] += [task_row(i, rng, edits.get(i, 0)) for i in range(n)]
    out[INTAKE] += [["web", f"MKT-{i}", f"Task {i}", "intake", None, "default", "brief", "missing", "2026-02-03",
                     f"https://acme.atlassian.net/browse/MKT-{i}"] for i in range(0, n, 2)]
    for title in out:
        if title not in (TASKS, INTAKE):
            width = len(HEADERS[title])
            out[title] += [[f"{title} {k}", *(round(rng.uniform(0, 999), 2) for _ in range(width - 1))]
                           for k in range(max(50, n // 50))]
    return out


def timed(label: str, sink: Any, tables: dict[str, Table], marks: SinkMarks | None,
          requests: Callable[[], str]) -> Plan:
    started = time.perf_counter()
    sink.recall(marks)
    plan = sink.plan(tables)
    planned = time.perf_counter()
    sink.apply(plan, LOG)
    done = time.perf_counter()
    print(f"  {label:<38} plan {planned - started:6.2f} s  write {done - planned:6.2f} s  total {done - started:6.2f} s"
          f"  rows written {plan.rows_written:>7,}  {requests()}")
    return plan


def bench_xlsx(n: int, changed: int) -> None:
    print(f"xlsx, {n:,} tasks")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ops.xlsx"
        base = workbook_tables(n)
        size = lambda: f"file {path.stat().st_size / 1e6:.1f} MB"  # noqa: E731
        first = timed("full (new file)", XlsxSink(path), base, None, size)
        same = timed("unchanged (marks hold)", XlsxSink(path), workbook_tables(n), first.marks, size)
        edited = workbook_tables(n, {i * (n // changed): 1 for i in range(changed)})
        timed(f"{changed} tasks changed (marks hold)", XlsxSink(path), edited, same.marks, size)
        timed(f"{changed} more changed, without marks", XlsxSink(path), workbook_tables(n, {
            i * (n // changed): 2 for i in range(changed)}), None, size)


def bench_sheets(n: int, changed: int) -> None:
    print(f"Google Sheets (the fake), {n:,} tasks; 'fake' is the time the fake API took to answer, not the sink's")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeSheets()
        answer, spent = fake._route, [0.0]

        def route(request: Any) -> Any:  # the fake's own time, told apart from the sink's
            started = time.perf_counter()
            try:
                return answer(request)
            finally:
                spent[0] += time.perf_counter() - started

        fake._route = route  # type: ignore[method-assign]
        fake.install(rsps)
        info = fake.share("syncer@acme-ops.iam.gserviceaccount.com")

        def calls() -> str:
            kinds, taken = dict(fake.kinds()), spent[0]
            fake.calls.clear()
            spent[0] = 0.0
            return f"fake {taken:6.2f} s  requests {kinds}"

        first = timed("full (empty sheet)", make_sink(fake, info), workbook_tables(n), None, calls)
        same = timed("unchanged (stamp holds)", make_sink(fake, info), workbook_tables(n), first.marks, calls)
        edited = workbook_tables(n, {i * (n // changed): 1 for i in range(changed)})
        timed(f"{changed} tasks changed (stamp holds)", make_sink(fake, info), edited, same.marks, calls)
        sink = make_sink(fake, info)
        sink.recall(same.marks, recheck=True)
        started = time.perf_counter()
        plan = sink.plan(edited)
        print(f"  {'the same, a full run (reads back)':<38} plan {time.perf_counter() - started:6.2f} s"
              f"  rows to write {plan.rows_written:>7,}  {calls()}")


def main(argv: list[str] | None = None) -> int:
    """Print the figures for both sinks."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--changed", type=int, default=100)
    ap.add_argument("--sink", choices=("xlsx", "gsheet", "both"), default="both")
    args = ap.parse_args(argv)
    if args.sink in ("xlsx", "both"):
        bench_xlsx(args.tasks, args.changed)
    if args.sink in ("gsheet", "both"):
        bench_sheets(args.tasks, args.changed)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (both sinks, this process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
