"""One sync: fetch, map, store, check rules, roll up, write the sink, record the run."""

from __future__ import annotations

import getpass
import os
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl

from syncer import __version__
from syncer.config import Config
from syncer.domain import stored
from syncer.domain.budget import BudgetLine, load_budget
from syncer.domain.close import PeriodAction, Periods, read_records, record_for, record_rows, rollup_with_closes
from syncer.domain.enforce import Decision, Mark, WriteBack, decide, marks_after
from syncer.domain.rollups import DomainResult, budget_index, checked_frames, domain_of_checked, fold_tasks, with_kept
from syncer.perf import in_background, paused_gc
from syncer.pipeline.reads import ReadPlan, Reads, is_full, read_sources
from syncer.progress import NO_PROGRESS, Progress
from syncer.retry import RetryPolicy
from syncer.sinks import Plan, Sink
from syncer.sinks.fanout import Writer, apply_all, make_writers, plan_all, recall_all, remember_all
from syncer.sources import Source, reported, source_class
from syncer.sources.replay import TASKS_ON, fetched_at, write_pages
from syncer.sources.writeback import send_writes
from syncer.state import SavedFrames, State, run_lock, tasks_of
from syncer.tables import BUDGET_ROLLUP, CLOSED_PERIODS, HEADERS, TASKS, RunRecord, Table, iso_local, sync_log_row


@dataclass(slots=True)
class RunResult:
    """What a run did, for the CLI summary and the tests."""

    run: RunRecord
    plan: Plan
    tasks_per_source: dict[str, int]
    stages: Counter
    summary: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    plans: list[tuple[str, Plan]] = field(default_factory=list)  # (where, its plan) per sink, in write order


def make_sources(cfg: Config, only: Sequence[str] = (), policy: RetryPolicy | None = None,
                 progress: Progress = NO_PROGRESS) -> list[Source]:
    """Instantiate the configured sources (all, or those named); each reports its pages to `progress`."""
    for name in only:
        cfg.source(name)  # raises a ConfigError naming the known sources
    out = []
    for i, s in enumerate(cfg.sources):
        if not only or s.name in only:
            out.append(source_class(s.kind)(s, cfg, where=f"sources[{i}]", policy=policy, progress=progress))
    return out


def save_pages(cfg: Config, name: str, folder: Path, now: datetime | None = None,
               progress: Progress = NO_PROGRESS) -> int:
    """`syncer fetch`: a full read of source `name`, its raw pages saved to `folder` for the replay source; the
    fetch is one phase of `progress` (pages, tasks, requests, waits)."""
    policy = RetryPolicy(on_attempt=progress.request, on_wait=progress.waited)
    (src,) = make_sources(cfg, [name], policy, progress)
    now = now or datetime.now(UTC)
    meta = src.replay_meta()
    api = meta.pop("api")
    progress.start(f"fetch {name}")
    count = write_pages(folder, api, reported(src.fetch_pages(None, now), progress, TASKS_ON[api]), source=name,
                        fetched_at=now.isoformat(), **meta)
    progress.end()
    return count


