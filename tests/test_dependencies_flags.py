"""SPEC §4 depends_on and flagged spells, mapped from the fields the sources already return (no extra request):
Jira "is blocked by" links and the Flagged (Impediment) field with its changelog, Asana `dependencies`; and §5:
flagged time in progress or review counts as blocked, never twice."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from syncer.domain.figures import task_figures
from syncer.model import Spell, Stage, StageChange, Task
from syncer.sources import MapContext, Page
from syncer.sources.asana import mapping as asana
from syncer.sources.asana.settings import TASK_OPT_FIELDS
from syncer.sources.jira import mapping as jira

FIXTURES = Path(__file__).parent / "fixtures"
BERLIN = ZoneInfo("Europe/Berlin")
FLAG_ID = "customfield_10021"


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def link(kind: str, side: str, key: str) -> dict:
    names = {"Blocks": ("is blocked by", "blocks"), "Relates": ("relates to", "relates to")}[kind]
    return {"id": "1", "type": {"id": "10000", "name": kind, "inward": names[0], "outward": names[1]},
            side: {"id": "1", "key": key, "fields": {"summary": "x"}}}


def flag_item(before: str | None, after: str | None) -> dict:
    return {"field": "Flagged", "fieldtype": "custom", "fieldId": FLAG_ID, "from": None, "fromString": before,
            "to": None, "toString": after}


def jira_tasks(links: list, flagged_now: bool, flag_history: list[tuple[str, dict]]) -> dict[str, Task]:
    fields = load("jira_fields.json") + [{"id": FLAG_ID, "name": "Flagged", "custom": True,
                                          "schema": {"type": "array", "items": "option"}}]
    search = copy.deepcopy(load("jira_search_page.json"))
    issue = search["issues"][1]
    issue["fields"]["issuelinks"] = links
    issue["fields"][FLAG_ID] = [{"value": "Impediment", "id": "10019"}] if flagged_now else None
    changelog = copy.deepcopy(load("jira_bulk_changelog.json"))
    changelog["issueChangeLogs"].append({"issueId": issue["id"], "changeHistories": [
        {"id": f"9{i}", "created": at, "items": [item]} for i, (at, item) in enumerate(flag_history)]})
    pages = [Page("GET /rest/api/3/field", {}, fields),
             Page("GET /rest/api/3/status", {}, load("jira_statuses.json")),
             Page("GET /rest/api/3/search/jql", {}, search),
             Page("POST /rest/api/3/changelog/bulkfetch", {}, changelog)]
    mapped = jira.map_pages(pages, MapContext("web", {}, {}, BERLIN, base_url="https://acme.atlassian.net"))
    tasks = mapped.tasks
    assert mapped.warnings == [] and mapped.kept == {}
    return {t.key: t for t in tasks}


def test_jira_is_blocked_by_links_are_depends_on_and_other_links_are_not():
    links = [link("Blocks", "inwardIssue", "MKT-12"), link("Blocks", "inwardIssue", "MKT-9"),
             link("Blocks", "outwardIssue", "MKT-30"),  # MKT-8 blocks MKT-30: MKT-30 waits, not MKT-8
             link("Relates", "inwardIssue", "MKT-40")]
    tasks = jira_tasks(links, False, [])
    assert tasks["MKT-8"].depends_on == ("MKT-9", "MKT-12")  # in key order
    assert tasks["MKT-7"].depends_on == ()


def test_jira_flag_spells_from_the_changelog_last_one_open_while_flagged():
    history = [("2026-03-10T09:00:00.000+0100", flag_item(None, "Impediment")),
               ("2026-03-11T15:00:00.000+0100", flag_item("Impediment", None)),
               ("2026-03-12T09:00:00.000+0100", flag_item(None, "Impediment"))]
    t = jira_tasks([], True, history)["MKT-8"]
    cet = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
    assert t.flagged == [Spell(cet, cet + timedelta(days=1, hours=6)), Spell(cet + timedelta(days=2), None)]


def test_jira_flagged_now_without_history_is_flagged_since_creation_and_unflagged_has_no_open_spell():
    t = jira_tasks([], True, [])["MKT-8"]
    assert t.flagged == [Spell(t.created_at, None)]
    done = jira_tasks([], False, [("2026-03-11T15:00:00.000+0100", flag_item("Impediment", None))])["MKT-8"]
    assert done.flagged == [Spell(done.created_at, datetime(2026, 3, 11, 14, 0, tzinfo=UTC))]
    assert jira_tasks([], False, [])["MKT-8"].flagged == []


def test_a_site_without_a_flagged_field_asks_for_no_such_field():
    ids = jira.resolve_fields({}, load("jira_fields.json"), "sources[0]")
    assert "flagged" not in ids
    ids = jira.resolve_fields({}, [*load("jira_fields.json"), {"id": FLAG_ID, "name": "Flagged"}], "sources[0]")
    assert ids["flagged"] == FLAG_ID


def test_asana_dependencies_come_with_the_task_page():
    assert "dependencies.gid" in TASK_OPT_FIELDS.split(",")
    page = copy.deepcopy(load("asana_tasks_page.json"))
    page["data"][0]["dependencies"] = [{"gid": "1209000000000007", "resource_type": "task"},
                                      {"gid": "1209000000000003", "resource_type": "task"}]
    tasks = asana.map_pages([Page("GET /projects/1201/tasks", {}, page)], MapContext("content", {}, {}, BERLIN)).tasks
    assert tasks[0].depends_on == ("1209000000000003", "1209000000000007")


def _task(history: list[StageChange], flagged: list[Spell]) -> Task:
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    return Task(source="web", key="MKT-1", title="t", created_at=t0, stage=history[-1].to_stage, status="",
                created_stage=Stage.BACKLOG, history=history, flagged=flagged)


def test_flagged_time_in_progress_or_review_counts_as_blocked_never_twice():
    d = lambda n: datetime(2026, 3, 2, 9, 0, tzinfo=UTC) + timedelta(days=n)  # noqa: E731
    history = [StageChange(d(1), Stage.BACKLOG, Stage.IN_PROGRESS, "To Do", "In Progress"),
               StageChange(d(3), Stage.IN_PROGRESS, Stage.BLOCKED, "In Progress", "Blocked"),
               StageChange(d(5), Stage.BLOCKED, Stage.REVIEW, "Blocked", "In Review"),
               StageChange(d(8), Stage.REVIEW, Stage.DONE, "In Review", "Done")]
    # flagged from day 0 (backlog: not counted) to day 4 (overlaps blocked days 3-4: counted once), and again
    # from day 6 in review, still flagged when done on day 8 (done time is not counted)
    flags = [Spell(d(0), d(4)), Spell(d(6), None)]
    f = task_figures(_task(history, flags), d(10), BERLIN)
    # blocked stage 3..5 = 2 days; flagged in progress 1..3 = 2 days; flagged in review 6..8 = 2 days
    assert f.blocked_days == 6.0
    assert task_figures(_task(history, []), d(10), BERLIN).blocked_days == 2.0
