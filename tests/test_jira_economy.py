"""Request economy on the fake Jira with 1,000 issues (50 with more than 20 worklogs), full and incremental."""

from __future__ import annotations

import math
from datetime import timedelta

import responses
from fake_jira import LOOKUPS, FakeJira, source_config

from syncer.adapters.jira import JiraSource
from syncer.config import parse_config
from syncer.retry import RetryPolicy

ISSUES, BUSY, PAGE = 1000, 50, 100


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
        assert fake.requests_to(*LOOKUPS) <= 4
        assert full.requests == sum(calls.values()) <= (
            math.ceil(ISSUES / PAGE) + fake.changelog_pages() + BUSY + 4)

        saved = src.checkpoint()
        fake.advance(minutes=15)
        fake.calls.clear()
        src = JiraSource(cfg.sources[0], cfg, where="sources[0]", policy=RetryPolicy(sleep=lambda s: None))
        src.load_checkpoint(saved)
        incremental = src.read(fake.now - timedelta(minutes=20), fake.now)
        assert incremental.tasks == [] and not incremental.complete
        work = {k: v for k, v in fake.calls.items() if k not in LOOKUPS}
        assert work == {"search": 1, "worklog_updated": 1, "worklog_deleted": 1}
        assert fake.requests_to(*LOOKUPS) <= 4