def snapshot_time(cfg: Config) -> datetime | None:
    """When every configured source is a saved snapshot (replay), the newest fetch time among them; else None.

    Figures that run "up to now" are then computed at that time, so a replay gives the same numbers on any day.
    """
    if not all(s.kind == "replay" for s in cfg.sources):
        return None
    stamps = [fetched_at(s.path) for s in cfg.sources]
    return max(stamps) if all(stamps) else None


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run: `full` reads everything, `dry_run` writes nothing anywhere, `only` names the sources to read."""

    full: bool = False
    dry_run: bool = False
    only: tuple[str, ...] = ()
    # A period close or reopen (SPEC §11): computed from the stored tasks, no source read, written like a sync.
    action: PeriodAction | None = None


@dataclass(frozen=True, slots=True)
class RunContext:
    """One run's fixed inputs: `now` is the wall clock (cursors, the Sync log), `as_of` the figures' reference time
    (the snapshot time for replays)."""

    cfg: Config
    opts: RunOptions
    state: State
    sources: Sequence[Source]
    sinks: Sequence[Writer]  # in write order; the first is the primary (finance's Budget tab is read from it)
    now: datetime
    as_of: datetime
    started: float  # time.monotonic() at the start, for the run's duration
    policy: RetryPolicy
    progress: Progress = NO_PROGRESS


def run_sync(
    cfg: Config,
    opts: RunOptions = RunOptions(),
    *,
    now: datetime | None = None,
    sink: Sink | None = None,
    sources: Sequence[Source] | None = None,
    policy: RetryPolicy | None = None,
    progress: Progress = NO_PROGRESS,
    sinks: Sequence[Sink] | None = None,
) -> RunResult:
    """Run one sync under the state lock. The state (cursors, tasks) advances only after every sink succeeded.

    A dry run writes nothing anywhere: no lock file, no state file (it reads the state if there is one).
    Each phase (fetch per source, compute, plan and write each sink) is reported to `progress`, and so are the
    default policy's retry waits (a policy passed in reports where it was told to). `sink` (one) or `sinks`
    (several, in write order) stand in for the configured ones (tests, benchmarks).
    """
    started = time.monotonic()
    as_of = now or snapshot_time(cfg)  # an explicit `now` (tests, benchmarks) wins
    now = now or datetime.now(UTC)
    policy = policy or RetryPolicy(on_attempt=progress.request, on_wait=progress.waited)
    with nullcontext() if opts.dry_run else run_lock(cfg.state.path), paused_gc():
        state = State(cfg.state.path, read_only=opts.dry_run)
        try:
            if opts.action is not None:
                sources = ()
            ctx = RunContext(
                cfg, opts, state, list(sources) if sources is not None else make_sources(cfg, opts.only, policy,
                                                                                           progress),
                make_writers(cfg, [sink] if sink is not None else sinks, policy), now, as_of or now, started, policy,
                progress,
            )
            return _run(ctx)
        finally:
            state.close()


def load_stored(state: State) -> tuple[dict[str, pl.DataFrame], str | None, bool]:
    """The stored frames, the intake-check digest saved with them, and whether they come from a state file of the
    JSON-blob format (to be rewritten as frames by the next commit)."""
    saved = state.frames()
    if saved is not None:
        return {**stored.empty(), **saved[0]}, saved[1], False
    legacy = state.legacy_tasks()
    return stored.frames_of(legacy), None, bool(legacy)


@dataclass(slots=True)
class Merged:
    """The run's model: the stored frames with this run's reads merged in, and what that changed."""

    frames: dict[str, pl.DataFrame]
    read: pl.DataFrame  # (source, key) of the tasks read now
    changed: int
    deleted: int
    save: bool  # the frames differ from the stored ones (or the stored ones are of the old format)
    stored_digest: str | None


def _read(ctx: RunContext, stored_keys: set[tuple[str, str]]) -> tuple[Reads, list[BudgetLine]]:
    """The sinks told what the state remembers, the budget read (the reads check intake against it), then every
    source read; the budget's warnings follow the reads' in `Reads.warnings`."""
    cfg, state = ctx.cfg, ctx.state
    full = {src.name: is_full(cfg, state, src.name, ctx.now, ctx.opts.full) for src in ctx.sources}
    # Unchanged tabs are neither read back nor written; a run due for a full read reads them back anyway.
    recall_all(ctx.sinks, state, recheck=any(f for f, _ in full.values()))
    budget_lines, budget_warnings = load_budget(cfg.budget, ctx.sinks[0].sink.read_tab)
    index = budget_index(cfg, budget_lines)
    plan = ReadPlan(cfg, state, ctx.now, full, lambda tasks: fold_tasks(tasks, cfg, index), ctx.progress)
    reads = read_sources(plan, ctx.sources, stored_keys)
    reads.warnings += budget_warnings
    return reads, budget_lines


def _merge(ctx: RunContext, loaded: tuple[dict[str, pl.DataFrame], str | None, bool], reads: Reads) -> Merged:
    old, digest, legacy = loaded
    fresh = reads.fresh()
    reads.folded.clear()
    frames, changed, gone = stored.read_into(old, fresh, reads.deleted, [s.name for s in ctx.cfg.sources])
    return Merged(frames, fresh["tasks"].select(stored.KEYS), changed, gone, bool(changed or gone or legacy), digest)


def _domain(ctx: RunContext, merged: Merged, budget_lines: list) -> tuple[DomainResult, str]:
    """The roll-ups of the merged frames. The tasks read now were checked as they were folded; the others keep
    their cached violations, unless what the check depends on changed since those were saved (then they are
    checked again, rebuilt from the frames)."""
    cfg, frames = ctx.cfg, merged.frames
    index = budget_index(cfg, budget_lines)
    digest = stored.check_digest(cfg, index, cfg.tz)
    if digest != merged.stored_digest and merged.read.height < frames["tasks"].height:  # some not read now
        rest = stored.without(frames, merged.read)
        again = fold_tasks(tasks_of(rest), cfg, index)["violations"]
        frames = {**frames, "violations": pl.concat([
            frames["violations"].join(merged.read, on=stored.KEYS, how="semi", maintain_order="left"), again])}
    checked = checked_frames(frames, cfg, ctx.as_of, budget_lines)
    return domain_of_checked(checked, cfg, ctx.as_of, budget_lines), digest


def _run(ctx: RunContext) -> RunResult:
    cfg, state = ctx.cfg, ctx.state
    loaded = load_stored(state)
    reads, budget_lines = _read(ctx, set(loaded[0]["tasks"].select(stored.KEYS).rows()))
    ctx.progress.start("compute")
    merged = _merge(ctx, loaded, reads)
    warnings = reads.warnings
    domain, digest = _domain(ctx, merged, budget_lines)
    with_kept(domain, reads.kept, merged.frames["tasks"], cfg.tz)
    warnings.extend(domain.warnings)
    warnings.extend(stored.default_warnings(merged.frames["defaulted"], cfg))
    marks = {k: Mark(*v) for k, v in state.intake_marks().items()}
    decision = _decide(ctx, merged.frames, domain, marks, merged.read)
    warnings.extend(decision.warnings)
    tables = {TASKS: domain.tasks_table, **domain.tables}
    tables.update(_closes(ctx, tables[BUDGET_ROLLUP], warnings))
    ctx.progress.end(tasks=domain.frames.tasks.height)
    saved = SavedFrames({**merged.frames, "violations": domain.violation_rows}, digest) if (
        merged.save or digest != merged.stored_digest) and not ctx.opts.dry_run else None
    encoding = in_background(saved.encoded) if saved is not None else None  # while the sinks plan and write
    plans = plan_all(ctx.sinks, tables, domain.frames, ctx.progress, warnings)
    plan = plans[0]
    run = RunRecord(
        run_at=ctx.now, mode=_mode(ctx.opts, reads.modes), fetched=reads.fetched, changed=merged.changed,
        deleted=merged.deleted, rows_written=sum(p.rows_written for p in plans),
        api_requests=reads.requests + sum(w.sink.requests for w in ctx.sinks),
        warnings=tuple(warnings), version=__version__,
    )
    tasks = domain.frames.tasks
    result = RunResult(
        run=run, plan=plan, tasks_per_source=dict(Counter(tasks["source"].to_list())),
        stages=Counter(tasks["stage"].to_list()), summary=domain.summary, tables=tables,
        plans=[(w.target, p) for w, p in zip(ctx.sinks, plans, strict=True)],
    )
    if cfg.intake.enforce != "report":
        result.summary["write_back"] = decision.counts()
    run.duration_s = time.monotonic() - ctx.started
    if ctx.opts.dry_run:
        return result
    # The log row counts the sink's reads so far; the state's run record gets the sink's final total.
    writes = list(zip(ctx.sinks, plans, strict=True))
    run.api_requests = reads.requests + apply_all(writes, sync_log_row(run, cfg.tz), ctx.progress)
    remember_all(writes, state)
    # Intake write-back only once the sheet is written; a failure is a warning (in the next run's Sync log).
    done, carried = _write_back(ctx, decision, run)
    if cfg.intake.enforce != "report":
        result.summary["write_back"] = Decision(done).counts()
    marks = marks_after(marks, done)
    known = set(domain.intake_ok)
    kept = {k: (m.labelled, m.digest) for k, m in marks.items() if k in known and m != Mark()}
    state.save_closed_rows(tables.get(CLOSED_PERIODS, [[]])[1:])
    state.commit(encoding.result() if encoding else None, reads.cursors, run, reads.checkpoints, marks=kept,
                 carried=carried)
    return result


def _mode(opts: RunOptions, modes: set[str]) -> str:
    """The Sync log's Mode: `full`, `incremental`, `dry-run`, or the period action (`close 2026-10`)."""
    if opts.action is not None:
        return f"{opts.action.action} {opts.action.period}"
    return "dry-run" if opts.dry_run else ("full" if "full" in modes else "incremental")


