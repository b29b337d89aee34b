"""Request economy on the fake Jira: full and unchanged incremental reads of 1,000 issues (50 with more than 20
worklogs), and the site look-ups (serverInfo, /field, /status, /myself) a full run saves for the incremental ones."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import fake_jira_api
import pytest
import responses
from fake_jira import LOOKUPS, FakeJira, source_config
from test_jira_source import by_key, rows, settings, source

from syncer.config import parse_config
from syncer.errors import ConfigError
from syncer.model import Stage
from syncer.pipeline import RunOptions, run_sync
from syncer.retry import RetryPolicy
from syncer.sources.jira.source import JiraSource

ISSUES, BUSY, PAGE = 1000, 50, 100
# What an incremental run with nothing changed may ask, and nothing else (the issue's acceptance point).
UNCHANGED = {"search": 1, "worklog_updated": 1, "worklog_deleted": 1}


@pytest.fixture
def fake():
    site = FakeJira()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield site.install(rsps)


def stored(checkpoint: dict | None) -> dict | None:
    """The checkpoint as the state store gives it back (JSON)."""
    return json.loads(json.dumps(checkpoint))


def lookups(fake: FakeJira) -> dict[str, int]:
    return {k: fake.calls[k] for k in LOOKUPS}


def test_full_and_unchanged_incremental_syncs_stay_within_their_request_bounds():
    fake = FakeJira()
    fake.populate(ISSUES, seed=11, many_worklogs=BUSY)
    assert sum(len(r["worklogs"]) > 20 for r in fake.issues.values()) == BUSY
    cfg = parse_config({"sources": [source_config(fake, page_size=PAGE)],
                        "sink": {"kind": "xlsx", "path": "x.xlsx"}}, env={})
    src = JiraSource(cfg.sources[0], cfg, where="sources[0]", policy=RetryPolicy(sleep=lambda s: None))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        full = src.read(None, fake.now)
        assert len(full.tasks) == ISSUES and full.warnings == []
        calls = dict(fake.calls)
        assert calls["search"] == math.ceil(ISSUES / PAGE)
        assert calls["bulkfetch"] == fake.changelog_pages()
        assert calls["issue_worklog"] == BUSY
        assert lookups(fake) == dict.fromkeys(LOOKUPS, 1)  # Cloud?, fields, statuses, the user's time zone
        assert full.requests == sum(calls.values()) == (
            math.ceil(ISSUES / PAGE) + fake.changelog_pages() + BUSY + len(LOOKUPS))

        saved = stored(full.checkpoint)
        fake.advance(minutes=15)
        fake.calls.clear()
        src = JiraSource(cfg.sources[0], cfg, where="sources[0]", policy=RetryPolicy(sleep=lambda s: None))
        incremental = src.read(fake.now - timedelta(minutes=20), fake.now, saved)
        assert incremental.tasks == [] and not incremental.complete and incremental.warnings == []
        assert dict(fake.calls) == UNCHANGED  # 1 search + 2 worklog look-ups, nothing else
        assert incremental.requests == 3


def test_an_unchanged_incremental_run_through_the_pipeline_costs_three_requests(fake, tmp_path):
    fake.populate(30, seed=4)
    cfg = settings(fake, tmp_path)
    policy = RetryPolicy(sleep=lambda s: None)
    first = run_sync(cfg, now=fake.now, policy=policy)
    assert first.run.mode == "full" and lookups(fake) == dict.fromkeys(LOOKUPS, 1)
    fake.advance(minutes=15)
    fake.calls.clear()
    second = run_sync(cfg, now=fake.now, policy=policy)
    assert (second.run.mode, second.run.fetched, second.run.api_requests) == ("incremental", 0, 3)
    assert dict(fake.calls) == UNCHANGED
    assert set(rows(second)) == set(rows(first))

    fake.advance(minutes=15)
    fake.calls.clear()
    forced = run_sync(cfg, RunOptions(full=True), now=fake.now, policy=policy)  # --full refreshes every look-up
    assert forced.run.mode == "full" and lookups(fake) == dict.fromkeys(LOOKUPS, 1)
    fake.advance(hours=25)  # older than full_sync_every (24h): full again, look-ups refreshed
    fake.calls.clear()
    assert run_sync(cfg, now=fake.now, policy=policy).run.mode == "full"
    assert lookups(fake) == dict.fromkeys(LOOKUPS, 1)
    fake.advance(minutes=15)
    fake.calls.clear()
    assert run_sync(cfg, now=fake.now, policy=policy).run.api_requests == 3


def test_a_field_name_the_saved_list_cannot_resolve_is_looked_up_again(fake):
    fake.populate(5, seed=3)
    full = source(settings(fake))
    saved = stored(full.read(None, fake.now).checkpoint)
    fake.renamed["Campaign"] = "Campaign 2026"  # renamed in Jira since the full run
    fake.advance(minutes=15)

    def incremental(**overrides):
        fake.calls.clear()
        src = source(settings(fake, **overrides))
        return src, src.read(fake.now - timedelta(minutes=20), fake.now, saved)

    # The config still says "Campaign": the saved list resolves it to the same id, so the values keep flowing.
    fake.touch("MKT-2", "Edited")
    src, result = incremental()
    assert by_key(result)["MKT-2"].campaign and fake.calls["field"] == 0

    # The config follows the rename: the saved list cannot resolve it, Jira's current one can.
    fields = {**source_config(fake)["fields"], "campaign": "Campaign 2026"}
    src, result = incremental(fields=fields)
    assert by_key(result)["MKT-2"].campaign and lookups(fake) == {**dict.fromkeys(LOOKUPS, 0), "field": 1}
    saved = stored(result.checkpoint)  # the fresh list is saved: the next run needs no /field again
    src, result = incremental(fields=fields)
    assert fake.calls["field"] == 0 and by_key(result)["MKT-2"].campaign

    # A mistake is still found: looked up afresh, an unknown name is the usual ConfigError, before any search.
    with pytest.raises(ConfigError) as err:
        incremental(fields={**fields, "campaign": "Campaing 2026"})
    assert "sources[0].fields.campaign: no Jira field named 'Campaing 2026'" in str(err.value)
    assert "'Campaign 2026'" in str(err.value) and fake.calls["field"] == 1 and fake.calls["search"] == 0

    # And the next full run finds a rename the config has not followed.
    with pytest.raises(ConfigError, match="no Jira field named 'Campaign'"):
        source(settings(fake)).read(None, fake.now)


def test_an_issue_in_a_status_created_since_the_last_full_run_still_maps(fake, monkeypatch):
    fake.populate(5, seed=3)
    full = source(settings(fake))
    saved = stored(full.read(None, fake.now).checkpoint)
    monkeypatch.setitem(fake_jira_api.STATUSES, "Proofing", ("10200", "indeterminate"))
    fake.advance(minutes=15)
    fake.transition("MKT-3", "Proofing", fake.now - timedelta(minutes=5))
    fake.calls.clear()
    src = source(settings(fake))
    task = by_key(src.read(fake.now - timedelta(minutes=20), fake.now, saved))["MKT-3"]
    assert fake.calls["status"] == 0
    assert (task.status, task.stage) == ("Proofing", Stage.IN_PROGRESS)  # its category, from the issue itself
    assert (task.history[-1].to_status, task.history[-1].to_stage) == ("Proofing", Stage.IN_PROGRESS)


@pytest.mark.parametrize("kind", ["Server", "DataCenter"])
def test_a_site_that_is_not_jira_cloud_is_refused(fake, kind):
    fake.populate(2)
    fake.deployment = kind
    with pytest.raises(ConfigError) as err:
        source(settings(fake)).read(None, fake.now)  # a full run always asks
    assert f"sources[0].url: {fake.base_url} is not a Jira Cloud site (serverInfo says {kind!r})" in str(err.value)
    assert fake.calls["search"] == 0
    with pytest.raises(ConfigError, match="not a Jira Cloud site"):  # so does an incremental one with no checkpoint
        source(settings(fake)).read(fake.now - timedelta(minutes=20), fake.now)


def test_saved_look_ups_are_used_only_for_the_same_site_and_account(fake):
    fake.populate(3)
    full = source(settings(fake))
    saved = stored(full.read(None, fake.now).checkpoint)
    assert saved["site"]["cloud"] is True and saved["site"]["time_zone"] == fake.user_tz
    fake.advance(minutes=15)
    elsewhere = {**saved, "site": {**saved["site"], "url": "https://other.atlassian.net"}}
    older = {k: v for k, v in saved.items() if k != "site"}  # saved by a version that kept no look-ups
    for checkpoint in (elsewhere, older, None):
        fake.calls.clear()
        src = source(settings(fake))
        result = src.read(fake.now - timedelta(minutes=20), fake.now, checkpoint)
        assert lookups(fake) == dict.fromkeys(LOOKUPS, 1)
        assert stored(result.checkpoint)["site"] == saved["site"]
