"""The Jira source when the site moves under it: deleted issues, rejected searches, stalled feeds, DST, /field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from fake_jira import FakeJira
from test_jira_source import by_key, last_jql, rows, settings, source

from syncer.errors import ConfigError, SourceError
from syncer.pipeline import run_sync
from syncer.retry import RetryPolicy
from syncer.sources.jira.feeds import jql_time


@pytest.fixture
def fake():
    site = FakeJira()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield site.install(rsps)


def searched_jqls(fake: FakeJira) -> list[str]:
    return [parse_qs(urlsplit(u).query)["jql"][0] for _, u in fake.log if "/search/jql" in u]


def indexed(fake: FakeJira, n: int = 10, logged: str | None = None):
    """A full read of `n` issues (`logged` gets one more worklog, returned); returns the checkpoint an incremental
    run would start from."""
    fake.populate(n, seed=5)
    if logged:
        fake.add_worklog(logged, 600, fake.now - timedelta(days=1), at=fake.now - timedelta(days=1))
    return source(settings(fake)).read(None, fake.now).checkpoint


# ---- finding 1: issues deleted (or hidden) since the last run ----

def test_the_fake_refuses_unknown_ids_like_jira(fake):
    fake.populate(3)
    fake.delete_issue("MKT-2")
    status, body = fake._search({"jql": ["project = MKT AND id in (10001, 10002)"]}, {}, None)
    assert status == 400
    assert body["errorMessages"] == ["A value with ID '10002' does not exist for the field 'id'."]


def test_incremental_run_after_an_issue_was_deleted_drops_its_id_and_reports_the_key(fake, tmp_path):
    fake.populate(10, seed=5)
    doomed = fake.add_worklog("MKT-4", 3600, fake.now - timedelta(days=3), at=fake.now - timedelta(days=3))
    cfg = settings(fake, tmp_path)
    policy = RetryPolicy(sleep=lambda s: None)
    assert "MKT-4" in rows(run_sync(cfg, now=fake.now, policy=policy))
    fake.advance(minutes=15)
    fake.delete_worklog("MKT-4", doomed)  # its issue id goes into the next `id in (...)`
    fake.delete_issue("MKT-4")
    fake.add_worklog("MKT-6", 1800, fake.now - timedelta(days=1))
    fake.advance(minutes=2)
    fake.calls.clear()
    second = run_sync(cfg, now=fake.now, policy=policy)
    assert second.run.mode == "incremental"
    assert "MKT-4" not in rows(second) and len(rows(second)) == 9
    assert fake.calls["search"] == 2  # refused once, then retried without the id Jira named
    assert searched_jqls(fake)[-1].endswith(" OR id in (10006))")
    fake.advance(minutes=15)
    fake.delete_worklog("MKT-6", next(w["id"] for w in fake.issues["MKT-6"]["worklogs"]))
    fake.advance(minutes=2)
    fake.calls.clear()
    run_sync(cfg, now=fake.now, policy=policy)  # the saved index no longer holds the deleted issue
    assert fake.calls["search"] == 1


def read_after_issue_vanished(fake, keep_keys: bool):
    """Index MKT-3's worklogs, then delete one of them and the issue itself; read incrementally."""
    saved = indexed(fake, logged="MKT-3")
    fake.advance(minutes=10)
    fake.delete_worklog("MKT-3", fake.issues["MKT-3"]["worklogs"][-1]["id"])
    fake.delete_issue("MKT-3")
    fake.advance(minutes=2)
    src = source(settings(fake))
    checkpoint = saved if keep_keys else {"worklogs": saved["worklogs"]}  # else: an old checkpoint
    return src, src.read(fake.now - timedelta(minutes=17), fake.now, checkpoint)


def test_the_source_reports_a_vanished_issue_as_deleted_and_forgets_it(fake):
    src, result = read_after_issue_vanished(fake, keep_keys=True)
    assert result.deleted_keys == ["MKT-3"] and result.tasks == [] and result.warnings == []
    assert "10003" not in result.checkpoint["worklogs"] and "10003" not in result.checkpoint["keys"]


def test_a_vanished_issue_without_a_saved_key_is_a_warning(fake):
    _, result = read_after_issue_vanished(fake, keep_keys=False)  # saved by a version that kept no keys
    assert result.deleted_keys == [] and len(result.warnings) == 1
    assert "issue id 10003 no longer exists in Jira" in result.warnings[0] and "next full run" in result.warnings[0]


# ---- finding 2: whose fault a 400 on /search/jql is ----

def test_a_400_on_a_later_search_page_is_a_source_error_not_the_jql(fake):
    fake.populate(30)
    fake.search_cap = 7
    fake.before("search", fake._cursors.clear, skip=1)  # the page token expires before page 2
    with pytest.raises(SourceError) as err:
        source(settings(fake)).read(None, fake.now)
    assert not isinstance(err.value, ConfigError)
    assert "page token" in str(err.value) and "invalid or expired" in str(err.value)
    assert "run the sync again" in str(err.value)


def test_a_400_caused_by_the_generated_clause_is_a_source_error(fake):
    saved = indexed(fake)
    fake.advance(minutes=10)
    fake.fail("search", 400, body={"errorMessages": ["Date value '2026-11-19 23:57' for field 'updated' is invalid."]})
    src = source(settings(fake))
    with pytest.raises(SourceError) as err:
        src.read(fake.now - timedelta(minutes=15), fake.now, saved)
    assert not isinstance(err.value, ConfigError)
    assert "for field 'updated' is invalid" in str(err.value) and "--full" in str(err.value)
    assert searched_jqls(fake)[-1] == "project = MKT"  # the configured query alone was accepted


