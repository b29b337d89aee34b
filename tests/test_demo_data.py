"""The demo-data generator is deterministic, the bundled data is its output, and the data shows every case."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from demo.data import DEMO_TASKS, generate, jira_pages, split_tasks, write_demo
from demo.scenario import NOW, berlin_offset, jira_time
from syncer.amounts import AmountError, parse_amount
from syncer.config import load_config

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "config" / "demo"
ENV = {"JIRA_EMAIL": "ops@acme.com", "JIRA_API_TOKEN": "t", "ASANA_TOKEN": "t", "SHEET_ID": "s",
       "GOOGLE_SERVICE_ACCOUNT_JSON": "{}"}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _pages(folder: Path) -> list[tuple[str, dict, object]]:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return [(e["endpoint"], e["params"], json.loads((folder / e["file"]).read_text(encoding="utf-8")))
            for e in manifest["pages"]]


@pytest.fixture(scope="module")
def jira() -> list[tuple[str, dict, object]]:
    return _pages(DEMO / "jira-web")


@pytest.fixture(scope="module")
def asana() -> list[tuple[str, dict, object]]:
    return _pages(DEMO / "asana-content")


@pytest.fixture(scope="module")
def issues(jira) -> list[dict]:
    return [i for ep, _, body in jira if ep == "GET /rest/api/3/search/jql" for i in body["issues"]]


@pytest.fixture(scope="module")
def histories(jira) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for ep, _, body in jira:
        if ep == "POST /rest/api/3/changelog/bulkfetch":
            for log in body["issueChangeLogs"]:
                out.setdefault(log["issueId"], []).extend(log["changeHistories"])
    return out


@pytest.fixture(scope="module")
def tasks(asana) -> list[dict]:
    return [t for ep, _, body in asana if ep.startswith("GET /projects/") for t in body["data"]]


@pytest.fixture(scope="module")
def stories(asana) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for ep, _, body in asana:
        if ep.endswith("/stories"):
            out.setdefault(ep.split("/")[2], []).extend(body["data"])
    return out


def _status_moves(histories: dict[str, list[dict]]) -> dict[str, list[tuple[str, str]]]:
    return {iid: [(it["fromString"], it["toString"]) for h in hs for it in h["items"]
                  if it["fieldId"] == "status"] for iid, hs in histories.items()}


# --- determinism and provenance ---------------------------------------------------------------------------

def test_same_seed_gives_identical_bytes(tmp_path):
    write_demo(tmp_path / "a", seed=7)
    write_demo(tmp_path / "b", seed=7)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a and a == b
    write_demo(tmp_path / "c", seed=8)
    assert _files(tmp_path / "c") != a


def test_bundled_demo_is_exactly_the_generator_output(tmp_path):
    write_demo(tmp_path)
    expected, bundled = _files(tmp_path), _files(DEMO)
    assert sorted(bundled) == sorted(expected), "file set differs: run `make demo-data`"
    changed = [name for name in expected if bundled[name] != expected[name]]
    assert not changed, f"{changed[:5]} differ from the generator: run `make demo-data`, don't edit by hand"


def test_in_memory_pages_match_the_written_folder(jira, asana):
    data = generate()
    assert [(p.endpoint, p.params, p.body) for p in data.jira] == jira
    assert [(p.endpoint, p.params, p.body) for p in data.asana] == asana
    assert jira_pages(split_tasks(DEMO_TASKS)[0]) == data.jira


def test_rewriting_removes_stale_pages(tmp_path):
    stale = tmp_path / "jira-web" / "9999.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}\n")
    write_demo(tmp_path, n_tasks=60)
    assert not stale.exists()


@pytest.mark.parametrize("n", [2, 11, 45])
def test_small_sizes_work(n):
    data = generate(n_tasks=n, seed=1)
    issues = sum(len(p.body["issues"]) for p in data.jira if p.endpoint.endswith("search/jql"))
    assert issues == split_tasks(n)[0]


def test_berlin_offsets_match_zoneinfo():
    berlin = ZoneInfo("Europe/Berlin")
    t = datetime(2026, 1, 1, tzinfo=UTC)
    while t < datetime(2027, 12, 31, tzinfo=UTC):
        ts = int(t.timestamp())
        assert berlin_offset(ts) == t.astimezone(berlin).utcoffset().total_seconds(), t
        t += timedelta(hours=1, minutes=7)
    switch = int(datetime(2026, 10, 25, 1, 0, tzinfo=UTC).timestamp())
    assert jira_time(switch - 60) == "2026-10-25T02:59:00.000+0200"
    assert jira_time(switch) == "2026-10-25T02:00:00.000+0100"


# --- configs -------------------------------------------------------------------------------------------

def test_demo_config_loads_and_points_at_the_data():
    cfg = load_config(ROOT / "config" / "demo.yaml", env={})
    assert [s.name for s in cfg.sources] == ["web", "content"]
    for s in cfg.sources:
        assert (ROOT / s.path / "manifest.json").exists()
    assert (ROOT / cfg.budget.file).exists()
    assert "Ready for QA" not in cfg.sources[0].stages  # one status is left to the defaults on purpose


def test_example_config_validates_with_the_documented_variables():
    cfg = load_config(ROOT / "config" / "example.yaml", env=ENV)
    assert [s.kind for s in cfg.sources] == ["jira", "asana", "replay"]
    assert cfg.sink.kind == "gsheet"


# --- the content the demo promises ------------------------------------------------------------------------

def test_size_spread_and_people(issues, tasks, asana, jira):
    assert len(issues) + len(tasks) >= 200
    months = {i["fields"]["created"][:7] for i in issues} | {t["created_at"][:7] for t in tasks}
    assert len(months) >= 6
    campaigns = {(i["fields"]["customfield_10042"] or {}).get("value") for i in issues} - {None}
    assert len(campaigns) >= 3
    loggers = {w["author"]["emailAddress"] for i in issues for w in i["fields"]["worklog"]["worklogs"]}
    loggers |= {e["created_by"]["email"] for ep, _, b in asana if ep.endswith("time_tracking_entries")
                for e in b["data"]}
    assert len(loggers) >= 6
    names = {w["author"]["displayName"] for i in issues for w in i["fields"]["worklog"]["worklogs"]}
    assert {"Zoë Müller", "José Núñez", "Łukasz Wójcik"} <= names
    # written as UTF-8, not \\u escapes
    assert "Zoë Müller" in (DEMO / "jira-web" / "0003.json").read_text(encoding="utf-8")


def test_nothing_happens_after_now(jira, asana):
    limit = NOW.strftime("%Y-%m-%dT%H:%M")
    for _, _, body in jira + asana:
        for stamp in _timestamps(body):
            assert _utc(stamp) <= limit, stamp


def _timestamps(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from _timestamps(v)
    elif isinstance(node, list):
        for v in node:
            yield from _timestamps(v)
    elif isinstance(node, str) and len(node) >= 23 and node[4] == "-" and node[10] == "T":
        yield node


def _utc(stamp: str) -> str:
    dt = datetime.strptime(stamp.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def test_amounts(issues):
    unparseable, no_campaign_amounts = [], []
    for i in issues:
        f = i["fields"]
        for fid in ("customfield_10046", "customfield_10050", "customfield_10052"):
            try:
                parse_amount(f[fid])
            except AmountError:
                unparseable.append((i["key"], f[fid]))
        if f["customfield_10042"] is None and (f["customfield_10046"] or f["customfield_10050"]):
            no_campaign_amounts.append(i["key"])
    assert unparseable == [("MKT-8", "about 2k")]
    assert no_campaign_amounts
    texts = [i["fields"]["customfield_10050"] for i in issues if i["fields"]["customfield_10050"]]
    assert "€1,200.50" in texts and any("," in t for t in texts) and any(t[0].isdigit() for t in texts)
    pairs = [(parse_amount(i["fields"]["customfield_10050"]), i["fields"]["customfield_10052"])
             for i in issues if i["fields"]["customfield_10052"] is not None]
    assert any(inv > po for po, inv in pairs) and any(inv < po for po, inv in pairs)


def test_intake_gaps_and_the_formula_title(issues):
    fields = [i["fields"] for i in issues]
    assert any(f["summary"] == '=HYPERLINK("http://x","click")' for f in fields)
    assert any(f["duedate"] is None for f in fields)
    assert any(f["customfield_10042"] is None for f in fields)
    assert any(f["timeoriginalestimate"] is None for f in fields)
    assert any(f["description"] is None for f in fields)
    assert any(f["assignee"] is None for f in fields)
    short = [f for f in fields if f["description"] and len(f["description"]["content"]) == 1
             and len(f["description"]["content"][0]["content"][0]["text"]) < 40]
    assert short
    for f in fields:  # Jira's hierarchy: sub-tasks under tasks or stories, everything else under epics
        parent = f.get("parent", {}).get("fields", {}).get("issuetype", {}).get("name")
        assert parent in ((None, "Epic") if f["issuetype"]["name"] != "Sub-task" else ("Task", "Story"))


def test_jira_histories_show_every_flow_pattern(issues, histories):
    moves = _status_moves(histories)
    flat = Counter(m for ms in moves.values() for m in ms)
    assert flat["In Review", "In Progress"] and flat["Done", "In Progress"]  # review loops, reopenings
    assert flat["To Do", "In Review"] and flat["To Do", "Done"]  # skipped stages
    assert flat["In Progress", "Ready for QA"]  # the unmapped status is used
    assert any(sum(to == "Blocked" for _, to in ms) >= 2 for ms in moves.values())
    statuses = Counter(i["fields"]["status"]["name"] for i in issues)
    assert statuses["In Progress"] and statuses["In Review"] and statuses["Blocked"] and statuses["Cancelled"]
    for i in issues:  # each history ends in the issue's current status
        ms = moves.get(i["id"])
        if ms:
            assert ms[-1][1] == i["fields"]["status"]["name"]
            assert all(a[1] == b[0] for a, b in zip(ms, ms[1:], strict=False))
    created = [h["created"] for hs in histories.values() for h in hs]
    assert any(isinstance(c, int) for c in created) and any(isinstance(c, str) for c in created)
    amount_items = [it for hs in histories.values() for h in hs for it in h["items"]
                    if it["fieldId"] == "customfield_10050"]
    assert amount_items and any(it["fromString"] for it in amount_items)  # a PO amount that was corrected


def test_jira_pagination(jira, issues):
    search = [body for ep, _, body in jira if ep == "GET /rest/api/3/search/jql"]
    assert len(search) > 1
    assert all(b.get("nextPageToken") and b["isLast"] is False for b in search[:-1])
    assert search[-1]["isLast"] is True and "nextPageToken" not in search[-1]
    sent = [p for ep, p, _ in jira if ep == "GET /rest/api/3/search/jql"]
    assert [p.get("nextPageToken") for p in sent[1:]] == [b["nextPageToken"] for b in search[:-1]]
    bulk = [body for ep, _, body in jira if ep == "POST /rest/api/3/changelog/bulkfetch"]
    assert len(bulk) > 1 and all("nextPageToken" in b for b in bulk[:-1]) and "nextPageToken" not in bulk[-1]
    worklog_pages = {ep.split("/")[5]: body for ep, _, body in jira if ep.endswith("/worklog")}
    heavy = [i for i in issues if i["fields"]["worklog"]["total"] > 20]
    assert heavy
    for i in heavy:
        page = worklog_pages[i["key"]]
        assert len(i["fields"]["worklog"]["worklogs"]) == 20
        assert page["total"] == len(page["worklogs"]) == i["fields"]["worklog"]["total"]


def test_asana_tasks_stories_and_entries(asana, tasks, stories):
    sections = {m["section"]["name"] for t in tasks for m in t["memberships"]}
    assert sections >= {"Requests", "Backlog", "Doing", "Done"}
    kinds = Counter(s["resource_subtype"] for ss in stories.values() for s in ss)
    for kind in ("added_to_project", "section_changed", "marked_complete", "marked_incomplete",
                 "comment_added"):
        assert kinds[kind], kind
    for t in tasks:  # replaying the stories gives the task's state now
        section, done = None, False
        for s in stories[t["gid"]]:
            if s["resource_subtype"] == "section_changed":
                assert section in (None, s["old_section"]["name"])
                section = s["new_section"]["name"]
            elif s["resource_subtype"] in ("marked_complete", "marked_incomplete"):
                done = s["resource_subtype"] == "marked_complete"
        assert done == t["completed"]
        assert section in (None, t["memberships"][0]["section"]["name"])
    estimate = next(cf for t in tasks for cf in t["custom_fields"] if cf["name"] == "Estimated time")
    assert estimate["format"] == "duration"
    for kind in ("/tasks", "/time_tracking_entries"):  # both the task list and one task's entries page
        paged = [(ep, b) for ep, _, b in asana if ep.endswith(kind) and b["next_page"]]
        assert paged, kind
        ep, body = paged[0]
        follow = next(p for e, p, _ in asana if e == ep and p.get("offset"))
        assert follow["offset"] == body["next_page"]["offset"]
        assert body["next_page"]["uri"].endswith(body["next_page"]["path"])


def test_budget_file():
    rows = list(csv.DictReader(io.StringIO((DEMO / "budget.csv").read_text(encoding="utf-8"))))
    assert list(rows[0]) == ["Campaign", "Activity", "G/L account", "Period", "Amount"]
    by_campaign: dict[str, set[str]] = {}
    for r in rows:
        period = r["Period"]
        kind = "fy" if period == "FY2027" else "quarter" if "-Q" in period else "month"
        by_campaign.setdefault(r["Campaign"], set()).add(kind)
        assert float(r["Amount"]) >= 0
    assert len(by_campaign) >= 3
    assert all(kinds == {"fy", "quarter", "month"} for kinds in by_campaign.values())
    assert len({r["G/L account"] for r in rows}) >= 4
