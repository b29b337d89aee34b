"""Benchmark of mapping + roll-ups: `python bench/rollups.py --tasks 100000` (demo generator, seeded, no I/O).

`--from demo` (default): raw Jira and Asana pages from the demo generator, timed through the same mapping as a
sync (`tasks_from_pages`), the per-task figures and every roll-up. `--from synthetic`: canonical tasks built
directly, timing the figures and roll-ups alone."""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Run as `python bench/rollups.py`, this folder leads sys.path, and bench/jira.py would shadow the `jira` package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

from syncer.config import Config  # noqa: E402
from syncer.domain.attention import attention_table  # noqa: E402
from syncer.domain.budget import BudgetLine  # noqa: E402
from syncer.domain.campaigns import Clock, campaigns_table  # noqa: E402
from syncer.domain.dashboard import DashboardInputs, dashboard_table  # noqa: E402
from syncer.domain.frames import model_frames  # noqa: E402
from syncer.domain.rollups import DomainResult, build_domain  # noqa: E402
from syncer.domain.weekly import weekly_table  # noqa: E402
from syncer.model import Stage, StageChange, Task, Worklog  # noqa: E402
from syncer.perf import paused_gc  # noqa: E402
from syncer.sources import MapContext  # noqa: E402
from syncer.sources.asana import mapping as asana  # noqa: E402
from syncer.sources.jira import mapping as jira  # noqa: E402
from syncer.tables import ATTENTION, BUDGET_ROLLUP, CAMPAIGNS, CAPACITY, DASHBOARD  # noqa: E402

NOW = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)
CATEGORIES = ["Design", "Copy", "Video", "Events", "Paid media", "Web", None]
ACTIVITIES = ["Creative", "Media", "Production", "Print", None]
GL = ["6100", "6200", "6300", "6400"]
FLOWS = [
    [Stage.BACKLOG, Stage.IN_PROGRESS, Stage.REVIEW, Stage.DONE],
    [Stage.BACKLOG, Stage.IN_PROGRESS, Stage.REVIEW, Stage.IN_PROGRESS, Stage.REVIEW, Stage.DONE],
    [Stage.BACKLOG, Stage.IN_PROGRESS, Stage.BLOCKED, Stage.IN_PROGRESS, Stage.DONE],
    [Stage.BACKLOG, Stage.IN_PROGRESS, Stage.REVIEW],
    [Stage.BACKLOG, Stage.CANCELLED],
    [Stage.BACKLOG],
    [],
]


def make_config() -> Config:
    """A config like the SPEC's example (Europe/Berlin, fiscal year from April, labour in budget)."""
    return Config.model_validate({
        "timezone": "Europe/Berlin", "fiscal_year_start_month": 4, "budget_period": "month",
        "sources": [{"name": "web", "kind": "replay", "path": "x"}, {"name": "content", "kind": "replay", "path": "y"}],
        "sink": {"kind": "xlsx", "path": "out.xlsx"}, "budget": {"file": "budget.csv"},
        "rates": {"default": 80, "people": {f"p{i}@acme.com": 90 + i for i in range(0, 60, 7)}},
        "capacity": {"hours_per_week": 32, "people": {"p1@acme.com": 20}},
    })


def make_tasks(n: int, worklogs_per_task: int = 10, seed: int = 7) -> list[Task]:
    """`n` canonical tasks over the two years before NOW, about `worklogs_per_task` worklogs each."""
    rnd = random.Random(seed)
    people = [f"p{i}@acme.com" for i in range(60)]
    campaigns = [f"Campaign {i:02d}" for i in range(25)] + [None]
    span = 730 * 86400
    tasks = []
    for i in range(n):
        created = NOW - timedelta(seconds=rnd.randrange(span))
        flow = rnd.choice(FLOWS)
        history, stage, at = [], Stage.INTAKE, created
        for nxt in flow:
            at = at + timedelta(hours=rnd.uniform(2, 24 * 12))
            if at >= NOW:
                break
            history.append(StageChange(at, stage, nxt, stage.value, nxt.value))
            stage = nxt
        end = history[-1].at if history and stage is Stage.DONE else NOW
        worklogs = [
            Worklog(rnd.choice(people), created + (end - created) * rnd.random(), rnd.choice((0.25, 0.5, 1, 1.5, 2, 3)))
            for _ in range(rnd.randint(0, 2 * worklogs_per_task))
        ]
        committed = rnd.choice((None, None, round(rnd.uniform(100, 20000), 2)))
        invoiced = round(committed * rnd.choice((0.5, 1, 1.1)), 2) if committed and rnd.random() < .6 else None
        tasks.append(Task(
            source="web" if i % 3 else "content", key=f"MKT-{i + 1}", title=f"Task {i + 1}", created_at=created,
            stage=stage, status=stage.value, created_stage=Stage.INTAKE, owner=rnd.choice(people + [None]),
            campaign=rnd.choice(campaigns), activity=rnd.choice(ACTIVITIES), gl_account=rnd.choice(GL),
            category=rnd.choice(CATEGORIES), due_date=(created + timedelta(days=rnd.randint(-2, 40))).date(),
            estimate_hours=rnd.choice((None, 0, 2, 4, 8, 16, 40)),
            planned_cost=rnd.choice((None, round(rnd.uniform(100, 20000), 2))), committed_amount=committed,
            invoiced_amount=invoiced,
            brief="x" * rnd.randint(0, 120), history=history, worklogs=worklogs,
        ))
    return tasks