def _closes(ctx: RunContext, live: Table, warnings: list[str]) -> dict[str, Table]:
    """The Budget rollup as finance sees it and the Closed periods tab (SPEC §11), with the run's close or reopen
    if any; warnings about the tab's rows go to `warnings`.

    The Closed periods tab is the record: when it exists it wins over the state; when it is missing (a new
    workbook, a deleted tab) the state's copy writes it again, so neither a lost state file nor a lost tab
    reopens anything. Its rows are written back as read, the new ones after them: appended, never rewritten.
    """
    cfg, action, header = ctx.cfg, ctx.opts.action, HEADERS[CLOSED_PERIODS]
    tab = ctx.sinks[0].sink.read_tab(CLOSED_PERIODS)
    if tab and list(tab[0]) != header:  # not syncer's tab: the sink's plan refuses it, naming it
        return {CLOSED_PERIODS: [list(header)]}
    rows = [list(r) for r in tab[1:]] if tab else ctx.state.closed_rows()
    if not rows and action is None and not tab:  # nothing ever closed: no tab to add
        return {}
    periods = Periods(cfg.budget_period, cfg.fiscal_year_start_month)
    records, problems = read_records([header, *rows], cfg.budget_period)
    warnings.extend(problems)
    shown = rollup_with_closes(live, records, periods)
    if action is not None:
        today = ctx.as_of.astimezone(cfg.tz).date()
        rec = record_for(action, records, shown, today, periods, iso_local(ctx.now, cfg.tz) or "")
        rows += record_rows(rec)
        shown = rollup_with_closes(live, [*records, rec], periods)
    return {BUDGET_ROLLUP: shown, CLOSED_PERIODS: [list(header), *rows]}


