"""The pure mapping of raw Jira Cloud and Asana payloads (shaped like the real APIs) into canonical Tasks."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syncer.amounts import AmountError, parse_amount
from syncer.errors import ConfigError
from syncer.model import Stage
from syncer.sources import MapContext, Page
from syncer.sources.asana import mapping as asana
from syncer.sources.jira import mapping as jira

FIXTURES = Path(__file__).parent / "fixtures"
BERLIN = ZoneInfo("Europe/Berlin")
CET = timezone(timedelta(hours=1))
JIRA_FIELDS = {
    "campaign": "Campaign", "activity": "Activity", "gl_account": "G/L account", "category": "Work category",
    "planned_cost": "Planned cost", "committed_amount": "PO amount", "po_date": "PO date",
    "invoiced_amount": "customfield_10052", "invoice_date": "Invoice date",
}


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def jira_pages():
    return [
        Page("GET /rest/api/3/field", {}, load("jira_fields.json")),
        Page("GET /rest/api/3/status", {}, load("jira_statuses.json")),
        Page("GET /rest/api/3/search/jql", {"jql": "project = MKT"}, load("jira_search_page.json")),
        Page("POST /rest/api/3/changelog/bulkfetch", {}, load("jira_bulk_changelog.json")),
    ]


@pytest.fixture
def jira_tasks():
    result = jira.map_pages(jira_pages(), MapContext("web", JIRA_FIELDS, {"Request": Stage.INTAKE}, BERLIN, base_url="https://acme.atlassian.net"))
    tasks, warnings = result.tasks, result.warnings
    assert warnings == []
    return {t.key: t for t in tasks}


def test_jira_reopened_task_maps_every_field(jira_tasks):
    t = jira_tasks["MKT-7"]
    assert (t.source, t.key, t.url) == ("web", "MKT-7", "https://acme.atlassian.net/browse/MKT-7")
    assert (t.title, t.type, t.status, t.stage) == ("Spring launch landing page", "Task", "Done", Stage.DONE)
    assert (t.owner, t.requester) == ("ana@acme.com", "Zoë Müller")
    assert (t.campaign, t.activity, t.gl_account, t.category) == ("Spring Launch", "Web", "6100", "Design")
    assert t.created_at == datetime(2026, 3, 2, 9, 0, tzinfo=CET)
    assert t.due_date == date(2026, 3, 8)
    assert t.estimate_hours == 8.0  # 28800 s of original estimate
    assert (t.planned_cost, t.committed_amount, t.invoiced_amount) == (2500.0, 1200.50, 1000.0)
    assert (t.po_date, t.invoice_date) == (date(2026, 3, 3), date(2026, 3, 20))
    assert t.brief == "Build the landing page for the spring launch.\nOwner: @Ana Lima"  # ADF -> plain text
    assert t.labels == ("launch", "web")
    assert t.amount_first_seen == {"committed_amount": datetime(2026, 3, 3, 10, 0, tzinfo=CET)}
    # Full history from the bulk changelog, epoch-millis and string timestamps alike, reopening included.
    assert t.created_stage is Stage.BACKLOG
    assert [(c.at, c.from_stage, c.to_stage) for c in t.history] == [
        (datetime(2026, 3, 2, 10, 0, tzinfo=CET), Stage.BACKLOG, Stage.IN_PROGRESS),
        (datetime(2026, 3, 5, 16, 0, tzinfo=CET), Stage.IN_PROGRESS, Stage.DONE),
        (datetime(2026, 3, 6, 9, 0, tzinfo=CET), Stage.DONE, Stage.IN_PROGRESS),
        (datetime(2026, 3, 7, 12, 0, tzinfo=CET), Stage.IN_PROGRESS, Stage.REVIEW),
        (datetime(2026, 3, 9, 12, 0, tzinfo=CET), Stage.REVIEW, Stage.DONE),
    ]
    assert [(w.author, w.hours) for w in t.worklogs] == [("ana@acme.com", 3.0), ("José Núñez", 1.5)]
    assert t.problems == []


def test_jira_unmapped_status_unparseable_amount_formula_title(jira_tasks):
    t = jira_tasks["MKT-8"]
    assert t.title == '=HYPERLINK("http://x","click")'
    assert (t.status, t.stage) == ("Ready for QA", Stage.IN_PROGRESS)  # category indeterminate, by default
    assert ("Ready for QA", Stage.IN_PROGRESS) in t.defaulted_statuses
    assert t.created_stage is Stage.INTAKE  # "Request" is mapped explicitly
    assert t.category == "Story"  # no Work category: falls back to the issue type
    assert t.committed_amount is None
    assert [(p.rule, p.field) for p in t.problems] == [("amount_unparseable", "committed_amount")]
    assert "about 2k" in t.problems[0].problem
    assert t.owner is None and t.campaign is None and t.brief is None


def test_jira_status_defaults_by_name_before_category():
    ctx = jira.JiraContext("web", "https://x", {}, {"10012": ("Review queue", "new")}, {})
    assert ctx.stage("Review queue") == (Stage.REVIEW, True)  # name says review although category is new
    assert ctx.stage("On hold", "indeterminate") == (Stage.BLOCKED, True)
    assert ctx.stage("Won't do", "done") == (Stage.CANCELLED, True)
    assert ctx.stage("Triage", "new") == (Stage.INTAKE, True)
    assert ctx.stage("Anything", "new") == (Stage.BACKLOG, True)


def test_jira_field_names_resolve_or_fail_with_candidates():
    fields = load("jira_fields.json")
    assert jira.resolve_fields({"campaign": "Campaign"}, fields, "sources[0]")["campaign"] == "customfield_10042"
    assert jira.resolve_fields({"campaign": "customfield_10042"}, fields, "x")["campaign"] == "customfield_10042"
    with pytest.raises(ConfigError) as exc:
        jira.resolve_fields({"campaign": "Campain", "activity": "Region"}, fields, "sources[0]")
    text = str(exc.value)
    assert "sources[0].fields.campaign: no Jira field named 'Campain' (did you mean 'Campaign'?)" in text
    assert "sources[0].fields.activity: 'Region' matches several Jira fields: customfield_10060" in text
    assert "customfield_10061" in text


def test_jira_malformed_issue_is_kept_and_reported():
    pages = jira_pages()
    pages[2].body["issues"].append({"id": "10099", "key": "MKT-99", "fields": {"summary": "no created date"}})
    result = jira.map_pages(pages, MapContext("web", {}, {}, BERLIN, base_url="https://x"))
    assert {t.key for t in result.tasks} == {"MKT-7", "MKT-8"} and result.warnings == []
    kept = result.kept["MKT-99"]
    assert kept.field == "created_at" and kept.problem.startswith("cannot be read (its creation time is unreadable")


@pytest.mark.parametrize("stamp", [10**20, -(10**20), 1e300, float("nan")])
def test_jira_times_beyond_any_calendar_are_a_problem_of_their_issue_not_a_crash(stamp):
    """Epoch milliseconds past what a date can hold: an issue changed then is read (its copies still ranked), one
    created then is kept with the reason; the C library's refusal (OSError) must not end the run."""
    pages = jira_pages()
    issues = pages[2].body["issues"]
    issues[0]["fields"]["updated"] = stamp
    issues.append({**issues[1], "fields": {**issues[1]["fields"], "updated": stamp}})  # read twice, ranked
    issues.append({"id": "10098", "key": "MKT-98", "fields": {**issues[1]["fields"], "created": stamp}})
    result = jira.map_pages(pages, MapContext("web", {}, {}, BERLIN, base_url="https://x"))
    assert {t.key for t in result.tasks} == {"MKT-7", "MKT-8"}
    assert result.kept["MKT-98"].field == "created_at" and "is not a timestamp" in result.kept["MKT-98"].problem