def make_budget() -> list[BudgetLine]:
    """Quarter lines per campaign and G/L account for FY2025..FY2027, plus a few month and year lines."""
    lines = []
    for c in range(25):
        for gl in GL:
            for fy in (2025, 2026, 2027):
                for q in range(1, 5):
                    lines.append(BudgetLine(f"Campaign {c:02d}", None, gl, f"FY{fy}-Q{q}", 25000.0))
        lines.append(BudgetLine(f"Campaign {c:02d}", "Media", "6200", "FY2026", 120000.0))
        lines.append(BudgetLine(f"Campaign {c:02d}", "Print", "6300", "2026-05", 3000.0))
    return lines


def reference_loop() -> float:
    """CPU seconds of a fixed pure-Python loop (1M dict updates), to compare machines (lower is faster)."""
    c = time.process_time()
    d: dict[tuple[str, int], int] = {}
    for i in range(1_000_000):
        k = ("2026-W07", i % 60)
        d[k] = d.get(k, 0) + round(i * 0.5)
    return time.process_time() - c


def _timed(tasks: list[Task], cfg: Config, budget: list[BudgetLine]) -> tuple[list[float], DomainResult]:
    """[frames bridge wall, its CPU, figures + roll-ups wall, their CPU] seconds, and the result."""
    t1, c1 = time.perf_counter(), time.process_time()
    model_frames(tasks)  # the Python tasks -> columns bridge alone (build_domain does it again, inside)
    t2, c2 = time.perf_counter(), time.process_time()
    result = build_domain(tasks, cfg, NOW, budget)
    t3, c3 = time.perf_counter(), time.process_time()
    return [t2 - t1, c2 - c1, t3 - t2, c3 - c2], result


def demo_input(n: int, worklogs_per_task: int, seed: int) -> tuple[Config, list, list[BudgetLine], float]:
    """Demo-generator pages for `n` tasks, the demo config, its budget; returns (cfg, pages, budget, gen s)."""
    from demo.data import generate
    from syncer.config import load_config
    from syncer.domain.budget import budget_from_rows

    t0 = time.perf_counter()
    data = generate(n, seed, worklogs_per_task)
    gen_s = time.perf_counter() - t0
    cfg = load_config(Path(__file__).resolve().parents[1] / "config" / "demo.yaml", env={})
    rows = [line.split(",") for line in data.budget_csv.splitlines()]
    budget, _ = budget_from_rows(rows)
    return cfg, [data.jira, data.asana], budget, gen_s


def map_demo(cfg: Config, pages: list) -> list[Task]:
    """Map the generated pages exactly as a sync maps replayed ones."""
    from demo.asana import PROJECT_GID
    from demo.jira import BASE_URL

    web, content = cfg.sources
    tasks = jira.map_pages(pages[0], MapContext("web", web.fields, web.stages, cfg.tz, currency="EUR",
                                                   base_url=BASE_URL)).tasks
    more = asana.map_pages(pages[1], MapContext("content", content.fields, content.stages, cfg.tz, currency="EUR",
                                                   projects=(PROJECT_GID,))).tasks
    return tasks + more


def _weekly_alone(result: DomainResult, cfg: Config) -> tuple[float, float]:
    """The Weekly review tab recomputed from the run's frames and Capacity rows: (wall, CPU) seconds."""
    w0, c0 = time.perf_counter(), time.process_time()
    weekly_table(result.frames, NOW, cfg, result.tables[CAPACITY])
    return time.perf_counter() - w0, time.process_time() - c0