def default_actor(env: Mapping[str, str] | None = None) -> str:
    """Who closes or reopens a period when `--by` is not given: `$GITHUB_ACTOR`, else the OS user."""
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTOR"):
        return env["GITHUB_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        return "unknown"


def change_period(cfg: Config, action: Literal["close", "reopen"], period: str, by: str | None = None,
                  reason: str | None = None, **run: Any) -> RunResult:
    """`syncer close` / `syncer reopen`: one run from the stored tasks that appends the record (SPEC §11); `by`
    defaults to `default_actor()`, `run` passes `now` and `sink` on to `run_sync`."""
    return run_sync(cfg, RunOptions(action=PeriodAction(action, period, by or default_actor(), reason)), **run)


def _decide(ctx: RunContext, frames: dict[str, pl.DataFrame], domain: DomainResult,
            marks: dict[tuple[str, str], Mark], read: pl.DataFrame) -> Decision:
    """This run's write-backs, for the sources read this run (the task and violation objects are built only when
    needed)."""
    if ctx.cfg.intake.enforce == "report":
        return Decision()
    names = [s.name for s in ctx.sources]
    mine = tasks_of({n: f.filter(pl.col("source").is_in(names)) for n, f in frames.items()})
    return decide(mine, domain.violations, ctx.cfg.intake.enforce, {s.name: s.kind for s in ctx.cfg.sources}, marks,
                  set(read.rows()))


def _write_back(ctx: RunContext, decision: Decision, run: RunRecord) -> tuple[list[WriteBack], list[str]]:
    """Send the decided writes; their requests and warnings go on the run record."""
    if not decision.writes:
        return [], []
    writers = {s.name: w for s in ctx.sources if (w := s.intake_writer()) is not None}
    done, carried, requests = send_writes(decision.writes, writers)
    run.api_requests += requests
    run.warnings += tuple(carried)
    return done, carried
