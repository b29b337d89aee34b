"""One run's reads: each source read in turn and its tasks folded into frames (intake-checked) as soon as it is
read, so no source's Task objects outlive its read; deletions and kept records decided as SPEC §9 says."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import polars as pl

from syncer.config import Config
from syncer.domain import stored
from syncer.model import Problem, Task
from syncer.perf import release_free_lists
from syncer.progress import NO_PROGRESS, Progress
from syncer.sources import Checkpoint, FetchResult, Source
from syncer.state import State

OVERLAP = timedelta(minutes=5)  # SPEC §9: re-read this much before the cursor (minute-precision JQL, clock skew)

Fold = Callable[[list[Task]], dict[str, pl.DataFrame]]  # tasks (sorted by source, key) -> their stored frames


@dataclass(slots=True)
class Reads:
    """What the sources returned this run (to be merged onto the stored frames)."""

    # Per source read: the stored frames of its tasks, their intake violations included (their labels are current)
    folded: list[dict[str, pl.DataFrame]] = field(default_factory=list)
    deleted: list[tuple[str, str]] = field(default_factory=list)  # gone: said so, or absent from a whole read
    fetched: int = 0
    requests: int = 0
    warnings: list[str] = field(default_factory=list)
    modes: set[str] = field(default_factory=set)
    cursors: dict[str, tuple[datetime, bool]] = field(default_factory=dict)
    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)
    kept: dict[tuple[str, str], Problem] = field(default_factory=dict)  # read but unmappable, by a field's fault

    def fresh(self) -> dict[str, pl.DataFrame]:
        """The stored frames of every task read, sorted by (source, key)."""
        parts = sorted(self.folded, key=lambda f: f["tasks"]["source"].first() or "")
        return {n: pl.concat([p[n] for p in parts]) for n in stored.SCHEMAS} if parts else stored.empty()


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """How this run reads: which sources in full (else since when), with `fold` making each read's frames."""

    cfg: Config
    state: State
    now: datetime
    full: Mapping[str, tuple[bool, datetime | None]]  # per source: `is_full`
    fold: Fold
    progress: Progress = NO_PROGRESS


def is_full(cfg: Config, state: State, name: str, now: datetime, full: bool) -> tuple[bool, datetime | None]:
    """Whether source `name` is read in full now (asked, never read, or due), else since when (SPEC §9)."""
    cur = state.cursor(name)
    if full or cur is None or cur.last_full is None or now - cur.last_full >= cfg.full_sync_every:
        return True, None
    return False, cur.cursor - OVERLAP


def read_sources(plan: ReadPlan, sources: Sequence[Source], stored_keys: set[tuple[str, str]]) -> Reads:
    """Read every source (incremental unless due for a full read); `stored_keys`: the tasks the state holds."""
    reads = Reads()
    reads.warnings += [f"previous run: {w}" for w in plan.state.carried_warnings()]
    for src in sources:
        _read_one(plan, src, reads, stored_keys)
        release_free_lists()  # the read's pages and tasks are freed: their memory goes back before the next
    return reads


def _read_one(plan: ReadPlan, src: Source, reads: Reads, stored_keys: set[tuple[str, str]]) -> None:
    """Read `src` into `reads`; its tasks live only until they are folded into frames."""
    full, since = plan.full[src.name]
    plan.progress.start(f"fetch {src.name}")
    result: FetchResult = src.read(since, plan.now, plan.state.checkpoint(src.name))
    reads.modes.add("full" if full or result.complete else "incremental")
    reads.fetched, reads.requests = reads.fetched + len(result.tasks), reads.requests + result.requests
    reads.warnings += [*result.warnings, *merge_read(reads, src.name, result, stored_keys)]
    reads.cursors[src.name] = (plan.now, (full or result.complete) and not result.anomalies)  # else: again
    if result.checkpoint is not None:
        reads.checkpoints[src.name] = result.checkpoint
    newest = {(t.source, t.key): t for t in result.tasks}  # a task read twice: its last version
    reads.folded.append(plan.fold([newest[k] for k in sorted(newest)]))
    plan.progress.end(tasks=len(result.tasks), requests=result.requests)  # the phase: read, mapped and folded


def merge_read(reads: Reads, name: str, result: FetchResult, stored_keys: set[tuple[str, str]]) -> list[str]:
    """Fold one source's read into `reads` (but its tasks); returns its warnings. Deletions come only from a read
    that provably saw everything (SPEC §9) or the source saying so; a record read but not mappable keeps its last
    good version."""
    notes = list(result.anomalies)
    if result.saw_everything:
        seen = {t.key for t in result.tasks} | set(result.kept)
        reads.deleted += [k for k in stored_keys if k[0] == name and k[1] not in seen]
    elif result.complete:
        notes.append(f"{name}: this full read may have missed tasks (see above), so no task was removed; "
                     "the next run reads everything again")
    reads.deleted += [(name, key) for key in result.deleted_keys]
    gone = set(reads.deleted)
    for key, problem in sorted(result.kept.items()):
        had = (name, key) in stored_keys and (name, key) not in gone
        reads.kept.update({(name, key): problem} if had and problem.field else {})  # an Intake row this run
        notes.append(f"{name} {key}: {problem.problem}; " + ("kept its last good version" if had else
                                                             "not added (no earlier version to keep)"))
    return notes
