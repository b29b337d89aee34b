"""The live Jira source on the fake Jira Cloud: paging, full history, worklogs, fields, incremental and full runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from fake_jira import BASE_URL, TOKEN, FakeJira, source_config

from syncer.config import Config, parse_config
from syncer.errors import ConfigError, SourceError
from syncer.model import Stage
from syncer.pipeline import RunOptions, run_sync
from syncer.retry import RetryPolicy
from syncer.sources.jira.source import JiraSource
from syncer.tables import HEADERS, TASKS


def settings(fake: FakeJira, tmp_path: Path | None = None, **overrides) -> Config:
    root = tmp_path or Path("/nonexistent")
    return parse_config({
        "timezone": "Europe/Berlin",
        "sources": [source_config(fake, **overrides)],
        "sink": {"kind": "xlsx", "path": str(root / "out.xlsx")},
        "state": {"path": str(root / "state.db")},
    }, env={})


def source(cfg: Config, waits: list | None = None) -> JiraSource:
    sleep = waits.append if waits is not None else (lambda s: None)
    return JiraSource(cfg.sources[0], cfg, where="sources[0]", policy=RetryPolicy(sleep=sleep))


@pytest.fixture
def fake():
    site = FakeJira()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield site.install(rsps)


def by_key(result):
    return {t.key: t for t in result.tasks}


def test_multi_page_search_follows_tokens_until_absent(fake):
    fake.populate(30)
    fake.search_cap = 7  # the site returns fewer than maxResults per page
    result = source(settings(fake)).read(None, fake.now)
    assert sorted(by_key(result)) == sorted(fake.issues)
    assert fake.calls["search"] == 5  # 7 + 7 + 7 + 7 + 2
    urls = [u for m, u in fake.log if "/search/jql" in u]
    assert "nextPageToken" not in urls[0] and all("nextPageToken" in u for u in urls[1:])
    assert result.complete and result.requests == sum(fake.calls.values())


def test_a_repeated_page_token_stops_with_an_error(fake):
    fake.populate(30)
    fake.search_cap = 7

    def same_token(state):
        fake._cursors["again"] = state
        return "again"

    fake._token = same_token
    with pytest.raises(SourceError, match="same page token twice"):
        source(settings(fake)).read(None, fake.now)


def test_an_issue_with_150_status_changes_keeps_its_full_history(fake):
    key = fake.add_issue("Long-lived", "To Do", created=fake.now - timedelta(days=200))
    at = fake.now - timedelta(days=190)
    for i in range(150):
        at += timedelta(hours=12)
        fake.transition(key, "In Progress" if i % 2 == 0 else "Ready for review", at)
    fake.changelog_cap = 40  # the bulk changelog pages, too
    task = by_key(source(settings(fake)).read(None, fake.now))[key]
    assert len(task.history) == 150
    assert [c.to_status for c in task.history[:3]] == ["In Progress", "Ready for review", "In Progress"]
    assert task.created_stage == Stage.BACKLOG and task.stage == Stage.REVIEW
    assert fake.calls["bulkfetch"] == 4


def test_an_issue_with_45_worklogs_counts_them_all(fake):
    key = fake.add_issue("Busy")
    for i in range(45):
        fake.add_worklog(key, 3600, fake.now - timedelta(days=20, hours=-i), at=fake.now - timedelta(days=19))
    quiet = fake.add_issue("Quiet")
    fake.add_worklog(quiet, 1800, fake.now - timedelta(days=3), at=fake.now - timedelta(days=3))
    tasks = by_key(source(settings(fake)).read(None, fake.now))
    assert len(tasks[key].worklogs) == 45 and sum(w.hours for w in tasks[key].worklogs) == 45.0
    assert [w.hours for w in tasks[quiet].worklogs] == [0.5]
    assert fake.calls["issue_worklog"] == 1  # only the issue with more than the 20 embedded


def test_custom_fields_are_configured_by_name(fake):
    key = fake.add_issue("Launch", custom={"Campaign": "Spring Launch", "Planned cost": 2500.0, "PO amount": "€1,200"})
    task = by_key(source(settings(fake)).read(None, fake.now))[key]
    assert (task.campaign, task.planned_cost, task.committed_amount) == ("Spring Launch", 2500.0, 1200.0)
    search = next(u for m, u in fake.log if "/search/jql" in u)
    assert "customfield_10042" in search and "customfield_10046" in search  # names resolved to ids


def test_a_renamed_field_is_a_config_error_before_any_search(fake):
    fake.add_issue("Launch", custom={"Campaign": "Spring Launch"})
    fake.renamed["Campaign"] = "Campaign (old)"
    with pytest.raises(ConfigError) as err:
        source(settings(fake)).read(None, fake.now)
    assert "sources[0].fields.campaign: no Jira field named 'Campaign'" in str(err.value)
    assert "Campaign (old)" in str(err.value)  # the candidate is named
    assert fake.calls["search"] == 0


def test_a_name_two_fields_share_is_a_config_error_naming_both(fake):
    fake.add_issue("Launch")
    fake.renamed["Invoice amount"] = "Campaign"
    with pytest.raises(ConfigError) as err:
        source(settings(fake)).read(None, fake.now)
    assert "'Campaign' matches several Jira fields" in str(err.value)
    assert "customfield_10042" in str(err.value) and "customfield_10052" in str(err.value)


def test_status_in_category_new_named_review_is_review(fake):
    key = fake.add_issue("Check copy", "Ready for review")
    result = source(settings(fake)).read(None, fake.now)
    task = by_key(result)[key]
    assert (task.status, task.stage) == ("Ready for review", Stage.REVIEW)
    assert task.defaulted_statuses == [("Ready for review", Stage.REVIEW)]


def test_empty_jql_is_a_config_error(fake):
    with pytest.raises(ConfigError, match=r"sources\[0\]\.jql"):
        source(settings(fake, jql=" ")).read(None, fake.now)


def last_jql(fake: FakeJira) -> str:
    url = next(u for m, u in reversed(fake.log) if "/search/jql" in u)
    return parse_qs(urlsplit(url).query)["jql"][0]


def rows(result) -> dict[str, dict[str, object]]:
    header = HEADERS[TASKS]
    return {r[1]: dict(zip(header, r, strict=True)) for r in result.tables[TASKS][1:]}


def test_incremental_run_picks_up_a_changed_issue_a_backdated_and_a_deleted_worklog(fake, tmp_path):
    fake.populate(30, seed=3)
    gone = fake.add_worklog("MKT-7", 7200, fake.now - timedelta(days=9), at=fake.now - timedelta(days=9))
    cfg = settings(fake, tmp_path)
    policy = RetryPolicy(sleep=lambda s: None)
    first = rows(run_sync(cfg, now=fake.now, policy=policy))
    fake.advance(minutes=15)
    fake.touch("MKT-3", "Spring launch: final copy")
    fake.add_worklog("MKT-5", 3 * 3600, started=fake.now - timedelta(days=40))  # back-dated; MKT-5 not updated
    fake.delete_worklog("MKT-7", gone)  # MKT-7's `updated` does not move either
    fake.advance(minutes=2)  # the worklog feeds leave out the last minute
    fake.calls.clear()
    second = run_sync(cfg, now=fake.now, policy=policy)
    after = rows(second)
    assert (second.run.mode, second.run.fetched, second.run.changed) == ("incremental", 3, 3)
    assert after["MKT-3"]["Title"] == "Spring launch: final copy"
    assert after["MKT-5"]["Logged h"] == pytest.approx((first["MKT-5"]["Logged h"] or 0) + 3)
    assert after["MKT-7"]["Logged h"] == pytest.approx(first["MKT-7"]["Logged h"] - 2)
    stable = ("Title", "Status", "Logged h", "Planned")  # (days in review grow with the clock)
    assert {k: [r[c] for c in stable] for k, r in after.items() if k not in ("MKT-3", "MKT-5", "MKT-7")} == {
        k: [r[c] for c in stable] for k, r in first.items() if k not in ("MKT-3", "MKT-5", "MKT-7")}
    assert fake.calls["search"] == 1
    assert last_jql(fake).endswith(' OR id in (10005, 10007))')  # MKT-5 and MKT-7, by id, in the one search


def test_incremental_jql_uses_the_api_users_zone(fake, tmp_path):
    fake.populate(3)
    cfg = settings(fake, tmp_path)
    src = source(cfg)
    src.read(None, fake.now)
    src.read(fake.now - timedelta(minutes=5), fake.now)  # 07:55 UTC = 23:55 the day before in Los Angeles
    assert last_jql(fake) == '(project = MKT) AND (updated >= "2026-11-19 23:55")'


def test_full_run_drops_an_issue_the_search_no_longer_returns(fake, tmp_path):
    fake.populate(12)
    cfg = settings(fake, tmp_path)
    policy = RetryPolicy(sleep=lambda s: None)
    assert "MKT-4" in rows(run_sync(cfg, now=fake.now, policy=policy))
    fake.delete_issue("MKT-4")
    fake.advance(minutes=30)
    incremental = run_sync(cfg, now=fake.now, policy=policy)
    assert "MKT-4" in rows(incremental)  # an incremental read cannot see deletions
    fake.advance(minutes=30)
    full = run_sync(cfg, RunOptions(full=True), now=fake.now, policy=policy)
    assert "MKT-4" not in rows(full) and len(rows(full)) == 11
    assert (full.run.mode, full.run.deleted) == ("full", 1)


def test_the_token_never_appears_in_a_failure(fake):
    fake.populate(2)
    fake.fail("search", 400, body={"errorMessages": ["Error in the JQL Query: 'projct' is not a field"]})
    with pytest.raises(ConfigError) as err:
        source(settings(fake)).read(None, fake.now)
    assert "sources[0].jql" in str(err.value) and BASE_URL in str(err.value) and TOKEN not in str(err.value)


def test_a_deleted_worklog_without_a_saved_index_is_reported(fake):
    fake.populate(4)
    gone = fake.add_worklog("MKT-2", 3600, fake.now - timedelta(days=2), at=fake.now - timedelta(days=2))
    source(settings(fake)).read(None, fake.now)
    fake.advance(minutes=10)
    fake.delete_worklog("MKT-2", gone)
    fake.advance(minutes=2)
    fresh = source(settings(fake))  # no checkpoint: e.g. the first run after an upgrade
    result = fresh.read(fake.now - timedelta(minutes=17), fake.now)
    assert result.tasks == [] and "1 deleted worklog(s)" in result.warnings[0]
    assert "worklogs" not in result.checkpoint  # a partial index would hide issues: the next full run builds it


def test_links_and_flags_come_in_the_same_requests(fake):
    fake.populate(6)
    plain = source(settings(fake)).read(None, fake.now).requests
    keys = sorted(fake.issues, key=lambda k: int(k.split("-")[1]))
    fake.link_blocks(keys[0], keys[1])
    fake.flag(keys[2], at=fake.now - timedelta(days=3))
    fake.flag(keys[2], on=False, at=fake.now - timedelta(days=2))
    fake.flag(keys[3], at=fake.now - timedelta(days=1))
    fake.calls.clear()
    result = source(settings(fake)).read(None, fake.now)
    tasks = by_key(result)
    assert result.requests == plain  # no request per link or flag
    assert tasks[keys[1]].depends_on == (keys[0],) and tasks[keys[0]].depends_on == ()
    assert [(s.end - s.start) for s in tasks[keys[2]].flagged] == [timedelta(days=1)]
    assert [(s.start, s.end) for s in tasks[keys[3]].flagged] == [(fake.now - timedelta(days=1), None)]
