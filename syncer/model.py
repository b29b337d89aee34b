"""The canonical model (SPEC §4): every source maps into these plain, typed records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple


class Stage(StrEnum):
    """The seven stages every source status is mapped to."""

    INTAKE = "intake"
    BACKLOG = "backlog"
    IN_PROGRESS = "in_progress"
    REVIEW = "review"
    BLOCKED = "blocked"
    DONE = "done"
    CANCELLED = "cancelled"


STARTED_STAGES = frozenset({Stage.IN_PROGRESS, Stage.REVIEW, Stage.BLOCKED, Stage.DONE})
WIP_STAGES = frozenset({Stage.IN_PROGRESS, Stage.REVIEW, Stage.BLOCKED})
REWORK_FROM = frozenset({Stage.REVIEW, Stage.DONE})
REWORK_TO = frozenset({Stage.INTAKE, Stage.BACKLOG, Stage.IN_PROGRESS})


# StageChange and Worklog are named tuples, not dataclasses: a sync builds millions of them, and a tuple is
# several times cheaper to create than a frozen dataclass.
class StageChange(NamedTuple):
    """One status change; `at` is timezone-aware."""

    at: datetime
    from_stage: Stage
    to_stage: Stage
    from_status: str
    to_status: str


class Worklog(NamedTuple):
    """Time logged on a task by one person; `started_at` is timezone-aware."""

    author: str
    started_at: datetime
    hours: float


class Spell(NamedTuple):
    """A span of time a task carried a mark (Jira's `Flagged` impediment); `end` is None while it still does."""

    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem found while mapping a record: becomes an intake violation, never a crash."""

    rule: str
    field: str
    problem: str


@dataclass(slots=True)
class Task:
    """One unit of work from any source, in canonical form.

    Amounts are numbers in the configured currency (None when absent or unparseable; an unparseable
    amount is recorded in `problems`). `history` is sorted by time; `created_stage` is the stage the
    task had before its first change.
    """

    source: str
    key: str
    title: str
    created_at: datetime
    stage: Stage
    status: str
    created_stage: Stage
    url: str = ""
    type: str = ""
    owner: str | None = None
    requester: str | None = None
    campaign: str | None = None
    activity: str | None = None
    gl_account: str | None = None
    category: str | None = None
    due_date: date | None = None
    estimate_hours: float | None = None
    planned_cost: float | None = None
    committed_amount: float | None = None
    po_date: date | None = None
    invoiced_amount: float | None = None
    invoice_date: date | None = None
    brief: str | None = None
    labels: tuple[str, ...] = ()
    parent: str | None = None
    # Keys of tasks of the same source this task waits for (Jira "is blocked by" links, Asana dependencies).
    depends_on: tuple[str, ...] = ()
    history: list[StageChange] = field(default_factory=list)
    worklogs: list[Worklog] = field(default_factory=list)
    # Spells in which Jira's `Flagged` field was set to Impediment, sorted by start.
    flagged: list[Spell] = field(default_factory=list)
    # When an amount field first got its current value (from the field's change history), if known.
    amount_first_seen: dict[str, datetime] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # (status name, stage) pairs that were mapped through a SPEC §4 default, for the Sync log warnings.
    defaulted_statuses: list[tuple[str, Stage]] = field(default_factory=list)
