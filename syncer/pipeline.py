"""One sync: fetch, map, store, check rules, roll up, write the sink, record the run."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from syncer import __version__
from syncer.config import Config
from syncer.domain.budget import load_budget
from syncer.domain.enforce import Decision, Mark, decide, marks_after, write_back
from syncer.domain.figures import TaskFigures, rate_table, task_figures
from syncer.domain.rollups import build_domain
from syncer.domain.tasks_tab import tasks_table
from syncer.model import Task
from syncer.perf import paused_gc
from syncer.retry import RetryPolicy
from syncer.sinks import Plan, Sink, sink_class
from syncer.sources import FetchResult, Source, source_class
from syncer.state import State, encode, run_lock
from syncer.tables import TASKS, RunRecord, Table, sync_log_row

OVERLAP = timedelta(minutes=5)  # SPEC §9: re-read this much before the cursor (minute-precision JQL, clock skew)


@dataclass(slots=True)
class RunResult:
    """What a run did, for the CLI summary and the tests."""

    run: RunRecord
    plan: Plan
    tasks_per_source: dict[str, int]
    stages: Counter
    summary: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)


def make_sources(cfg: Config, only: Sequence[str] = (), policy: RetryPolicy | None = None) -> list[Source]:
    """Instantiate the configured sources (all, or those named)."""
    for name in only:
        cfg.source(name)  # raises a ConfigError naming the known sources
    out = []
    for i, s in enumerate(cfg.sources):
        if not only or s.name in only:
            out.append(source_class(s.kind)(s, cfg, where=f"sources[{i}]", policy=policy))
    return out


def make_sink(cfg: Config, policy: RetryPolicy | None = None) -> Sink:
    """Instantiate the configured sink."""
    return sink_class(cfg.sink.kind).from_config(cfg.sink, cfg, policy=policy)


def _is_full(cfg: Config, state: State, name: str, now: datetime, full: bool) -> tuple[bool, datetime | None]:
    cur = state.cursor(name)
    if full or cur is None or cur.last_full is None or now - cur.last_full >= cfg.full_sync_every:
        return True, None
    return False, cur.cursor - OVERLAP


def snapshot_time(cfg: Config) -> datetime | None:
    """When every configured source is a saved snapshot (replay), the newest fetch time among them; else None.

    Figures that run "up to now" are then computed at that time, so a replay gives the same numbers on any day.
    """
    from syncer.sources.replay import fetched_at

    if not all(s.kind == "replay" for s in cfg.sources):
        return None
    stamps = [fetched_at(s.path) for s in cfg.sources]
    return max(stamps) if all(stamps) else None


def default_warnings(tasks: Sequence[Task], cfg: Config) -> list[str]:
    """One warning per status that reached its stage through a SPEC §4 default, naming where to map it."""
    index = {s.name: i for i, s in enumerate(cfg.sources)}
    seen = sorted({(t.source, status, stage.value) for t in tasks for status, stage in t.defaulted_statuses})
    return [
        f"{src}: status {status!r} -> {stage} by default (map it under sources[{index.get(src, '?')}].stages)"
        for src, status, stage in seen
    ]


def run_sync(
    cfg: Config,
    *,
    full: bool = False,
    dry_run: bool = False,
    only: Sequence[str] = (),
    now: datetime | None = None,
    clock: Callable[[], float] = time.monotonic,
    sink: Sink | None = None,
    sources: Sequence[Source] | None = None,
    policy: RetryPolicy | None = None,
) -> RunResult:
    """Run one sync under the state lock. The state (cursors, tasks) advances only after the sink succeeded.

    A dry run writes nothing anywhere: no lock file, no state file (it reads the state if there is one).
    """
    started = clock()
    as_of = now or snapshot_time(cfg)  # an explicit `now` (tests, benchmarks) wins
    now = now or datetime.now(UTC)
    with nullcontext() if dry_run else run_lock(cfg.state.path), paused_gc():
        state = State(cfg.state.path, read_only=dry_run)
        try:
            return _run(cfg, state, full, dry_run, only, now, as_of or now, started, clock, sink, sources, policy)
        finally:
            state.close()


def _run(cfg, state, full, dry_run, only, now, as_of, started, clock, sink, sources, policy) -> RunResult:
    sources = list(sources) if sources is not None else make_sources(cfg, only, policy)
    sink = sink or make_sink(cfg, policy)
    known = {s.name for s in cfg.sources}
    tasks = {(t.source, t.key): t for t in state.tasks() if t.source in known}
    old_hashes = state.hashes()  # all sources: those removed from the config are deleted with their tasks
    warnings: list[str] = [f"previous run: {w}" for w in state.carried_warnings()]
    fresh: set[tuple[str, str]] = set()  # tasks read from their source this run (their labels are current)
    fetched = requests = 0
    modes, cursors, checkpoints = set(), {}, {}
    for src in sources:
        is_full, since = _is_full(cfg, state, src.name, now, full)
        if hasattr(src, "load_checkpoint"):  # a source's own incremental data (e.g. Jira's worklog index)
            src.load_checkpoint(state.checkpoint(src.name))
        result: FetchResult = src.read(since, now)
        modes.add("full" if is_full or result.complete else "incremental")
        fetched += len(result.tasks)
        requests += result.requests
        warnings.extend(result.warnings)
        if result.complete:
            for key in [k for k in tasks if k[0] == src.name]:
                del tasks[key]
        for key in result.deleted_keys:
            tasks.pop((src.name, key), None)
        for t in result.tasks:
            tasks[(t.source, t.key)] = t
            fresh.add((t.source, t.key))
        cursors[src.name] = (now, is_full or result.complete)
        saved = src.checkpoint() if hasattr(src, "checkpoint") else None
        if saved is not None:
            checkpoints[src.name] = saved
    deletes = [k for k in old_hashes if k not in tasks]
    # Only tasks read this run can differ from their stored form: the rest were just decoded from it.
    encoded = {k: encode(tasks[k]) for k in fresh if k in tasks}
    upserts = [(k[0], k[1], h, data) for k, (h, data) in encoded.items() if old_hashes.get(k) != h]

    ordered = sorted(tasks.values(), key=lambda t: (t.source, t.key))
    rates = rate_table(ordered, cfg.rates.people, cfg.rates.default)
    figures: dict[tuple[str, str], TaskFigures] = {
        (t.source, t.key): task_figures(t, as_of, cfg.tz, rates, cfg.rates.default) for t in ordered
    }
    budget_lines, budget_warnings = load_budget(cfg.budget, sink)
    warnings.extend(budget_warnings)
    domain = build_domain(ordered, figures, cfg, as_of, budget_lines, rates)
    warnings.extend(domain.warnings)
    warnings.extend(default_warnings(ordered, cfg))
    marks, decision = _enforce(cfg, state, ordered, domain.violations, {s.name for s in sources}, fresh)
    warnings.extend(decision.warnings)
    tables = {TASKS: tasks_table(ordered, figures, cfg.tz, domain.intake_ok), **domain.tables}
    plan = sink.plan(tables)
    warnings.extend(plan.warnings)
    mode = "dry-run" if dry_run else ("full" if "full" in modes else "incremental")
    run = RunRecord(
        run_at=now, mode=mode, fetched=fetched, changed=len(upserts), deleted=len(deletes),
        rows_written=plan.rows_written, api_requests=requests + getattr(sink, "requests", 0),
        warnings=tuple(warnings), version=__version__,
    )
    result = RunResult(
        run=run, plan=plan, tasks_per_source=dict(Counter(t.source for t in ordered)),
        stages=Counter(t.stage.value for t in ordered), summary=domain.summary, tables=tables,
    )
    if cfg.intake.enforce != "report":
        result.summary["write_back"] = decision.counts()
    run.duration_s = clock() - started
    if dry_run:
        return result
    # The log row counts the sink's reads so far; the state's run record gets the sink's final total.
    run.api_requests = requests + sink.apply(plan, sync_log_row(run, cfg.tz))
    # Intake write-back only once the sheet is written; a failure is a warning (in the next run's Sync log).
    done, carried, wb_requests = write_back(decision.writes, sources, cfg, policy or RetryPolicy())
    run.api_requests += wb_requests
    run.warnings += tuple(carried)
    if cfg.intake.enforce != "report":
        result.summary["write_back"] = Decision(done).counts()
    marks = marks_after(marks, done)
    stored = {k: (m.labelled, m.digest) for k, m in marks.items() if k in tasks and m != Mark()}
    state.commit(upserts, deletes, cursors, run, checkpoints, marks=stored, carried=carried)
    return result


def _enforce(cfg: Config, state: State, tasks: list[Task], violations: list, read: set[str],
             fresh: set[tuple[str, str]]) -> tuple[dict[tuple[str, str], Mark], Decision]:
    """The stored write-back marks and this run's write-backs (for the sources read this run)."""
    marks = {k: Mark(*v) for k, v in state.intake_marks().items()}
    kinds = {s.name: s.kind for s in cfg.sources}
    mine = [t for t in tasks if t.source in read]
    return marks, decide(mine, violations, cfg.intake.enforce, kinds, marks, fresh)
