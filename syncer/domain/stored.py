"""The model as stored between runs: the frames plus what mapping noted per task, merged with what a run read.

Pure functions of frames. Named frames (`tasks`, `changes`, `worklogs`, `flags`, `problems`, `defaulted`,
`violations`) are what the state saves; `violations` caches each task's intake check, valid while the digest of
what the check depends on (`check_digest`) is unchanged, so a run re-checks only the tasks it read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import tzinfo

import polars as pl

from syncer.config import Config
from syncer.domain.frames import (
    CHANGES_SCHEMA,
    FLAGS_SCHEMA,
    IN_TASK_ORDER,
    KEY,
    MODEL_SCHEMA,
    TASK_STARTS,
    UTC_TIME,
    WORKLOGS_SCHEMA,
    Frames,
    model_frames,
)
from syncer.domain.intake import BudgetIndex, Violation
from syncer.model import Stage, Task

PROBLEMS_SCHEMA = pl.Schema({**KEY, "rule": pl.String, "field": pl.String, "problem": pl.String})
DEFAULTED_SCHEMA = pl.Schema({**KEY, "status": pl.String, "stage": pl.String})
VIOLATIONS_SCHEMA = pl.Schema({
    **KEY, "title": pl.String, "stage": pl.String, "owner": pl.String, "url": pl.String, "rule": pl.String,
    "field": pl.String, "problem": pl.String, "since": UTC_TIME,
})
SCHEMAS = {"tasks": MODEL_SCHEMA, "changes": CHANGES_SCHEMA, "worklogs": WORKLOGS_SCHEMA, "flags": FLAGS_SCHEMA,
           "problems": PROBLEMS_SCHEMA, "defaulted": DEFAULTED_SCHEMA, "violations": VIOLATIONS_SCHEMA}
KEYS = list(KEY)


def empty() -> dict[str, pl.DataFrame]:
    """No tasks at all."""
    return {name: pl.DataFrame(schema=schema) for name, schema in SCHEMAS.items()}


def frames_of(tasks: list[Task], violations: Iterable[Violation] = ()) -> dict[str, pl.DataFrame]:
    """The stored frames of Python tasks (and their intake violations)."""
    model = model_frames(tasks)
    problems = [(t.source, t.key, p.rule, p.field, p.problem) for t in tasks for p in t.problems]
    defaulted = [(t.source, t.key, status, stage.value) for t in tasks for status, stage in t.defaulted_statuses]
    return {"tasks": model.tasks, "changes": model.changes, "worklogs": model.worklogs, "flags": model.flags,
            "problems": pl.DataFrame(problems, schema=PROBLEMS_SCHEMA, orient="row"),
            "defaulted": pl.DataFrame(defaulted, schema=DEFAULTED_SCHEMA, orient="row"),
            "violations": violations_frame(violations)}


def violations_frame(violations: Iterable[Violation]) -> pl.DataFrame:
    rows = [(v.source, v.key, v.title, v.stage.value, v.owner, v.url, v.rule, v.field, v.problem, v.since)
            for v in violations]
    return pl.DataFrame(rows, schema=VIOLATIONS_SCHEMA, orient="row")


def violations_of(frame: pl.DataFrame) -> list[Violation]:
    return [Violation(s, k, title, Stage(stage), owner, url or "", rule, field, problem, since)
            for s, k, title, stage, owner, url, rule, field, problem, since in frame.rows()]


def merge(stored: Mapping[str, pl.DataFrame], fresh: Mapping[str, pl.DataFrame], deleted: pl.DataFrame,
          known: Iterable[str]) -> dict[str, pl.DataFrame]:
    """The stored frames with every row of a fresh task replaced by its fresh rows, deleted tasks (`deleted`:
    source, key) dropped, and sources no longer configured (`known`: those that are) dropped; sorted by
    (source, key), each task's rows in their order. Two frames are merged at a time (polars works without the
    GIL: 100 of 100k tasks merge in two thirds of the time)."""
    known = list(known)
    gone = pl.concat([fresh["tasks"].select(KEYS), deleted.select(KEYS)])

    def merged(name: str, schema: pl.Schema) -> pl.DataFrame:
        old = stored.get(name)
        old = pl.DataFrame(schema=schema) if old is None else old.cast(dict(schema)).select(list(schema))
        new = fresh[name].select(list(schema)) if name in fresh else pl.DataFrame(schema=schema)
        return replaced(old.filter(pl.col("source").is_in(known)), new.cast(dict(schema)), gone)

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(SCHEMAS, pool.map(merged, SCHEMAS, SCHEMAS.values()), strict=True))


_JOINT = pl.concat_str("source", "key", separator="\x00")  # as (source, key) for NUL-free sources


def in_task_order(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """`old` and `new` (of different tasks) as one frame sorted by (source, key), each task's rows in their order."""
    return replaced(old, new, pl.DataFrame(schema=KEY))


