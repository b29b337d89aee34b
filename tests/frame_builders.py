"""Small hand-made tasks for the Campaigns, Attention and Dashboard tests, and their frames (through the bridge)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from syncer.domain.campaigns import Clock
from syncer.domain.figures import task_figures
from syncer.domain.frames import Frames, frames_from_tasks
from syncer.model import Spell, Stage, StageChange, Task

ZONE = "Europe/Berlin"
AS_OF = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # Friday 09:00 in Berlin: today is 2026-11-20, ISO week W47
CLOCK = Clock.of(AS_OF, ZONE)
TODAY = CLOCK.today
# Monday of the first of the 12 complete ISO weeks before today's (W35, 2026-08-24)
FIRST_WEEK = TODAY - timedelta(days=TODAY.weekday() + 84)


def at(d: date, hour: int = 10) -> datetime:
    """10:00 UTC on a day (11:00 in Berlin in winter, 12:00 in summer: the same local date)."""
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def task(key: str, campaign: str | None, stage: Stage = Stage.BACKLOG, *, due: date | None = None,
         done: date | None = None, started: datetime | None = None, created: datetime | None = None,
         owner: str | None = "ana@acme.com", source: str = "web", depends_on: tuple[str, ...] = (),
         flagged: list[Spell] | None = None, history: list[StageChange] | None = None) -> Task:
    """A task of `campaign` now in `stage`; `done` dates its completion, `started` its move into in_progress."""
    created = created or AS_OF - timedelta(days=200)
    changes = list(history or [])
    if not changes and started is not None:
        changes.append(StageChange(started, Stage.BACKLOG, Stage.IN_PROGRESS, "To Do", "In Progress"))
    if not history and stage is not Stage.BACKLOG and stage is not Stage.IN_PROGRESS:
        when = at(done) if done else (started or created) + timedelta(hours=1)
        before = Stage.IN_PROGRESS if changes else Stage.BACKLOG
        changes.append(StageChange(when, before, stage, before.value, stage.value))
    elif not history and stage is Stage.IN_PROGRESS and started is None:
        changes.append(StageChange(created + timedelta(hours=1), Stage.BACKLOG, stage, "To Do", "In Progress"))
    return Task(source=source, key=key, title=f"Task {key}", created_at=created, stage=stage, status=stage.value,
                created_stage=Stage.BACKLOG, campaign=campaign, due_date=due, owner=owner, depends_on=depends_on,
                history=changes, flagged=list(flagged or []), url=f"https://x/{key}")


def frames(tasks: list[Task], intake_ok: dict | None = None) -> Frames:
    figs = {(t.source, t.key): task_figures(t, AS_OF, UTC) for t in tasks}
    return frames_from_tasks(tasks, figs, intake_ok or {})


def weekly_done(campaign: str, per_week: list[int], prefix: str) -> list[Task]:
    """Done tasks: per_week[i] of them completed on the Wednesday of the i-th of the 12 complete weeks."""
    out = []
    for week, n in enumerate(per_week):
        for j in range(n):
            day = FIRST_WEEK + timedelta(days=7 * week + 2)
            started = at(day) - timedelta(days=3)
            out.append(task(f"{prefix}-{week}-{j}", campaign, Stage.DONE, done=day, started=started))
    return out
