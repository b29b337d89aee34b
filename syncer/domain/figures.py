"""Per-task figures of SPEC §5: pure functions of a task, `as_of` (the reference time) and the timezone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from syncer.model import REWORK_FROM, REWORK_TO, STARTED_STAGES, Stage, Task

SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class TaskFigures:
    """The derived per-task numbers written to the Tasks tab and used by every roll-up."""

    started_at: datetime | None
    completed_at: datetime | None
    cycle_days: float | None
    lead_days: float | None
    review_days: float
    blocked_days: float
    reworked: bool
    late: bool
    logged_hours: float
    labour_cost: float
    entered_review: bool
    review_rounds: int = 0  # entries into review (being created in review counts as one)


def _days(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / SECONDS_PER_DAY


def stage_spells(task: Task, as_of: datetime) -> list[tuple[Stage, datetime, datetime]]:
    """The task's stages as (stage, from, to) spells, the last one open until `as_of`."""
    spells: list[tuple[Stage, datetime, datetime]] = []
    stage, since = task.created_stage, task.created_at
    for ch in task.history:
        if ch.at > since:
            spells.append((stage, since, ch.at))
            since = ch.at
        stage = ch.to_stage
    spells.append((stage, since, max(since, as_of)))
    return spells


def rate_table(tasks: Iterable[Task], people: Mapping[str, float], default_rate: float) -> dict[str, float]:
    """Every worklog author's rate, resolved once (a plain dict: a million worklogs each look theirs up)."""
    authors = {w.author for t in tasks for w in t.worklogs}
    return {a: people.get(a, default_rate) for a in authors}


def labour_cost(task: Task, rates: Mapping[str, float], default_rate: float) -> float:
    """Σ worklog hours × rate (the person's rate, else the default)."""
    return sum(w.hours * rates.get(w.author, default_rate) for w in task.worklogs)


def task_figures(
    task: Task, as_of: datetime, tz: tzinfo, rates: Mapping[str, float] | None = None, default_rate: float = 0.0
) -> TaskFigures:
    """Compute SPEC §5 for one task. `as_of` bounds open spells; `tz` decides the local completion date."""
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
    review = blocked = 0.0
    for stage, start, end in stage_spells(task, as_of):
        if stage is Stage.REVIEW:
            review += _days(start, end)
        elif stage is Stage.BLOCKED:
            blocked += _days(start, end)
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
