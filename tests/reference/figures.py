"""Reference: the row-by-row per-task figures of SPEC §5 (time in a stage summed exactly, as the core does)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, tzinfo

from syncer.domain.figures import TaskFigures
from syncer.model import REWORK_FROM, REWORK_TO, STARTED_STAGES, Stage, Task

SECONDS_PER_DAY = 86400.0


def _days(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / SECONDS_PER_DAY


def stage_spells(task: Task, now: datetime) -> list[tuple[Stage, datetime, datetime]]:
    """The task's stages as (stage, from, to) spells, the last one open until `now`."""
    spells: list[tuple[Stage, datetime, datetime]] = []
    stage, since = task.created_stage, task.created_at
    for ch in task.history:
        if ch.at > since:
            spells.append((stage, since, ch.at))
            since = ch.at
        stage = ch.to_stage
    spells.append((stage, since, max(since, now)))
    return spells


def rate_table(tasks: Iterable[Task], people: Mapping[str, float], default_rate: float) -> dict[str, float]:
    """Every worklog author's rate, resolved once (a plain dict: a million worklogs each look theirs up)."""
    authors = {w.author for t in tasks for w in t.worklogs}
    return {a: people.get(a, default_rate) for a in authors}


def labour_cost(task: Task, rates: Mapping[str, float], default_rate: float) -> float:
    """Σ worklog hours × rate (the person's rate, else the default)."""
    return sum(w.hours * rates.get(w.author, default_rate) for w in task.worklogs)


def task_figures(
    task: Task, now: datetime, tz: tzinfo, rates: Mapping[str, float] | None = None, default_rate: float = 0.0
) -> TaskFigures:
    """Compute SPEC §5 for one task. `now` bounds open spells; `tz` decides the local completion date."""
    if task.created_stage in STARTED_STAGES:  # created straight into work: it started when it was created
        started_at: datetime | None = task.created_at
    else:
        started_at = next((ch.at for ch in task.history if ch.to_stage in STARTED_STAGES), None)
    completed_at = None
    if task.stage is Stage.DONE:
        completed_at = next(
            (ch.at for ch in reversed(task.history) if ch.to_stage is Stage.DONE and ch.from_stage is not Stage.DONE),
            None,
        )
        if completed_at is None:
            completed_at = task.created_at  # created directly in done (or history unavailable)
    # Time in a stage is summed exactly (as timedeltas), then turned into days once, as the columnar core does.
    review_time = blocked_time = timedelta(0)
    for stage, start, end in stage_spells(task, now):
        if stage is Stage.REVIEW:
            review_time += end - start
        elif stage is Stage.BLOCKED:
            blocked_time += end - start
    review = review_time.total_seconds() / SECONDS_PER_DAY
    blocked = blocked_time.total_seconds() / SECONDS_PER_DAY
    reworked = any(ch.from_stage in REWORK_FROM and ch.to_stage in REWORK_TO for ch in task.history)
    rounds = (task.created_stage is Stage.REVIEW) + sum(
        ch.to_stage is Stage.REVIEW and ch.from_stage is not Stage.REVIEW for ch in task.history
    )
    late = bool(completed_at and task.due_date and local_date(completed_at, tz) > task.due_date)
    return TaskFigures(
        started_at=started_at,
        completed_at=completed_at,
        cycle_days=_days(started_at or completed_at, completed_at) if completed_at else None,
        lead_days=_days(task.created_at, completed_at) if completed_at else None,
        review_days=review,
        blocked_days=blocked,
        reworked=reworked,
        late=late,
        logged_hours=sum(w.hours for w in task.worklogs),
        labour_cost=labour_cost(task, rates or {}, default_rate),
        entered_review=rounds > 0,
        review_rounds=rounds,
    )


def local_date(when: datetime, tz: tzinfo) -> date:
    """The calendar date of an aware datetime in `tz`."""
    return when.astimezone(tz).date()
