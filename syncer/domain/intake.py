"""Intake rules: which tasks lack what marketing ops and finance need, as plain-language violations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

import polars as pl

from syncer.config import IntakeConfig
from syncer.domain.budget import BudgetLine
from syncer.domain.cells import iso_local_expr
from syncer.domain.controls import Requirements, requirements, requirements_by_kind, spend_findings
from syncer.domain.periods import LocalCalendar
from syncer.model import Stage, Task
from syncer.tables import HEADERS, INTAKE, Table, iso_local, natural_key

# Rule names as written to the Intake tab's Rule column.
REQUIRED = "required"
BRIEF_TOO_SHORT = "brief_too_short"
DUE_BEFORE_CREATED = "due_before_created"
ESTIMATE_NOT_POSITIVE = "estimate_not_positive"
CAMPAIGN_UNKNOWN = "campaign_unknown"
GL_ACCOUNT_UNKNOWN = "gl_account_unknown"
AMOUNT_WITHOUT_CAMPAIGN = "amount_without_campaign"
# Rules about the task's own fields; a cancelled task is exempt from them (nobody will do the work).
FIELD_RULES = frozenset({REQUIRED, BRIEF_TOO_SHORT, DUE_BEFORE_CREATED, ESTIMATE_NOT_POSITIVE})

LABELS = {
    "owner": "Owner", "requester": "Requester", "due_date": "Due date", "campaign": "Campaign",
    "activity": "Activity", "gl_account": "G/L account", "category": "Category", "estimate_hours": "Estimate",
    "brief": "Brief", "planned_cost": "Planned cost", "committed_amount": "PO amount",
    "invoiced_amount": "Invoice amount",
}


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken intake rule on one task (one Intake tab row)."""

    source: str
    key: str
    title: str
    stage: Stage
    owner: str | None
    url: str
    rule: str
    field: str
    problem: str
    since: datetime


@dataclass(frozen=True, slots=True)
class BudgetIndex:
    """What the budget knows: the campaigns and G/L accounts that have a line."""

    campaigns: frozenset[str]
    gl_accounts: frozenset[str]

    @classmethod
    def of(cls, lines: Iterable[BudgetLine]) -> BudgetIndex:
        """Index the budget lines."""
        lines = list(lines)
        return cls(frozenset(ln.campaign for ln in lines), frozenset(ln.gl_account for ln in lines if ln.gl_account))


def stage_entered_at(task: Task) -> datetime:
    """When the task entered its current stage (its creation time if it never changed stage)."""
    since, stage = task.created_at, task.created_stage
    for ch in task.history:
        if ch.to_stage != stage:
            since, stage = max(ch.at, task.created_at), ch.to_stage
    return since


def _core_problems(
    task: Task, intake: IntakeConfig, budget: BudgetIndex | None, labour: float, cal: LocalCalendar,
    need: Requirements | None,
) -> list[tuple[str, str, str]]:
    """(rule, field, problem) for every rule the task breaks, before the stage wording is added; `need`: the
    task's `requirements` (None without `intake.rules`)."""
    out = [(i.rule, i.field, i.problem.rstrip(".")) for i in task.problems] if task.problems else []
    mapped = {i.field for i in task.problems} if task.problems else ()
    for name, scope in need.fields.items() if need else dict.fromkeys(intake.required).items():
        value = getattr(task, name)
        if (value is None or (value.__class__ is str and not value.strip())) and name not in mapped:
            why = f" (required for {scope})" if scope else ""
            out.append((REQUIRED, name, f"{LABELS.get(name, name)} is missing{why}"))
    brief = task.brief.strip() if task.brief else ""
    least, scope = (need.brief_min_chars, need.brief_scope) if need else (intake.brief_min_chars, None)
    if brief and len(brief) < least:
        out.append((BRIEF_TOO_SHORT, "brief", f"the brief has {len(brief)} characters; "
                                              f"at least {least} are needed{f' for {scope}' if scope else ''}"))
    if task.due_date is not None:
        created = cal.labels(task.created_at).day
        if task.due_date < created:
            out.append((DUE_BEFORE_CREATED, "due_date", f"due date {task.due_date.isoformat()} is before the task "
                                                        f"was created ({created.isoformat()})"))
    if task.estimate_hours is not None and task.estimate_hours <= 0:
        out.append((ESTIMATE_NOT_POSITIVE, "estimate_hours",
                    f"the estimate is {task.estimate_hours:g} h; it must be more than 0"))
    campaign = task.campaign.strip() if task.campaign else None
    if budget is not None and campaign and campaign not in budget.campaigns:
        out.append((CAMPAIGN_UNKNOWN, "campaign", f"campaign {campaign!r} has no line in the budget"))
    gl = task.gl_account.strip() if task.gl_account else None
    if budget is not None and gl and gl not in budget.gl_accounts:
        out.append((GL_ACCOUNT_UNKNOWN, "gl_account", f"G/L account {gl!r} has no line in the budget"))
    if not campaign:
        amounts = [
            f"{label} {v:,.2f}" for label, v in (
                ("planned", task.planned_cost), ("PO", task.committed_amount), ("invoiced", task.invoiced_amount),
                ("labour", labour),
            ) if v  # a zero amount books nothing
        ]
        if amounts:
            out.append((AMOUNT_WITHOUT_CAMPAIGN, "campaign", f"it has amounts ({'; '.join(amounts)}) but no "
                                                             "campaign, so they are booked to Unallocated"))
    if intake.controls:
        out.extend(spend_findings(task, intake.controls, cal, mapped))
    return out


