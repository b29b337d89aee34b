"""A replay's typed decoding: pages decoded only as far as the mapping reads them map to exactly the tasks the
whole pages do; a page whose shape does not fit is decoded whole, so the mapping names what is wrong as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demo.data import JIRA_FOLDER, write_demo
from syncer.config import load_config
from syncer.sources import replay
from syncer.sources.jira.slim import decode_page
from syncer.sources.replay import ReplaySource


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("slim")
    write_demo(out, n_tasks=400)
    cfg = out / "c.yaml"
    cfg.write_text(f"sources:\n  - {{name: web, kind: replay, path: '{out / JIRA_FOLDER}'}}\n"
                   f"sink: {{kind: xlsx, path: '{out / 'o.xlsx'}'}}\nstate: {{path: '{out / 's.db'}'}}\n",
                   encoding="utf-8")
    return cfg


def read(cfg_path: Path, slim: bool, monkeypatch: pytest.MonkeyPatch):
    cfg = load_config(cfg_path, env={})
    with monkeypatch.context() as m:
        if not slim:
            m.setattr(replay, "SLIM", {})
        return ReplaySource(cfg.sources[0], cfg).read(None, None)


def test_slim_pages_map_to_the_same_tasks_as_whole_pages(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slim, whole = read(demo, True, monkeypatch), read(demo, False, monkeypatch)
    assert len(whole.tasks) > 200 and sum(len(t.worklogs) for t in whole.tasks) > 500
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