def test_a_400_on_an_incremental_search_that_the_query_alone_gets_too_is_a_config_error(fake):
    saved = indexed(fake)
    fake.advance(minutes=10)
    fake.fail("search", 400, times=2, body={"errorMessages": ["Field 'projct' does not exist."]})
    src = source(settings(fake))
    with pytest.raises(ConfigError, match=r"sources\[0\]\.jql: .*Field 'projct' does not exist"):
        src.read(fake.now - timedelta(minutes=15), fake.now, saved)


# ---- finding 3: an issue deleted during the sync ----

def test_an_issue_deleted_before_its_worklogs_are_paged_is_dropped_with_a_warning(fake):
    fake.populate(5)
    busy = fake.add_issue("Busy")
    for i in range(25):
        fake.add_worklog(busy, 600, fake.now - timedelta(days=5, hours=i), at=fake.now - timedelta(days=5))
    fake.before("issue_worklog", lambda: fake.delete_issue(busy))
    src = source(settings(fake))
    result = src.read(None, fake.now)
    assert sorted(by_key(result)) == sorted(fake.issues)  # the five others
    assert result.deleted_keys == [busy]
    assert len(result.warnings) == 1  # not also "only 20 of 25 worklogs saved"
    assert f"web {busy}: dropped" in result.warnings[0] and "HTTP 404" in result.warnings[0]
    assert "10006" not in result.checkpoint["worklogs"]


def test_an_issue_deleted_before_its_changelog_is_fetched_does_not_stop_the_run(fake):
    fake.populate(5, seed=2)
    fake.transition("MKT-2", "In Progress", fake.now - timedelta(days=1))
    fake.before("bulkfetch", lambda: fake.delete_issue("MKT-2"))
    result = source(settings(fake)).read(None, fake.now)
    assert len(result.tasks) == 5 and by_key(result)["MKT-2"].history == []  # kept, without its history


# ---- finding 4: a worklog feed with more than a page of changes in one millisecond ----

def test_more_than_1000_worklog_changes_at_one_instant_turn_the_run_full(fake):
    saved = indexed(fake, 4)
    fake.advance(minutes=10)
    bulk = fake.now
    for i in range(1001):
        fake.add_worklog("MKT-2", 60, bulk - timedelta(days=2, minutes=i), at=bulk)
    fake.advance(minutes=5)
    fake.calls.clear()
    src = source(settings(fake))
    result = src.read(fake.now - timedelta(minutes=20), fake.now, saved)
    assert result.complete and len(result.tasks) == 4
    # A full run after all: it checks the site and refreshes the look-ups the checkpoint held, as full runs do.
    assert [fake.calls[k] for k in ("serverInfo", "field", "status", "myself")] == [1, 1, 1, 1]
    assert fake.calls["worklog_updated"] == 2  # the second page would have started where the first did
    assert any("more than 1000 worklog changes" in w for w in result.warnings)
    assert len(by_key(result)["MKT-2"].worklogs) == len(fake.issues["MKT-2"]["worklogs"])
    assert set(result.checkpoint["worklogs"]) == {r["id"] for r in fake.issues.values()}


# ---- finding 5: /field answers the jira package would have misread ----

def test_a_field_list_without_clause_names_costs_no_extra_requests(fake):
    fake.populate(30)
    fake.search_cap = 10
    fake.clauses = None
    result = source(settings(fake)).read(None, fake.now)
    assert len(result.tasks) == 30
    assert fake.calls["field"] == 1 and fake.calls["search"] == 3
    assert result.requests == sum(fake.calls.values())


def test_a_custom_field_whose_clause_name_is_a_requested_id_changes_nothing(fake):
    key = fake.add_issue("Check copy", "In Progress")
    fake.clauses = {"customfield_10052": ["cf[10052]", "status"]}
    task = by_key(source(settings(fake)).read(None, fake.now))[key]
    assert task.status == "In Progress"
    fields = parse_qs(urlsplit(next(u for _, u in fake.log if "/search/jql" in u)).query)["fields"][0].split(",")
    assert "status" in fields and "customfield_10052" in fields


# ---- finding 6: JQL times in the hour a clock turns back ----

LA = "America/Los_Angeles"  # 2026-11-01 02:00 PDT -> 01:00 PST


@pytest.mark.parametrize(("since", "text"), [
    (datetime(2026, 11, 1, 8, 40, tzinfo=UTC), "2026-11-01 00:40"),  # 01:40 PDT, first of the two 01:40s
    (datetime(2026, 11, 1, 9, 40, tzinfo=UTC), "2026-11-01 01:40"),  # 01:40 PST: 01:40 PDT is earlier still
    (datetime(2026, 11, 1, 10, 40, tzinfo=UTC), "2026-11-01 02:40"),  # after the change: as is
    (datetime(2026, 3, 8, 10, 30, tzinfo=UTC), "2026-03-08 03:30"),  # spring forward: no wall time repeats
])
def test_jql_time_never_names_a_later_instant_than_since(since, text):
    assert jql_time(since, LA) == text


def test_incremental_run_in_the_repeated_hour_skips_nothing(tmp_path):
    fake = FakeJira(now=datetime(2026, 11, 1, 9, 30, tzinfo=UTC), user_tz=LA)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        fake.populate(3)
        fake.touch("MKT-2", "Changed at 01:00 PST", at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC))
        result = source(settings(fake, tmp_path)).read(datetime(2026, 11, 1, 8, 40, tzinfo=UTC), fake.now)
    assert [t.key for t in result.tasks] == ["MKT-2"]
    assert last_jql(fake) == '(project = MKT) AND (updated >= "2026-11-01 00:40")'