def test_jira_paged_worklogs_replace_the_truncated_embedded_list():
    pages = jira_pages()
    issue = pages[2].body["issues"][0]
    issue["fields"]["worklog"]["total"] = 3  # Jira embeds at most 20; the rest must come from /worklog pages
    result = jira.map_pages(pages, MapContext("web", {}, {}, BERLIN, base_url="https://x"))
    tasks, warnings = result.tasks, result.warnings
    assert any("only 2 of 3 worklogs" in w for w in warnings)
    extra = {"startAt": 0, "maxResults": 5000, "total": 3, "worklogs": [
        *issue["fields"]["worklog"]["worklogs"],
        {"id": "100030", "author": {"displayName": "Ana"}, "started": "2026-03-08T10:00:00.000+0100",
         "timeSpentSeconds": 1800},
    ]}
    pages.append(Page("GET /rest/api/3/issue/MKT-7/worklog", {}, extra))
    result = jira.map_pages(pages, MapContext("web", {}, {}, BERLIN, base_url="https://x"))
    tasks, warnings = result.tasks, result.warnings
    t = next(t for t in tasks if t.key == "MKT-7")
    assert sum(w.hours for w in t.worklogs) == 5.0 and warnings == []


def asana_task(stages=None):
    stages = stages or {"Requests": Stage.INTAKE, "Doing": Stage.IN_PROGRESS, "Legal review": Stage.REVIEW,
                        "Done": Stage.DONE}
    pages = [
        Page("GET /projects/1201234567890123/tasks", {}, load("asana_tasks_page.json")),
        Page("GET /tasks/1209000000000001/stories", {}, load("asana_stories.json")),
        Page("GET /tasks/1209000000000001/time_tracking_entries", {}, load("asana_time_entries.json")),
    ]
    fields = {"campaign": "Campaign", "planned_cost": "Planned cost", "estimate_hours": "Estimated time",
              "committed_amount": "1300000000000004"}
    result = asana.map_pages(pages, MapContext("content", fields, stages, BERLIN, projects=("1201234567890123",)))
    tasks, warnings = result.tasks, result.warnings
    assert warnings == []
    return tasks[0]