def check_task(
    task: Task, intake: IntakeConfig, budget: BudgetIndex | None, cal: LocalCalendar, labour: float = 0.0
) -> list[Violation]:
    """Every intake rule `task` breaks now. `budget` None: no budget configured (campaign/G/L not checked);
    `labour` is the task's labour cost when labour counts against the budget (an amount like the others)."""
    need = requirements(task, intake) if intake.rules else None
    return _violations_of(task, _core_problems(task, intake, budget, labour, cal, need))


def _violations_of(task: Task, found: list[tuple[str, str, str]]) -> list[Violation]:
    """The task's findings as Violations, worded for its stage (a cancelled task is exempt from the field rules);
    a rule broken twice on one field (mapped and checked) is one row."""
    if task.stage is Stage.CANCELLED:
        found = [f for f in found if f[0] not in FIELD_RULES]
    if not found:
        return []
    since = stage_entered_at(task)
    if task.stage is Stage.INTAKE:
        prefix = "Still in intake: "
    elif task.stage is Stage.CANCELLED:
        prefix = "Cancelled: "
    else:
        prefix = f"Already accepted (now {task.stage.value.replace('_', ' ')}): "
    seen: set[tuple[str, str]] = set()
    out = []
    for rule, field, problem in found:
        if (rule, field) in seen:
            continue
        seen.add((rule, field))
        out.append(Violation(task.source, task.key, task.title, task.stage, task.owner, task.url, rule, field,
                             f"{prefix}{problem}.", since))
    return out


def check_tasks(
    tasks: Iterable[Task],
    labour_costs: Mapping[tuple[str, str], float],
    intake: IntakeConfig,
    budget: BudgetIndex | None,
    cal: LocalCalendar,
    labour_in_budget: bool = True,
) -> list[Violation]:
    """Violations of every task, sorted by source, key, rule and field. `labour_costs`: each task's labour cost
    (SPEC §5; a task missing from it has none); only tasks without a campaign need an entry."""
    out: list[Violation] = []
    need_of = requirements_by_kind(intake) if intake.rules else None
    for t in tasks:
        no_campaign = not (t.campaign and t.campaign.strip())
        labour = labour_costs.get((t.source, t.key), 0.0) if labour_in_budget and no_campaign else 0.0
        found = _core_problems(t, intake, budget, labour, cal, need_of(t) if need_of else None)
        out.extend(_violations_of(t, found))
    out.sort(key=lambda v: (v.source, natural_key(v.key), v.rule, v.field))
    return out


def intake_table(violations: Iterable[Violation], tz: tzinfo) -> Table:
    """The Intake tab: header first, one row per violation (already sorted by `check_tasks`)."""
    rows: Table = [list(HEADERS[INTAKE])]
    last: tuple[datetime | None, str | None] = (None, None)
    for v in violations:
        if v.since is not last[0]:  # a task's violations share one `since`: format it once
            last = (v.since, iso_local(v.since, tz))
        rows.append([v.source, v.key, v.title, v.stage.value, v.owner, v.rule, v.field, v.problem, last[1],
                     v.url or None])
    return rows


def intake_frame_table(violations: pl.DataFrame, zone: str) -> Table:
    """`intake_table` of a violations frame (`stored.VIOLATIONS_SCHEMA`, in the Intake tab's order)."""
    rows = violations.select("source", "key", "title", "stage", "owner", "rule", "field", "problem",
                             iso_local_expr("since", zone), pl.when(pl.col("url") != "").then(pl.col("url"))).rows()
    return [list(HEADERS[INTAKE]), *(list(r) for r in rows)]