def _visibility_alone(result: DomainResult, cfg: Config) -> list[tuple[str, float, float]]:
    """Campaigns, Attention and the Dashboard recomputed from the run's frames and tabs: (tab, wall, CPU) each."""
    clock = Clock.of(NOW, cfg.timezone)
    monthly = result.tables[BUDGET_ROLLUP]  # the bench's budget is by month
    steps = {
        CAMPAIGNS: lambda: campaigns_table(result.frames, clock, result.tables[BUDGET_ROLLUP], cfg.labour_in_budget),
        ATTENTION: lambda: attention_table(result.frames, clock, cfg.attention.due_soon_days, cfg.attention.stale_days),
        DASHBOARD: lambda: dashboard_table(result.frames, clock, DashboardInputs(
            result.tables, monthly, cfg.labour_in_budget, cfg.fiscal_year_start_month)),
    }
    out = []
    for tab, step in steps.items():
        w0, c0 = time.perf_counter(), time.process_time()
        step()
        out.append((tab, time.perf_counter() - w0, time.process_time() - c0))
    return out


def main(argv: list[str] | None = None) -> int:
    """Generate, then time the per-task figures and `build_domain` separately; print throughput and memory."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--worklogs-per-task", type=int, default=10)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=1, help="run the roll-ups N times and report the fastest")
    ap.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    ap.add_argument("--from", dest="origin", choices=("demo", "synthetic"), default="demo")
    args = ap.parse_args(argv)
    map_s = map_c = 0.0
    if args.origin == "demo":
        cfg, pages, budget, gen_s = demo_input(args.tasks, args.worklogs_per_task, args.seed)
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        with paused_gc():  # as a sync maps and rolls up (syncer.pipeline)
            tasks = map_demo(cfg, pages)
        map_s, map_c = time.perf_counter() - t0, time.process_time() - c0
    else:
        cfg, budget = make_config(), make_budget()
        t0 = time.perf_counter()
        tasks = make_tasks(args.tasks, args.worklogs_per_task, args.seed)
        gen_s = time.perf_counter() - t0
    n_logs = sum(len(t.worklogs) for t in tasks)
    rss_after_gen = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gc.collect()
    if args.tracemalloc:
        tracemalloc.start()
    runs: list[list[float]] = []
    result: DomainResult | None = None
    for _ in range(max(args.repeat, 1)):
        result = None  # let the previous run's result go before the next one
        with paused_gc():
            times, result = _timed(tasks, cfg, budget)
        runs.append(times)
    assert result is not None
    fw, fc, rw, rc = min(runs, key=lambda r: r[0] + r[2])
    peak_traced = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = {name: len(tab) - 1 for name, tab in result.tables.items()}
    print(f"tasks {len(tasks):,}  worklogs {n_logs:,}  budget lines {len(budget):,}  (generated in {gen_s:.1f} s)")
    if args.origin == "demo":
        print(f"mapping raw pages  {map_s:6.2f} s wall {map_c:6.2f} s CPU   (jira + asana tasks_from_pages)")
    print(f"tasks -> frames    {fw:6.2f} s wall {fc:6.2f} s CPU")
    print(f"figures + roll-ups {rw:6.2f} s wall {rc:6.2f} s CPU   rows: {rows}")
    ww, wc = _weekly_alone(result, cfg)
    print(f"  of which the Weekly review tab about {ww:6.2f} s wall {wc:6.2f} s CPU (timed again on its own)")
    for tab, vw, vc in _visibility_alone(result, cfg):
        print(f"  of which the {tab} tab about {vw:6.2f} s wall {vc:6.2f} s CPU (timed again on its own)")
    fw, fc = fw + map_s, fc + map_c  # the total includes the mapping
    print(f"total              {fw + rw:6.2f} s wall {fc + rc:6.2f} s CPU   {len(tasks) / (fw + rw):,.0f} tasks/s "
          f"({len(tasks) / rw:,.0f} tasks/s for the roll-ups alone); load average {os.getloadavg()[0]:.1f}")
    print(f"peak RSS {rss:,.0f} MiB (after generating the data: {rss_after_gen:,.0f} MiB)"
          + (f"; traced peak during roll-ups {peak_traced:,.0f} MiB" if peak_traced is not None else ""))
    print(f"machine: reference loop {reference_loop():.2f} s CPU (1M dict updates; lower is faster)")
    print(f"summary: violations {result.summary['intake_violations']:,}, intake complete "
          f"{result.summary['intake_complete']}, median cycle {result.summary['median_cycle_days']} d")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