def test_asana_task_history_from_stories():
    t = asana_task()
    assert (t.key, t.status, t.stage, t.title) == ("1209000000000001", "Completed", Stage.DONE,
                                                   "Legal copy for webinar invite")
    assert (t.owner, t.requester, t.campaign) == ("zoe@acme.com", "ana@acme.com", "Q4 Webinars")
    assert (t.planned_cost, t.committed_amount, t.estimate_hours) == (800.0, 1200.0, 2.5)  # 150 min duration
    assert t.due_date == date(2026, 4, 9) and t.labels == ("email",)
    assert t.created_stage is Stage.INTAKE  # the first move's old section
    z = UTC
    assert [(c.at, c.from_stage, c.to_stage, c.to_status) for c in t.history] == [
        (datetime(2026, 4, 2, 8, tzinfo=z), Stage.INTAKE, Stage.IN_PROGRESS, "Doing"),
        (datetime(2026, 4, 4, 8, tzinfo=z), Stage.IN_PROGRESS, Stage.REVIEW, "Legal review"),
        (datetime(2026, 4, 5, 8, tzinfo=z), Stage.REVIEW, Stage.IN_PROGRESS, "Doing"),
        (datetime(2026, 4, 6, 8, tzinfo=z), Stage.IN_PROGRESS, Stage.DONE, "Completed"),
        (datetime(2026, 4, 7, 8, tzinfo=z), Stage.DONE, Stage.IN_PROGRESS, "Doing"),
        (datetime(2026, 4, 8, 8, tzinfo=z), Stage.IN_PROGRESS, Stage.DONE, "Done"),
        (datetime(2026, 4, 10, 15, tzinfo=z), Stage.DONE, Stage.DONE, "Completed"),
    ]
    assert [(w.author, w.hours, w.started_at) for w in t.worklogs] == [
        ("Zoë Müller", 1.5, datetime(2026, 4, 2, tzinfo=BERLIN)),
        ("zoe@acme.com", 0.75, datetime(2026, 4, 8, tzinfo=BERLIN)),
    ]


def test_asana_unmapped_section_defaults_and_is_reported():
    t = asana_task(stages={"Doing": Stage.IN_PROGRESS})
    assert ("Legal review", Stage.REVIEW) in t.defaulted_statuses  # by name: "review"
    assert ("Requests", Stage.INTAKE) in t.defaulted_statuses  # by name: "request"
    assert ("Done", Stage.BACKLOG) in t.defaulted_statuses  # an open task in "Done" with no mapping: backlog


@pytest.mark.parametrize("text,value", [("1200", 1200.0), ("1200.50", 1200.5), ("1,200.50", 1200.5),
                                        ("€1,200", 1200.0), ("EUR 950", 950.0), (7, 7.0), ("", None), (None, None)])
def test_amounts_parse_strictly(text, value):
    assert parse_amount(text) == value


@pytest.mark.parametrize("text", ["about 2k", "1.200,50", "12,00", "1,2000", "-5", "€", "1 200", True, float("nan")])
def test_amounts_refuse_to_guess(text):
    with pytest.raises(AmountError):
        parse_amount(text)


