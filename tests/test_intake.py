"""Intake rules: each rule, the intake / accepted wording, `Since`, cancelled tasks and the Intake tab."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from syncer.config import IntakeConfig
from syncer.domain.budget import BudgetLine
from syncer.domain.figures import task_figures
from syncer.domain.intake import BudgetIndex, Violation, check_task, check_tasks, intake_table, stage_entered_at
from syncer.domain.periods import LocalCalendar
from syncer.domain.rollups import DomainResult, with_kept
from syncer.domain.stored import frames_of, violations_frame
from syncer.model import Problem, Stage, StageChange, Task, Worklog
from syncer.tables import HEADERS, INTAKE

BERLIN = ZoneInfo("Europe/Berlin")
CAL = LocalCalendar(BERLIN, 4)
CREATED = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
INTAKE_CFG = IntakeConfig(required=["owner", "due_date", "campaign", "estimate_hours", "brief"], brief_min_chars=40)
BUDGET = BudgetIndex.of([BudgetLine("Spring", "Media", "6200", "2026-05", 1000.0)])
BRIEF = "A landing page for the spring launch, with hero video and signup form."


def make(key="MKT-1", stage=Stage.INTAKE, history=(), **kw) -> Task:
    base = dict(source="web", key=key, title=f"Task {key}", created_at=CREATED, stage=stage, status=stage.value,
                created_stage=Stage.INTAKE, url=f"https://acme.atlassian.net/browse/{key}", owner="ana@acme.com",
                campaign="Spring", gl_account="6200", due_date=date(2026, 5, 20), estimate_hours=8.0, brief=BRIEF)
    base.update(kw)
    return Task(history=list(history), **base)


def rules(violations):
    return [(v.rule, v.field) for v in violations]


def test_complete_task_breaks_no_rule():
    assert check_task(make(), INTAKE_CFG, BUDGET, CAL) == []


def test_required_fields_in_intake_and_after_acceptance():
    still = check_task(make(campaign=None, owner="  ", brief=None), INTAKE_CFG, None, CAL)
    assert rules(still) == [("required", "owner"), ("required", "campaign"), ("required", "brief")]
    assert still[1].problem == "Still in intake: Campaign is missing."
    moved = [StageChange(datetime(2026, 5, 6, 9, 0, tzinfo=UTC), Stage.INTAKE, Stage.IN_PROGRESS, "Request", "Doing")]
    accepted = check_task(make(stage=Stage.IN_PROGRESS, history=moved, campaign=None), INTAKE_CFG, None, CAL)
    assert rules(accepted) == [("required", "campaign")]
    assert accepted[0].problem == "Already accepted (now in progress): Campaign is missing."
    # Since: when the task entered its current stage
    assert accepted[0].since == datetime(2026, 5, 6, 9, 0, tzinfo=UTC)
    assert still[0].since == CREATED


def test_brief_too_short_due_before_created_and_estimate():
    # created 2026-05-04 08:00 UTC = 10:00 Berlin; due 2026-05-03 is the day before
    v = check_task(make(brief="Short brief", due_date=date(2026, 5, 3), estimate_hours=0.0), INTAKE_CFG, None, CAL)
    assert rules(v) == [("brief_too_short", "brief"), ("due_before_created", "due_date"),
                        ("estimate_not_positive", "estimate_hours")]
    assert v[0].problem == "Still in intake: the brief has 11 characters; at least 40 are needed."
    assert v[1].problem == "Still in intake: due date 2026-05-03 is before the task was created (2026-05-04)."
    assert v[2].problem == "Still in intake: the estimate is 0 h; it must be more than 0."
    # due on the creation day is fine
    assert check_task(make(due_date=date(2026, 5, 4)), INTAKE_CFG, None, CAL) == []


def test_due_date_compared_with_the_local_creation_day():
    # 2026-05-03 22:30 UTC is already 2026-05-04 00:30 in Berlin: a due date of 2026-05-04 is not before it
    t = make(created_at=datetime(2026, 5, 3, 22, 30, tzinfo=UTC), due_date=date(2026, 5, 4))
    assert check_task(t, INTAKE_CFG, None, CAL) == []


def test_mapping_problems_become_violations_without_a_duplicate_required():
    issue = Problem("amount_unparseable", "planned_cost", "Planned cost '12k' is not an amount (expected e.g. 1200)")
    cfg = IntakeConfig(required=["planned_cost"], brief_min_chars=0)
    v = check_task(make(problems=[issue]), cfg, None, CAL)
    assert rules(v) == [("amount_unparseable", "planned_cost")]
    assert v[0].problem == "Still in intake: Planned cost '12k' is not an amount (expected e.g. 1200)."


def test_campaign_and_gl_must_be_known_to_the_budget():
    v = check_task(make(campaign="Sprin", gl_account="6999"), INTAKE_CFG, BUDGET, CAL)
    assert rules(v) == [("campaign_unknown", "campaign"), ("gl_account_unknown", "gl_account")]
    assert v[0].problem == "Still in intake: campaign 'Sprin' has no line in the budget."
    assert check_task(make(campaign="Sprin", gl_account="6999"), INTAKE_CFG, None, CAL) == []  # no budget


def test_amounts_without_campaign():
    t = make(campaign=None, planned_cost=1200.5, committed_amount=1000.0)
    v = check_task(t, IntakeConfig(required=[], brief_min_chars=0), None, CAL, labour=80.0)
    assert rules(v) == [("amount_without_campaign", "campaign")]
    assert v[0].problem == ("Still in intake: it has amounts (planned 1,200.50; PO 1,000.00; labour 80.00) but no "
                            "campaign, so they are booked to Unallocated.")
    assert check_task(make(campaign=None), IntakeConfig(required=[]), None, CAL) == []  # no amounts: fine


def test_cancelled_tasks_skip_field_rules_but_not_money_rules():
    cancelled = make(stage=Stage.CANCELLED, campaign=None, brief=None, planned_cost=10.0, owner=None)
    assert rules(check_task(cancelled, INTAKE_CFG, None, CAL)) == [("amount_without_campaign", "campaign")]


def test_since_ignores_status_changes_within_a_stage():
    t = make(stage=Stage.IN_PROGRESS, history=[
        StageChange(datetime(2026, 5, 5, tzinfo=UTC), Stage.INTAKE, Stage.IN_PROGRESS, "Request", "Doing"),
        StageChange(datetime(2026, 5, 7, tzinfo=UTC), Stage.IN_PROGRESS, Stage.IN_PROGRESS, "Doing", "Building"),
    ])
    assert stage_entered_at(t) == datetime(2026, 5, 5, tzinfo=UTC)


def test_check_tasks_sorts_and_counts_labour_only_when_in_budget():
    wl = [Worklog("ana@acme.com", datetime(2026, 5, 5, 9, tzinfo=UTC), 2.0)]
    tasks = [make("MKT-10", campaign=None, worklogs=wl), make("MKT-9", owner=None)]
    figs = {(t.source, t.key): task_figures(t, CREATED, BERLIN, {}, 80.0).labour_cost for t in tasks}
    cfg = IntakeConfig(required=["owner"], brief_min_chars=0)
    v = check_tasks(tasks, figs, cfg, None, CAL, labour_in_budget=True)
    assert [(x.key, x.rule) for x in v] == [("MKT-9", "required"), ("MKT-10", "amount_without_campaign")]
    assert "labour 160.00" in v[1].problem  # 2 h x 80
    assert [x.key for x in check_tasks(tasks, figs, cfg, None, CAL, labour_in_budget=False)] == ["MKT-9"]


def test_intake_table_rows():
    v = check_task(make(owner=None), INTAKE_CFG, None, CAL)
    table = intake_table(v, BERLIN)
    assert table[0] == HEADERS[INTAKE]
    assert table[1] == ["web", "MKT-1", "Task MKT-1", "intake", None, "required", "owner",
                        "Still in intake: Owner is missing.", "2026-05-04T10:00:00+02:00",
                        "https://acme.atlassian.net/browse/MKT-1"]


def test_a_kept_record_s_row_lands_in_the_intake_order_among_the_others():
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    tasks = [Task(source="web", key=k, title=k, created_at=at, stage=Stage.INTAKE, status="Open",
                  created_stage=Stage.INTAKE) for k in ("MKT-2", "MKT-9", "MKT-10")]
    rows = violations_frame([Violation("web", k, k, Stage.INTAKE, None, "", "required", "campaign", "missing", at)
                             for k in ("MKT-2", "MKT-10")])
    domain = DomainResult({}, {}, rows, {}, None)  # type: ignore[arg-type]
    kept = {("web", "MKT-9"): Problem("record_unreadable", "status", "no status"),
            ("web", "MKT-2"): Problem("record_unreadable", "created_at", "no creation time")}
    with_kept(domain, kept, frames_of(tasks)["tasks"], UTC)
    got = domain.violation_rows.select("key", "rule").rows()
    assert got == [("MKT-2", "record_unreadable"), ("MKT-2", "required"), ("MKT-9", "record_unreadable"),
                   ("MKT-10", "required")]
    assert [r[1] for r in domain.tables[INTAKE][1:]] == ["MKT-2", "MKT-2", "MKT-9", "MKT-10"]
