"""Flow metrics (SPEC §7) per ISO week and month, per source and category, plus `All` rows per period."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from syncer.domain.figures import TaskFigures
from syncer.domain.flow import ALL, RATIO_PLACES, category_of, p50, p85, ratio, wip_spells
from syncer.domain.periods import LocalCalendar, month_starts, next_month, week_starts
from syncer.model import Stage, Task
from syncer.tables import FLOW_METRICS, HEADERS, Row, Table, num


@dataclass(slots=True)
class _Done:
    """What one task completed in a period contributes."""

    cycle: float
    review: float | None  # None: never entered review
    blocked: float
    reworked: bool
    late: bool
    has_due: bool
    logged: float
    estimate: float | None


@dataclass(slots=True)
class _Group:
    done: list[_Done] = field(default_factory=list)
    wip: int = 0
    due: int = 0
    due_on_time: int = 0
    created: int = 0
    created_ok: int = 0

    def merge(self, other: _Group) -> None:
        self.done.extend(other.done)
        self.wip += other.wip
        self.due += other.due
        self.due_on_time += other.due_on_time
        self.created += other.created
        self.created_ok += other.created_ok


class _Boundaries:
    """The end instants of every week and month from `first` to `last` (local), for WIP at the end of a period."""

    def __init__(self, cal: LocalCalendar, first: date, last: date):
        self.ends: list[float] = []
        self.labels: list[str] = []
        for monday in week_starts(first, last):
            self.ends.append(cal.midnight(monday + timedelta(days=7)))
            self.labels.append(cal.date_labels(monday).week)
        for start in month_starts(first, last):
            self.ends.append(cal.midnight(next_month(start)))
            self.labels.append(cal.date_labels(start).month)
        order = sorted(range(len(self.ends)), key=self.ends.__getitem__)
        self.ends = [self.ends[i] for i in order]
        self.labels = [self.labels[i] for i in order]

    def span(self, a: float, b: float) -> tuple[int, int]:
        """Index range [i, j) of the period ends B with a < B <= b (periods whose end saw the stage held)."""
        return bisect_right(self.ends, a), bisect_right(self.ends, b)


def _groups(
    tasks: Iterable[Task],
    figures: Mapping[tuple[str, str], TaskFigures],
    intake_ok: Mapping[tuple[str, str], bool],
    cal: LocalCalendar,
    now: datetime,
) -> dict[tuple[str, str, str], _Group]:
    tasks = list(tasks)
    if not tasks:
        return {}
    today = cal.day(now)
    bounds = _Boundaries(cal, min(cal.day(min(t.created_at for t in tasks)), today), today)
    # per (source, category): per period label: tallies
    by_group: defaultdict[tuple[str, str], defaultdict[str, _Group]] = defaultdict(lambda: defaultdict(_Group))
    # WIP by difference arrays: +1 where a spell's first period end lies, -1 after its last; prefix sums below.
    wip_delta: dict[tuple[str, str], list[int]] = {}
    for t in tasks:
        f = figures[(t.source, t.key)]
        src, cat = t.source, category_of(t)
        periods = by_group[(src, cat)]
        completed_day = None
        if f.completed_at is not None:
            lab = cal.labels(f.completed_at)
            completed_day = lab.day
            rec = _Done(f.cycle_days or 0.0, f.review_days if f.entered_review else None, f.blocked_days,
                        f.reworked, f.late, t.due_date is not None, f.logged_hours, t.estimate_hours)
            periods[lab.week].done.append(rec)
            periods[lab.month].done.append(rec)
        for a, b in wip_spells(t):  # cancelled now or not: the stage at the end of past periods counts
            i, j = bounds.span(a, b)
            if i < j:
                delta = wip_delta.get((src, cat))
                if delta is None:
                    delta = wip_delta[(src, cat)] = [0] * (len(bounds.ends) + 1)
                delta[i] += 1
                delta[j] -= 1
        lab = cal.labels(t.created_at)
        ok = intake_ok.get((src, t.key), True)
        for grp in (periods[lab.week], periods[lab.month]):  # SPEC §7: every task created in P, cancelled too
            grp.created += 1
            grp.created_ok += ok
        if t.stage is Stage.CANCELLED:
            continue
        due = t.due_date
        if due is not None:  # SPEC §7: every task due in P, so an open task due later in P counts as not yet on time
            on_time = completed_day is not None and completed_day <= due
            dl = cal.date_labels(due)
            for grp in (periods[dl.week], periods[dl.month]):
                grp.due += 1
                grp.due_on_time += on_time
    for key, delta in wip_delta.items():
        periods, running = by_group[key], 0
        for k, label in enumerate(bounds.labels):
            running += delta[k]
            if running:
                periods[label].wip += running
    now_labels = cal.date_labels(today)
    return {(period, src, cat): grp for (src, cat), periods in by_group.items() for period, grp in periods.items()
            if period <= (now_labels.week if "W" in period else now_labels.month)}


def metrics_row(period: str, source: str, cat: str, grp: _Group) -> Row:
    """One Flow metrics row from a group's tallies (SPEC §7); undefined figures are None."""
    done = grp.done
    cycles = [d.cycle for d in done]
    reviews = [d.review for d in done if d.review is not None]
    with_due = [d for d in done if d.has_due]
    estimated = [d for d in done if d.estimate is not None and d.estimate > 0]
    return [
        period, source, cat, len(done), grp.wip,
        num(p50(cycles)), num(p85(cycles)), num(p50(reviews)),
        num(ratio(sum(d.reworked for d in done), len(done)), RATIO_PLACES),
        num(ratio(math.fsum(d.blocked for d in done), math.fsum(cycles)), RATIO_PLACES),
        num(ratio(sum(d.late for d in with_due), len(with_due)), RATIO_PLACES),
        num(ratio(grp.due_on_time, grp.due), RATIO_PLACES),
        num(ratio(math.fsum(d.logged for d in estimated), math.fsum(d.estimate or 0.0 for d in estimated))),
        num(ratio(grp.created_ok, grp.created), RATIO_PLACES),
    ]


def _sort_key(row: Row) -> tuple:
    return tuple((0, "") if v == ALL else (1, str(v)) for v in row[:3])


def flow_table(
    tasks: Iterable[Task],
    figures: Mapping[tuple[str, str], TaskFigures],
    intake_ok: Mapping[tuple[str, str], bool],
    cal: LocalCalendar,
    now: datetime,
) -> Table:
    """The Flow metrics tab: header, then per period the `All` row and one row per (source, category) with any
    activity (completed, WIP at the period's end, created, or due and already judged), sorted by period."""
    groups = _groups(tasks, figures, intake_ok, cal, now)
    totals: dict[str, _Group] = {}
    for (period, _, _), grp in groups.items():
        totals.setdefault(period, _Group()).merge(grp)
    rows = [metrics_row(p, s, c, grp) for (p, s, c), grp in groups.items()]
    rows += [metrics_row(p, ALL, ALL, grp) for p, grp in totals.items()]
    rows.sort(key=_sort_key)
    return [list(HEADERS[FLOW_METRICS]), *rows]