def test_asana_due_at_is_read_as_the_local_date():
    raw = load("asana_tasks_page.json")["data"][0]
    raw = {**raw, "due_on": None, "due_at": "2026-04-09T22:30:00.000Z"}  # 00:30 on 04-10 in Berlin (CEST)
    ctx = asana.AsanaContext("content", {}, {}, ("1201234567890123",), BERLIN)
    assert asana.to_task({"task": raw}, ctx).due_date == date(2026, 4, 10)


@pytest.mark.parametrize("text", ["$1,200", "1200 GBP", "USD 1200", "ABC 5", "٣٤"])
def test_amounts_in_another_currency_or_script_are_refused(text):
    with pytest.raises(AmountError):
        parse_amount(text, "EUR")


@pytest.mark.parametrize("text,value", [("€1,200.50", 1200.5), ("1,200 EUR", 1200.0), ("EUR 950", 950.0)])
def test_amounts_in_the_configured_currency_are_read(text, value):
    assert parse_amount(text, "EUR") == value


def test_typed_fields_local_dates_whole_numbers_and_bad_worklogs():
    from syncer.sources.fields import apply_fields

    problems: list = []
    typed = apply_fields({"gl_account": 6100.0, "po_date": "2026-03-31T23:30:00.000Z", "invoice_date": "2026-04-02",
                          "committed_amount": "$5"}, problems, BERLIN, "EUR")
    assert typed["gl_account"] == "6100"  # a number field holding a code, as the budget writes it
    assert typed["po_date"] == date(2026, 4, 1)  # 01:30 on 1 April in Berlin: FY2027, not FY2026
    assert typed["invoice_date"] == date(2026, 4, 2)
    assert typed["committed_amount"] is None and [p.rule for p in problems] == ["amount_unparseable"]


def test_asana_bad_time_entry_is_skipped_and_reported_not_the_task():
    raw = load("asana_tasks_page.json")["data"][0]
    entries = load("asana_time_entries.json")["data"] + [{"gid": "t3", "duration_minutes": 30, "entered_on": None}]
    ctx = asana.AsanaContext("content", {"planned_cost": "Planned cost"}, {}, ("1201234567890123",), BERLIN, "EUR")
    t = asana.to_task({"task": raw, "time_entries": entries}, ctx)
    assert t.planned_cost == 800.0 and sum(w.hours for w in t.worklogs) == 2.25
    assert [(p.rule, p.field) for p in t.problems] == [("worklog_unreadable", "worklogs")]


def test_asana_time_entry_dated_before_the_calendar_starts_is_skipped_not_the_task():
    # 0001-01-01 at midnight in Berlin is before datetime's first instant in UTC: that entry alone is skipped,
    # whether read in a bundle or as its page is gathered.
    raw = load("asana_tasks_page.json")["data"][0]
    entries = load("asana_time_entries.json")["data"] + [{"gid": "t4", "duration_minutes": 30,
                                                          "entered_on": "0001-01-01"}]
    ctx = asana.AsanaContext("content", {"planned_cost": "Planned cost"}, {}, ("1201234567890123",), BERLIN, "EUR")
    t = asana.to_task({"task": raw, "time_entries": entries}, ctx)
    assert sum(w.hours for w in t.worklogs) == 2.25 and [p.rule for p in t.problems] == ["worklog_unreadable"]
    pages = [Page("GET /projects/1201234567890123/tasks", {}, {"data": [raw]}),
             Page(f"GET /tasks/{raw['gid']}/time_tracking_entries", {}, {"data": entries})]
    mapped = asana.map_pages(pages, MapContext("content", {}, {}, BERLIN, projects=("1201234567890123",)))
    assert [t.key for t in mapped.tasks] == [raw["gid"]] and not mapped.kept
    assert [p.rule for p in mapped.tasks[0].problems] == ["worklog_unreadable"]


def test_jira_renamed_status_keeps_its_category_by_id():
    # The changelog recorded "Doing" (id 3); the status is called "In Progress" today. Its category comes by id.
    pages = jira_pages()
    hist = pages[3].body["issueChangeLogs"][0]["changeHistories"][0]["items"][0]
    hist["toString"] = "Doing"
    tasks = jira.map_pages(pages, MapContext("web", {}, {}, BERLIN, base_url="https://x")).tasks
    t = next(t for t in tasks if t.key == "MKT-7")
    assert (t.history[0].to_status, t.history[0].to_stage) == ("Doing", Stage.IN_PROGRESS)  # not backlog