def replaced(old: pl.DataFrame, new: pl.DataFrame, gone: pl.DataFrame) -> pl.DataFrame:
    """`old` less every row of the tasks in `gone` (source, key), and `new` (rows of tasks not left in `old`), as
    one frame sorted by (source, key), each task's rows in their order.

    When both are in that order already (stored frames are), nothing is joined or sorted over the text keys: the
    old tasks are ranked, the gone ones found and the new ones placed by a binary search over the old tasks' keys,
    and the two sorted by rank. A few of 100k tasks replaced in a million worklogs take a tenth of a second.
    Sources and keys are never null, and a source name holds no NUL (config names are `[A-Za-z0-9_.-]+`): the
    joined text then sorts and matches as (source, key) does."""
    if not all(f.select(IN_TASK_ORDER.all()).item() for f in (old, new)):
        both = pl.concat([old.join(gone, on=KEYS, how="anti", maintain_order="left"), new]).with_row_index("_n")
        return both.sort("source", "key", "_n").drop("_n")
    starts = old.select(TASK_STARTS).to_series()
    ranked = old.with_columns(_t=starts.cum_sum().cast(pl.Int64) * 2 - 1)  # old task j (from 0) ranks 2j + 1
    tasks = old.filter(starts).select(_JOINT).to_series()
    if not gone.is_empty() and not tasks.is_empty():
        wanted = gone.select(_JOINT).to_series()
        at = tasks.search_sorted(wanted, side="left").cast(pl.Int64)
        hit = (at < tasks.len()) & (tasks.gather(at.clip(0, tasks.len() - 1)) == wanted)
        ranked = ranked.filter(~pl.col("_t").is_in((at.filter(hit) * 2 + 1).implode()))
    if new.is_empty() or ranked.is_empty():
        return ranked.drop("_t") if ranked.height else new  # nothing to merge: no copy (a first full run)
    before = tasks.search_sorted(new.select(_JOINT).to_series(), side="left").cast(pl.Int64)
    placed = new.with_columns(_t=before * 2)  # a new task placed before old task i ranks 2i
    # A stable sort by rank: no ties between old (odd) and new (even) ranks, and each task's rows, or new tasks
    # placed before the same old task, keep their order. Three to four times faster than `merge_sorted`, which
    # merges on one core.
    return pl.concat([ranked, placed]).sort("_t", maintain_order=True).drop("_t")


def read_into(old: Mapping[str, pl.DataFrame], new: Mapping[str, pl.DataFrame], deleted: list[tuple[str, str]],
              known: Iterable[str]) -> tuple[dict[str, pl.DataFrame], int, int]:
    """`merge` of what a run read (`new`: the frames of the tasks read, `deleted` keys) onto the stored frames:
    (the merged frames, how many tasks read differ from their stored version, how many stored tasks are gone)."""
    known = list(known)
    if new["tasks"].is_empty() and not deleted and _as_merged(old, known):
        return dict(old), 0, 0  # nothing read, nothing gone: the stored frames as they are
    frames = merge(old, new, pl.DataFrame(deleted, schema=KEY, orient="row"), known)
    gone = old["tasks"].join(frames["tasks"], on=KEYS, how="anti").height
    return frames, changed_keys(old, new).height, gone


def _as_merged(frames: Mapping[str, pl.DataFrame], known: list[str]) -> bool:
    """Whether `frames` are as `merge` leaves them: every frame in its schema, only known sources, in order."""
    keys = frames["tasks"].select(KEYS) if "tasks" in frames else None
    return (keys is not None and all(name in frames and frames[name].schema == schema for name, schema in
                                     SCHEMAS.items())
            and keys["source"].null_count() == 0 and bool(keys["source"].is_in(known).all())
            and keys.equals(keys.sort(KEYS)))


def without(frames: Mapping[str, pl.DataFrame], keys: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The frames less every row of the tasks in `keys` (source, key)."""
    return {name: frame.join(keys, on=KEYS, how="anti", maintain_order="left") for name, frame in frames.items()}


def _row_set(frame: pl.DataFrame) -> pl.DataFrame:
    lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
    return frame.with_columns(pl.col(c).list.join("\x1f") for c in lists) if lists else frame


def changed_keys(stored: Mapping[str, pl.DataFrame], fresh: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """(source, key) of the fresh tasks that differ from their stored version in any row (or are new)."""
    keys = fresh["tasks"].select(KEYS)
    if "tasks" not in stored or stored["tasks"].join(keys, on=KEYS, how="semi").is_empty():
        return keys.unique(maintain_order=True)  # none is stored (a first run): all new, no row to compare
    out = []
    for name in ("tasks", "changes", "worklogs", "flags", "problems", "defaulted"):
        new = _row_set(fresh[name])
        old = stored.get(name)
        old = _row_set(old.join(keys, on=KEYS, how="semi")) if old is not None else new.clear()
        old = old.cast(dict(new.schema)).select(new.columns)
        out.append(new.join(old, on=new.columns, how="anti", nulls_equal=True).select(KEYS))
        out.append(old.join(new, on=new.columns, how="anti", nulls_equal=True).select(KEYS))
    return pl.concat(out).unique(maintain_order=True)


def default_warnings(defaulted: pl.DataFrame, cfg: Config) -> list[str]:
    """One warning per status that reached its stage through a SPEC §4 default, naming where to map it."""
    index = {s.name: i for i, s in enumerate(cfg.sources)}
    seen = sorted(set(defaulted.select("source", "status", "stage").rows()))
    return [
        f"{src}: status {status!r} -> {stage} by default (map it under sources[{index.get(src, '?')}].stages)"
        for src, status, stage in seen
    ]


def check_digest(cfg: Config, budget: BudgetIndex | None, tz: tzinfo) -> str:
    """A digest of everything an intake check depends on besides the task: the rules, the budget's campaigns
    and G/L accounts, the rates (labour of unallocated tasks is an amount), the zone."""
    parts = {
        "intake": cfg.intake.model_dump(mode="json"), "labour_in_budget": cfg.labour_in_budget,
        "rates": cfg.rates.model_dump(mode="json"), "tz": str(tz),
        "budget": None if budget is None else [sorted(budget.campaigns), sorted(budget.gl_accounts)],
    }
    return hashlib.blake2b(json.dumps(parts, sort_keys=True).encode(), digest_size=16).hexdigest()


def as_frames(stored: Mapping[str, pl.DataFrame]) -> Frames:
    """The contract's model frames of the stored ones (no figures yet)."""
    return Frames(stored["tasks"], stored["changes"], stored["worklogs"], stored["flags"])
