"""A replay's typed decoding: pages decoded only as far as the mapping reads them map to exactly the tasks the
whole pages do; a page whose shape does not fit is decoded whole, so the mapping names what is wrong as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo.data import ASANA_FOLDER, JIRA_FOLDER, write_demo
from syncer.config import load_config
from syncer.sources import replay
from syncer.sources.asana.slim import decode_page as asana_page
from syncer.sources.jira.slim import decode_page
from syncer.sources.replay import ReplaySource


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("slim")
    write_demo(out, n_tasks=400)
    cfg = out / "c.yaml"
    cfg.write_text(f"sources:\n  - {{name: web, kind: replay, path: '{out / JIRA_FOLDER}'}}\n"
                   f"  - {{name: content, kind: replay, path: '{out / ASANA_FOLDER}'}}\n"
                   "timezone: Europe/Berlin\n"
                   f"sink: {{kind: xlsx, path: '{out / 'o.xlsx'}'}}\nstate: {{path: '{out / 's.db'}'}}\n",
                   encoding="utf-8")
    return cfg


def read(cfg_path: Path, slim: bool, monkeypatch: pytest.MonkeyPatch, source: int = 0):
    cfg = load_config(cfg_path, env={})
    with monkeypatch.context() as m:
        if not slim:
            m.setattr(replay, "SLIM", {})
        return ReplaySource(cfg.sources[source], cfg).read(None, None)


@pytest.mark.parametrize("source", [0, 1], ids=["jira", "asana"])
def test_slim_pages_map_to_the_same_tasks_as_whole_pages(demo: Path, monkeypatch: pytest.MonkeyPatch,
                                                         source: int) -> None:
    slim, whole = read(demo, True, monkeypatch, source), read(demo, False, monkeypatch, source)
    assert len(whole.tasks) > 100 and sum(len(t.worklogs) for t in whole.tasks) > 300
    assert sum(len(t.history) for t in whole.tasks) > 100
    assert slim.tasks == whole.tasks
    assert (slim.warnings, slim.anomalies, slim.kept) == (whole.warnings, whole.anomalies, whole.kept)


def _first(folder: Path, ending: str) -> tuple[dict, bytes]:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    entry = next(e for e in manifest["pages"] if e["endpoint"].endswith(ending))
    return entry, (folder / entry["file"]).read_bytes()


def test_a_slim_search_page_holds_only_what_the_mapping_reads(demo: Path) -> None:
    entry, data = _first(demo.parent / JIRA_FOLDER, "/search/jql")
    body = decode_page(entry["endpoint"], entry["params"], data)
    full = json.loads(data)
    issue = next(i for i in body["issues"] if i["fields"].get("worklog", {}).get("worklogs"))
    wl = issue["fields"]["worklog"]["worklogs"][0]
    assert set(wl) <= {"id", "author", "updateAuthor", "started", "timeSpentSeconds"} and "started" in wl
    assert set(wl["author"]) <= {"self", "emailAddress", "displayName", "accountId", "name", "key"}
    assert "self" not in issue and "self" not in issue["fields"]["status"]
    assert body["nextPageToken"] == full.get("nextPageToken") and len(body["issues"]) == len(full["issues"])


@pytest.mark.parametrize("body", [
    {"issues": [{"id": "1", "key": "MKT-1", "fields": {"worklog": {"total": 1, "worklogs": ["not an object"]}}}]},
    {"issues": [{"id": "1", "key": "MKT-1", "fields": {"assignee": "ann@acme.com"}}]},
    {"issues": "none"},
    [1, 2],
])
def test_a_page_of_another_shape_is_decoded_whole(body: object) -> None:
    assert decode_page("GET /rest/api/3/search/jql", {"fields": "summary,worklog,assignee"},
                       json.dumps(body).encode()) is None


def test_a_search_for_every_field_is_decoded_whole() -> None:
    page = json.dumps({"issues": [{"id": "1", "key": "MKT-1", "fields": {"customfield_1": 3}}]}).encode()
    assert decode_page("GET /rest/api/3/search/jql", {"fields": "*all"}, page) is None
    assert decode_page("GET /rest/api/3/search/jql", {}, page) is None
    slim = decode_page("GET /rest/api/3/search/jql", {"fields": "customfield_1"}, page)
    assert slim == {"issues": [{"id": "1", "key": "MKT-1", "fields": {"customfield_1": 3}}]}


def test_a_null_stays_a_null_and_an_author_without_a_name_stays_an_author() -> None:
    bulk = {"issueChangeLogs": [{"issueId": "1", "changeHistories": [
        {"id": "9", "created": "2024-01-05T00:00:00.000+0000",
         "items": [{"field": "status", "fieldId": None, "fromString": "To Do", "toString": "Done"}]}]}]}
    body = decode_page("POST /rest/api/3/changelog/bulkfetch", {}, json.dumps(bulk).encode())
    item = body["issueChangeLogs"][0]["changeHistories"][0]["items"][0]
    assert "fieldId" in item and item["fieldId"] is None and "from" not in item  # as sent: null, and absent
    page = {"worklogs": [{"id": None, "author": {"self": "https://x/user?accountId=1", "active": False},
                          "updateAuthor": {"emailAddress": "bob@x"}, "started": "2024-01-02T00:00:00.000+0000",
                          "timeSpentSeconds": 3600}]}
    slim = decode_page("GET /rest/api/3/issue/1/worklog", {}, json.dumps(page).encode())["worklogs"][0]
    assert slim["id"] is None and slim["author"]  # an author object Jira sent is never read as missing


@pytest.mark.parametrize("fields", ["summary,Story Points", "summary,a-b", "summary,1st", "summary,class",
                                    "summary,__init__"])
def test_a_field_id_no_struct_can_declare_is_decoded_whole(fields: str) -> None:
    page = json.dumps({"issues": [{"id": "1", "key": "MKT-1", "fields": {"summary": "x"}}]}).encode()
    assert decode_page("GET /rest/api/3/search/jql", {"fields": fields}, page) is None


def test_an_asana_story_page_holds_only_what_the_mapping_reads(demo: Path) -> None:
    entry, data = _first(demo.parent / ASANA_FOLDER, "/stories")
    body, full = asana_page(entry["endpoint"], entry["params"], data), json.loads(data)
    assert len(body["data"]) == len(full["data"]) and body.get("next_page") == full.get("next_page")
    for story, whole in zip(body["data"], full["data"], strict=True):
        assert set(story) <= {"gid", "created_at", "resource_subtype", "old_section", "new_section"}
        assert (story["gid"], story["created_at"]) == (whole["gid"], whole["created_at"])
        for side in ("old_section", "new_section"):
            assert story.get(side, {}).get("name") == whole.get(side, {}).get("name")
    entry, data = _first(demo.parent / ASANA_FOLDER, "/time_tracking_entries")
    entry_body = asana_page(entry["endpoint"], entry["params"], data)["data"][0]
    whole = json.loads(data)["data"][0]
    assert set(entry_body) <= {"gid", "created_by", "entered_on", "duration_minutes", "created_at"}
    assert entry_body["created_by"] == {k: whole["created_by"][k] for k in ("email", "name") if k in
                                        whole["created_by"]}


@pytest.mark.parametrize(("path", "body"), [
    ("/tasks/1/stories", {"data": ["not an object"]}),
    ("/tasks/1/stories", {"data": [{"gid": "9", "new_section": "Doing"}]}),
    ("/tasks/1/time_tracking_entries", {"data": [{"gid": "9", "created_by": "ann@acme.com"}]}),
    ("/tasks/1/time_tracking_entries", {"data": "none"}),
    ("/tasks/1/stories", [1, 2]),
    ("/projects/1/tasks", {"data": [{"gid": "1"}]}),  # listings: any attribute may be mapped, so decoded whole
])
def test_an_asana_page_of_another_shape_or_a_listing_is_decoded_whole(path: str, body: object) -> None:
    assert asana_page(f"GET {path}", {}, json.dumps(body).encode()) is None


def test_an_asana_null_stays_a_null() -> None:
    page = {"data": [{"gid": "9", "created_at": "2024-01-05T00:00:00.000Z", "resource_subtype": "section_changed",
                      "old_section": None, "new_section": {"name": None, "project": None}}], "next_page": None}
    body = asana_page("GET /tasks/1/stories", {}, json.dumps(page).encode())
    assert body == page


def test_a_page_with_bytes_whole_decoding_refuses_is_not_decoded_slim() -> None:
    story = b'{"data": [{"gid": "1", "text": "caf\xe9"}]}'  # Latin-1 in a field the mapping never reads
    assert asana_page("GET /tasks/1/stories", {}, story) is None
    worklog = b'{"worklogs": [{"id": "1", "comment": "\xff\xfe", "started": "2024-01-02T00:00:00.000+0000"}]}'
    assert decode_page("GET /rest/api/3/issue/1/worklog", {}, worklog) is None
    fine = '{"data": [{"gid": "1", "text": "café"}]}'.encode()
    assert asana_page("GET /tasks/1/stories", {}, fine) == {"data": [{"gid": "1"}]}


def test_an_asana_time_entry_without_an_author_stays_without_one() -> None:
    page = {"data": [{"gid": "9", "created_by": None, "entered_on": "2026-05-01", "duration_minutes": 30},
                     {"gid": "10", "entered_on": "2026-05-02", "duration_minutes": 15, "created_at": "2026-05-02"}]}
    assert asana_page("GET /tasks/1/time_tracking_entries", {}, json.dumps(page).encode()) == page