def test_jira_amount_present_at_creation_was_not_first_seen_later():
    pages = jira_pages()
    item = pages[3].body["issueChangeLogs"][0]["changeHistories"][1]["items"][0]
    item["fromString"] = "€1,000.00"  # it had a value when created, then changed: date it by creation
    tasks = jira.map_pages(pages, MapContext("web", {"committed_amount": "PO amount"}, {}, BERLIN, base_url="https://x")).tasks
    assert next(t for t in tasks if t.key == "MKT-7").amount_first_seen == {}


def test_jira_done_without_history_completes_at_its_resolution_date():
    pages = jira_pages()[:3]  # no changelog pages at all
    pages[2].body["issues"][0]["fields"]["resolutiondate"] = "2026-03-09T12:00:00.000+0100"
    tasks = jira.map_pages(pages, MapContext("web", {}, {}, BERLIN, base_url="https://x")).tasks
    t = next(t for t in tasks if t.key == "MKT-7")
    from syncer.domain.figures import task_figures

    f = task_figures(t, datetime(2026, 4, 1, tzinfo=UTC), BERLIN)
    assert f.completed_at == datetime(2026, 3, 9, 12, tzinfo=CET)
    assert f.lead_days == pytest.approx(7.125)  # 03-02 09:00 -> 03-09 12:00, not 0


def test_jira_bad_worklog_is_skipped_and_reported_and_foreign_currency_refused():
    pages = jira_pages()
    fields = pages[2].body["issues"][0]["fields"]
    fields["worklog"]["worklogs"][1]["timeSpentSeconds"] = "a lot"
    fields["customfield_10050"] = "$1,200.50"
    result = jira.map_pages(pages, MapContext("web", {"committed_amount": "PO amount"}, {}, BERLIN,
                                                                currency="EUR", base_url="https://x"))
    t = next(t for t in result.tasks if t.key == "MKT-7")
    assert [w.hours for w in t.worklogs] == [3.0]
    assert sorted(p.rule for p in t.problems) == ["amount_unparseable", "worklog_unreadable"]
    assert t.committed_amount is None


def test_jira_skipped_stage_goes_straight_from_backlog_to_review(jira_tasks):
    # MKT-8: Request -> Ready for QA (intake -> in_progress, mapped by default), nothing else.
    t8 = jira_tasks["MKT-8"]
    assert [(c.from_status, c.to_status, c.from_stage, c.to_stage) for c in t8.history] == [
        ("Request", "Ready for QA", Stage.INTAKE, Stage.IN_PROGRESS)]
    pages = jira_pages()
    first = pages[3].body["issueChangeLogs"][0]["changeHistories"][0]["items"][0]
    first.update({"to": "10010", "toString": "In Review"})  # To Do -> In Review: in_progress skipped
    tasks = jira.map_pages(pages, MapContext("web", {}, {}, BERLIN, base_url="https://x")).tasks
    t = next(t for t in tasks if t.key == "MKT-7")
    assert (t.history[0].from_stage, t.history[0].to_stage) == (Stage.BACKLOG, Stage.REVIEW)
    from syncer.domain.figures import task_figures

    f = task_figures(t, datetime(2026, 4, 1, tzinfo=UTC), BERLIN)
    assert f.started_at == datetime(2026, 3, 2, 10, tzinfo=CET)  # entering review counts as started
    # review 03-02 10:00 -> 03-05 16:00 (3.25 d) + 03-07 12:00 -> 03-09 12:00 (2 d) = 5.25 d
    assert f.review_days == pytest.approx(5.25)


def test_jira_issue_read_under_two_keys_gets_its_histories_under_both(jira_tasks):
    # An issue moved to another project while the search paged is read under both keys, one id: the records of
    # the id are dropped as the issues are mapped, but only once the last key that needs them is mapped.
    pages = jira_pages()
    moved = copy.deepcopy(pages[2].body["issues"][0])
    moved["key"] = "OPS-7"
    pages.insert(3, Page("GET /rest/api/3/search/jql", {"jql": "project = OPS"}, {"issues": [moved]}))
    result = jira.map_pages(pages, MapContext("web", JIRA_FIELDS, {"Request": Stage.INTAKE}, BERLIN,
                                              base_url="https://acme.atlassian.net"))
    tasks = {t.key: t for t in result.tasks}
    assert jira_tasks["MKT-7"].history  # the fixture's issue has a history to share
    assert tasks["OPS-7"].history == tasks["MKT-7"].history == jira_tasks["MKT-7"].history
    assert tasks["OPS-7"].worklogs == tasks["MKT-7"].worklogs == jira_tasks["MKT-7"].worklogs
