"""Spend controls (SPEC §8) and intake rules per kind of request (SPEC §3), each worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from syncer.config import IntakeConfig, parse_config
from syncer.domain.controls import rule_scope
from syncer.domain.intake import check_task, check_tasks
from syncer.domain.periods import LocalCalendar
from syncer.errors import ConfigError
from syncer.model import Problem, Stage, StageChange, Task

CAL = LocalCalendar(ZoneInfo("Europe/Berlin"), 4)
CREATED = datetime(2026, 10, 1, 8, tzinfo=UTC)
APPROVED = datetime(2026, 10, 5, 22, 30, tzinfo=UTC)  # 00:30 on 6 October in Berlin
BRIEF = "A webinar on the spring launch for partner marketing leads, with two speakers and a Q&A."
NO_RULES = IntakeConfig(required=[], brief_min_chars=0, controls=[])
CONTROLS = IntakeConfig(required=[], brief_min_chars=0)  # all four controls: the default


def make(stage=Stage.DONE, history=None, **kw) -> Task:
    base = dict(source="web", key="MKT-7", title="Partner webinar", created_at=CREATED, stage=stage, status="x",
                created_stage=Stage.INTAKE, type="Task", campaign="Spring", brief=BRIEF)
    base.update(kw)
    taken_on = [StageChange(APPROVED, Stage.INTAKE, Stage.BACKLOG, "Request", "To Do")]
    return Task(history=taken_on if history is None else history, **base)


def found(task, intake=CONTROLS):
    """(rule, field, problem) of each finding, sorted as the Intake tab is."""
    return sorted((v.rule, v.field, v.problem) for v in check_task(task, intake, None, CAL))


def test_no_control_fires_on_spend_that_follows_the_plan():
    ok = make(planned_cost=1000.0, committed_amount=1000.0, po_date=date(2026, 10, 6), invoiced_amount=1000.0)
    assert found(ok) == []
    assert found(make(planned_cost=500.0, committed_amount=900.0), NO_RULES) == []  # `controls: []` turns them off


def test_a_po_over_the_planned_cost_names_both_amounts_and_the_difference():
    assert found(make(planned_cost=1000.0, committed_amount=1200.5, po_date=date(2026, 10, 6))) == [
        ("po_over_planned", "committed_amount",
         "Already accepted (now done): the PO (1,200.50) is over the planned cost (1,000.00) by 200.50.")]
    assert found(make(committed_amount=1200.5, po_date=date(2026, 10, 6))) == []  # no planned cost: nothing to exceed


def test_invoices_over_the_po_and_an_invoice_without_a_po():
    over = make(committed_amount=2500.0, po_date=date(2026, 10, 6), invoiced_amount=2750.0)
    assert found(over) == [("invoice_over_po", "invoiced_amount",
                            "Already accepted (now done): the invoices (2,750.00) are over the PO (2,500.00) by "
                            "250.00.")]
    assert found(make(invoiced_amount=900.0)) == [
        ("invoice_without_po", "invoiced_amount",
         "Already accepted (now done): 900.00 is invoiced but there is no PO.")]
    assert found(make(invoiced_amount=0.0)) == []  # a zero invoice bills nothing
    unreadable = make(invoiced_amount=900.0, problems=[Problem("amount_unparseable", "committed_amount", "x")])
    assert [r for r, _, _ in found(unreadable)] == ["amount_unparseable"]  # the PO is unreadable, not missing


def test_a_po_dated_before_the_request_was_taken_on_in_the_local_zone():
    early = make(committed_amount=800.0, po_date=date(2026, 10, 5))
    assert found(early) == [("po_before_approval", "po_date", "Already accepted (now done): the PO is dated "
                                                              "2026-10-05, before the request was approved on "
                                                              "2026-10-06.")]
    assert found(make(committed_amount=800.0, po_date=date(2026, 10, 6))) == []  # the same local day is fine
    never_in_intake = make(committed_amount=800.0, po_date=date(2026, 9, 1), created_stage=Stage.BACKLOG, history=[])
    assert found(never_in_intake) == []  # only tasks created in intake


def test_a_cancelled_request_with_a_po_was_never_approved_and_its_field_rules_are_exempt():
    rejected = [StageChange(APPROVED, Stage.INTAKE, Stage.CANCELLED, "Request", "Cancelled")]
    task = make(stage=Stage.CANCELLED, history=rejected, committed_amount=1500.0, planned_cost=1000.0,
                po_date=date(2026, 10, 2), owner=None)
    required = IntakeConfig(required=["owner"], brief_min_chars=0)
    assert found(task, required) == [
        ("po_before_approval", "po_date",
         "Cancelled: the PO is dated 2026-10-02 but the request was never approved (it did not leave intake for "
         "work)."),
        ("po_over_planned", "committed_amount",
         "Cancelled: the PO (1,500.00) is over the planned cost (1,000.00) by 500.00."),
    ]  # and no `required owner`: nobody will do the work


WEBINAR_RULES = IntakeConfig(
    required=["owner"], brief_min_chars=40, controls=[],
    rules=[{"when": {"type": "Webinar"}, "required": ["activity", "planned_cost", "owner"], "brief_min_chars": 120},
           {"when": {"type": ["Webinar", "Event"], "source": "web"}, "required": ["gl_account"]}],
)


def test_rules_per_request_type_add_fields_and_the_problem_says_which_rule_applied():
    webinar = make(stage=Stage.INTAKE, history=[], type="webinar ", owner=None)  # type matched without case
    assert found(webinar, WEBINAR_RULES) == [
        ("brief_too_short", "brief", f"Still in intake: the brief has {len(BRIEF)} characters; at least 120 are "
                                     "needed for Webinar requests."),
        ("required", "activity", "Still in intake: Activity is missing (required for Webinar requests)."),
        ("required", "gl_account", "Still in intake: G/L account is missing (required for Webinar or Event requests "
                                   "from web)."),
        ("required", "owner", "Still in intake: Owner is missing."),  # intake.required, as before
        ("required", "planned_cost", "Still in intake: Planned cost is missing (required for Webinar requests)."),
    ]
    blog = make(stage=Stage.INTAKE, history=[], type="Blog post", owner=None)
    assert found(blog, WEBINAR_RULES) == [("required", "owner", "Still in intake: Owner is missing.")]
    other_source = make(stage=Stage.INTAKE, history=[], type="Event", source="content", owner="ana")
    assert found(other_source, WEBINAR_RULES) == []


def test_checking_many_tasks_applies_each_kinds_rules_as_checking_one_does():
    """check_tasks works out a kind of request's requirements once; every task still gets its own kind's rules,
    including kinds that differ only in source, category or campaign."""
    rules = IntakeConfig(required=["owner"], brief_min_chars=40, controls=[], rules=[
        *WEBINAR_RULES.rules, {"when": {"category": "Events"}, "required": ["due_date"]},
        {"when": {"campaign": "Spring"}, "brief_min_chars": 200}])
    kinds = [dict(type="Webinar"), dict(type="Webinar", source="content"), dict(type="webinar", source="content"),
             dict(type="Event"), dict(type="Event", category="Events"),
             dict(type="Event", category="Events", campaign="Autumn"), dict(type="Blog post", campaign=None),
             dict(type="Webinar", campaign="Autumn")]
    for order in (kinds, kinds[::-1]):  # which task of a kind comes first must not matter
        tasks = [make(stage=Stage.INTAKE, history=[], key=f"MKT-{i}", owner=None, **kw)
                 for i, kw in enumerate(order * 2)]
        one_by_one = sorted((v for t in tasks for v in check_task(t, rules, None, CAL)),
                            key=lambda v: (v.source, int(v.key[4:]), v.rule, v.field))
        assert check_tasks(tasks, {}, rules, None, CAL) == one_by_one
    per_kind = {frozenset((v.rule, v.field, v.problem) for v in check_task(t, rules, None, CAL)) for t in tasks}
    assert len(per_kind) == len(kinds) - 1  # each kind is asked for something the others are not (the two
    # spellings of a content Webinar are one kind to the rules)


def test_rule_scopes_read_as_finance_would_say_them():
    rule = WEBINAR_RULES.rules[1].when
    assert rule_scope(rule) == "Webinar or Event requests from web"
    assert rule_scope(type(rule)(category="Events", campaign=["Q4 Webinars"])) == \
        "requests in category Events of campaign Q4 Webinars"


def test_validate_rejects_an_unknown_when_key_or_field_with_its_key_path(raw_config, env):
    raw_config["intake"] = {"rules": [{"when": {"type": "Webinar"}, "required": ["activity"]},
                                      {"when": {"issuetype": "Webinar"}, "required": ["budget_owner"]}],
                            "controls": ["po_over_planned", "po_over_budget"]}
    with pytest.raises(ConfigError) as e:
        parse_config(raw_config, env)
    problems = "\n".join(e.value.problems)
    assert "intake.rules[1].when.issuetype: unknown key" in problems
    assert "intake.rules[1].required[0]:" in problems
    assert "intake.controls[1]:" in problems
    raw_config["intake"] = {"controls": []}
    assert parse_config(raw_config, env).intake.controls == []
