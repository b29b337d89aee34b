"""Corrupted page sets, as a hostile API or a damaged save delivers them: a bad value is contained at its field,
a record that cannot be mapped keeps its last good version, a read that may have missed records deletes nothing,
and each problem is named (source, key, file, JSON path) in the Sync log or the Intake tab."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from page_sets import (
    pages_of,
    rewrite,
    setup,
    state_dump,
    stored_tasks,
    sync,
    sync_log_warnings,
    tab_rows,
    task_rows,
)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    config = setup(tmp_path)
    assert sync(config).exit_code == 0
    return config


def jira_search(tmp: Path) -> tuple[int, dict]:
    manifest, bodies = pages_of(tmp / "jira")
    i = next(i for i, e in enumerate(manifest["pages"]) if e["endpoint"].endswith("/search/jql"))
    return i, bodies[i]


def resync(config: Path) -> str:
    """A full run over the edited pages: it succeeds; returns its Sync log warnings."""
    done = sync(config, "--full")
    assert done.exit_code == 0, done.output
    assert "unexpected" not in done.output
    return sync_log_warnings(config.parent)


def nothing_lost(tmp: Path, before: dict) -> None:
    assert set(task_rows(tmp)) == set(before), set(before) ^ set(task_rows(tmp))


def intake(tmp: Path, key: str) -> list[tuple]:
    return [r for r in tab_rows(tmp, "Intake") if r[1] == key]


def edit_issue(tmp: Path, change) -> str:
    """Apply `change` to the first issue of the first search page; returns its key."""
    i, body = jira_search(tmp)
    change(body["issues"][0])
    rewrite(tmp / "jira", i, body)
    return body["issues"][0]["key"]


def test_a_negative_estimate_is_a_problem_of_that_field_only(good: Path):
    tmp = good.parent
    before = task_rows(tmp)
    key = edit_issue(tmp, lambda issue: issue["fields"].update(timeoriginalestimate=-3600))
    resync(good)
    nothing_lost(tmp, before)
    row = task_rows(tmp)[("web", key)]
    assert row[:5] == before[("web", key)][:5]  # the rest of the task is kept
    assert row[15] is None  # Estimate h
    assert [(r[5], r[6]) for r in intake(tmp, key) if r[6] == "estimate_hours"] == [("estimate_unparseable",
                                                                                     "estimate_hours")]


def test_a_change_without_a_time_is_skipped_the_rest_of_the_history_kept(good: Path):
    tmp = good.parent
    manifest, bodies = pages_of(tmp / "jira")
    i = next(i for i, e in enumerate(manifest["pages"]) if e["endpoint"].endswith("/bulkfetch"))
    log = next(lg for lg in bodies[i]["issueChangeLogs"] if len(lg["changeHistories"]) >= 2)
    log["changeHistories"][0]["created"] = None
    rewrite(tmp / "jira", i, bodies[i])
    before = task_rows(tmp)
    resync(good)
    nothing_lost(tmp, before)
    problems = [r for r in tab_rows(tmp, "Intake") if r[5] == "history_unreadable"]
    assert len(problems) == 1 and f"change {log['changeHistories'][0]['id']} was skipped" in problems[0][7]
    task = stored_tasks(tmp)[("web", problems[0][1])]
    assert len(task.history) >= 1  # the other changes of its history are kept


@pytest.mark.parametrize(("change", "reason"), [
    (lambda issue: issue.update(fields=None), "issue 10001 has no key or its fields are null"),
    (lambda issue: issue["fields"].update(created=None), "its creation time is unreadable"),
    (lambda issue: issue["fields"].update(status=None, issuetype=[1, 2]) or issue.pop("changelog", None),
     None),
])
def test_an_issue_that_cannot_be_mapped_keeps_its_last_good_version(good: Path, change, reason):
    tmp = good.parent
    before, stored = task_rows(tmp), stored_tasks(tmp)
    key = edit_issue(tmp, change)
    warnings = resync(good)
    nothing_lost(tmp, before)
    assert stored_tasks(tmp)[("web", key)] == stored[("web", key)] or reason is None
    if reason:
        assert f"web {key}: cannot be read ({reason}" in warnings and "kept its last good version" in warnings


def test_a_null_status_keeps_a_done_task_done_and_names_it(good: Path):
    tmp = good.parent
    stored = stored_tasks(tmp)
    done = next(t for t in stored.values() if t.source == "web" and t.stage.value == "done" and t.history)
    i, body = jira_search(tmp)
    manifest, _ = pages_of(tmp / "jira")
    for j in (k for k, e in enumerate(manifest["pages"]) if e["endpoint"].endswith("/search/jql")):
        body = pages_of(tmp / "jira")[1][j]
        for issue in body["issues"]:
            if issue["key"] == done.key:
                issue["fields"]["status"] = None
        rewrite(tmp / "jira", j, body)
    resync(good)
    row = task_rows(tmp)[("web", done.key)]
    assert row[4] == "done"
    assert any(r[5] == "status_unreadable" and "Jira sent no status" in r[7] for r in intake(tmp, done.key))


def test_an_absurd_amount_is_refused_at_its_field_not_by_the_whole_sync(good: Path):
    tmp = good.parent
    before = task_rows(tmp)
    key = edit_issue(tmp, lambda issue: issue["fields"].update(customfield_10046=1e308))  # Planned cost
    resync(good)
    nothing_lost(tmp, before)
    assert any(r[5] == "amount_unparseable" and "beyond any plausible amount" in r[7] for r in intake(tmp, key))


def test_a_search_page_without_its_issues_deletes_nothing_and_says_where(good: Path):
    tmp = good.parent
    before = task_rows(tmp)
    i, body = jira_search(tmp)
    rewrite(tmp / "jira", i, {**body, "issues": None})
    warnings = resync(good)
    nothing_lost(tmp, before)
    assert f"{tmp}/jira/{i + 1:04d}.json: $.issues: expected a list, found null" in warnings
    assert "web: this full read may have missed tasks" in warnings


@pytest.mark.parametrize(("edit", "path"), [
    (lambda body: body["issueChangeLogs"].__setitem__(0, ["not", "an", "object"]),
     "$.issueChangeLogs[0]: expected an object, found a list"),
    (lambda body: body.__setitem__("issueChangeLogs", "oops"), "$.issueChangeLogs: expected a list, found a text"),
])
def test_a_body_of_the_wrong_shape_is_named_by_file_and_json_path(good: Path, edit, path: str):
    tmp = good.parent
    before = task_rows(tmp)
    manifest, bodies = pages_of(tmp / "jira")
    i = next(i for i, e in enumerate(manifest["pages"]) if e["endpoint"].endswith("/bulkfetch"))
    edit(bodies[i])
    rewrite(tmp / "jira", i, bodies[i])
    assert f"{tmp}/jira/{i + 1:04d}.json: {path}" in resync(good)
    nothing_lost(tmp, before)


def test_a_page_that_is_a_list_instead_of_an_object_is_named(good: Path):
    tmp = good.parent
    before = task_rows(tmp)
    i, body = jira_search(tmp)
    rewrite(tmp / "jira", i, [body])
    assert f"{i + 1:04d}.json: $: expected an object, found a list" in resync(good)
    nothing_lost(tmp, before)


def test_json_nested_beyond_reason_fails_the_run_naming_the_file(good: Path):
    tmp = good.parent
    before = state_dump(tmp)
    i, _ = jira_search(tmp)
    (tmp / "jira" / f"{i + 1:04d}.json").write_text('{"issues": ' + "[" * 5000 + "]" * 5000 + "}")
    done = sync(good, "--full")
    assert done.exit_code == 1 and f"{i + 1:04d}.json: the JSON is nested too deeply" in done.output
    assert state_dump(tmp) == before


def test_a_description_nested_too_deeply_to_read_is_a_problem_of_the_brief():
    """Built in memory (a decoder refuses such JSON before the mapping sees it): one field, not the issue."""
    from page_sets import DEMO, good_pages

    from syncer.config import parse_config
    from syncer.sources import MapContext
    from syncer.sources.jira.mapping import map_pages

    doc: dict = {"type": "text", "text": "deep"}
    for _ in range(5000):
        doc = {"type": "paragraph", "content": [doc]}
    pages = good_pages()["jira"]
    issue = next(p for p in pages if p.endpoint.endswith("/search/jql")).body["issues"][0]
    issue["fields"]["description"] = {"type": "doc", "content": [doc]}
    src = parse_config({**DEMO, "budget": None}, env={}).sources[0]
    mapped = map_pages(pages, MapContext("web", src.fields, src.stages, parse_config(DEMO, env={}).tz))
    task = next(t for t in mapped.tasks if t.key == issue["key"])
    assert task.brief is None and [p.rule for p in task.problems if p.field == "brief"] == ["field_unreadable"]


def test_worklogs_without_an_id_are_each_counted(good: Path):
    """Before, worklogs without an id were de-duplicated into one another: 50.5 logged hours became 3."""
    tmp = good.parent
    i, body = jira_search(tmp)
    issue = body["issues"][0]
    logs = [{"author": {"emailAddress": "ana@acme.com"}, "started": "2026-11-02T09:00:00.000+0100",
             "timeSpentSeconds": s} for s in (10800, 36000, 36000, 36000, 36000, 27000)]  # 3 + 4 x 10 + 7.5 = 50.5
    issue["fields"]["worklog"] = {"startAt": 0, "maxResults": 20, "total": 21, "worklogs": []}
    rewrite(tmp / "jira", i, body)
    manifest, _ = pages_of(tmp / "jira")
    path = f"/rest/api/3/issue/{issue['key']}/worklog"
    (tmp / "jira" / "0999.json").write_text(json.dumps({"startAt": 0, "total": 6, "worklogs": logs}))
    manifest["pages"].append({"file": "0999.json", "endpoint": f"GET {path}", "params": {"startAt": 0}})
    (tmp / "jira" / "manifest.json").write_text(json.dumps(manifest))
    resync(good)
    assert task_rows(tmp)[("web", issue["key"])][16] == 50.5  # Logged h


def test_asana_time_entries_without_a_gid_are_each_counted(good: Path):
    tmp = good.parent
    manifest, bodies = pages_of(tmp / "asana")
    i = next(i for i, e in enumerate(manifest["pages"]) if e["endpoint"].endswith("/time_tracking_entries"))
    gid = manifest["pages"][i]["endpoint"].split("/")[2]
    bodies[i]["data"] = [{"duration_minutes": m, "entered_on": "2026-11-02", "created_by": {"name": "Ana"}}
                         for m in (180, 600, 600, 600, 600, 450)]
    rewrite(tmp / "asana", i, bodies[i])
    resync(good)
    assert task_rows(tmp)[("content", gid)][16] == 50.5


def test_the_same_issue_key_twice_in_one_read_is_reported_and_the_newer_kept(good: Path):
    tmp = good.parent
    manifest, bodies = pages_of(tmp / "jira")
    first, second = [i for i, e in enumerate(manifest["pages"]) if e["endpoint"].endswith("/search/jql")]
    newer = json.loads(json.dumps(bodies[first]["issues"][0]))
    newer["id"] = "99999"
    newer["fields"]["summary"] = "Renamed later"
    newer["fields"]["updated"] = "2026-11-19T10:00:00.000+0000"
    older = bodies[first]["issues"][0]
    older["fields"]["updated"] = "2026-11-01T10:00:00.000+0000"
    bodies[second]["issues"].insert(0, older)
    bodies[first]["issues"][0] = newer  # the newer copy comes first: the order of the pages does not decide
    rewrite(tmp / "jira", first, bodies[first])
    rewrite(tmp / "jira", second, bodies[second])
    warnings = resync(good)
    assert f"web {newer['key']}: read 2 times in this run, in different versions; the newest" in warnings
    assert task_rows(tmp)[("web", newer["key"])][2] == "Renamed later"


def test_an_asana_task_without_a_creation_time_keeps_its_last_good_version(good: Path):
    tmp = good.parent
    before, stored = task_rows(tmp), stored_tasks(tmp)
    manifest, bodies = pages_of(tmp / "asana")
    i = next(i for i, e in enumerate(manifest["pages"]) if e["endpoint"].endswith("/tasks"))
    task = bodies[i]["data"][0]
    task["created_at"] = None
    rewrite(tmp / "asana", i, bodies[i])
    warnings = resync(good)
    nothing_lost(tmp, before)
    assert stored_tasks(tmp)[("content", task["gid"])] == stored[("content", task["gid"])]
    assert f"content {task['gid']}: cannot be read (its creation time is unreadable" in warnings
    assert any(r[6] == "created_at" for r in intake(tmp, task["gid"]))  # an Intake row: it concerns a field


def test_an_asana_story_without_a_time_is_skipped_the_task_kept(good: Path):
    tmp = good.parent
    manifest, bodies = pages_of(tmp / "asana")
    i = next(i for i, e in enumerate(manifest["pages"]) if e["endpoint"].endswith("/stories") and bodies[i]["data"])
    gid = manifest["pages"][i]["endpoint"].split("/")[2]
    bodies[i]["data"][0]["created_at"] = None
    rewrite(tmp / "asana", i, bodies[i])
    resync(good)
    assert ("content", gid) in task_rows(tmp)
    assert any(r[5] == "history_unreadable" for r in intake(tmp, gid))


def test_an_asana_task_without_a_gid_makes_the_read_incomplete(good: Path):
    tmp = good.parent
    before = task_rows(tmp)
    manifest, bodies = pages_of(tmp / "asana")
    i = next(i for i, e in enumerate(manifest["pages"]) if e["endpoint"].endswith("/tasks"))
    bodies[i]["data"][0].pop("gid")
    rewrite(tmp / "asana", i, bodies[i])
    warnings = resync(good)
    nothing_lost(tmp, before)
    assert "content: a record without a gid was read" in warnings and "so no task was removed" in warnings
