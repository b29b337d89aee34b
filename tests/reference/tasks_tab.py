"""The Tasks tab (SPEC §6): one row per task, from the task and its §5 figures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import tzinfo

from reference.figures import TaskFigures
from syncer.model import Task
from syncer.tables import HEADERS, TASKS, Row, Table, iso_date, iso_local, money, natural_key, num


def task_row(t: Task, f: TaskFigures, tz: tzinfo, intake_ok: bool | None = None) -> Row:
    """One Tasks row (SPEC §6 order)."""
    return [
        t.source, t.key, t.title, t.type, t.stage.value, t.status, t.owner, t.campaign, t.activity, t.category,
        t.gl_account, iso_local(t.created_at, tz), iso_local(f.started_at, tz), iso_local(f.completed_at, tz),
        iso_date(t.due_date), num(t.estimate_hours), num(f.logged_hours), money(f.labour_cost),
        money(t.planned_cost), money(t.committed_amount), money(t.invoiced_amount), num(f.cycle_days),
        num(f.review_days), num(f.blocked_days), f.reworked, f.late, intake_ok, t.url or None,
    ]


def tasks_table(
    tasks: Iterable[Task],
    figures: Mapping[tuple[str, str], TaskFigures],
    tz: tzinfo,
    intake_ok: Mapping[tuple[str, str], bool] | None = None,
) -> Table:
    """The whole Tasks tab, header first, rows sorted by (Source, Key) with Jira-style keys in number order."""
    rows = [
        task_row(t, figures[(t.source, t.key)], tz, (intake_ok or {}).get((t.source, t.key)))
        for t in sorted(tasks, key=lambda t: (t.source, natural_key(t.key)))
    ]
    return [list(HEADERS[TASKS]), *rows]
