"""Intake write-back against the fake Asana (tags and comment stories), and replay sources left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fake_asana import FIELDS, PROJECT, STAGES, T0, TOKEN, FakeAsana

from syncer.config import parse_config
from syncer.domain.enforce import LABEL, MARKER
from syncer.pipeline import RunOptions, run_sync
from syncer.retry import RetryPolicy

NOW = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)
DEMO = Path(__file__).resolve().parents[1] / "config" / "demo" / "jira-web"


def settings(tmp_path, fake: FakeAsana, enforce: str, token: str = TOKEN):
    return parse_config({
        "timezone": "Europe/Berlin",
        "sources": [{"name": "content", "kind": "asana", "token": token, "projects": [PROJECT],
                     "base_url": fake.base_url, "fields": FIELDS, "stages": STAGES}],
        "intake": {"required": ["campaign"], "brief_min_chars": 0, "enforce": enforce},
        "sink": {"kind": "xlsx", "path": str(tmp_path / "out.xlsx")},
        "state": {"path": str(tmp_path / "state.db")},
    }, env={})


class Clock:
    def __init__(self, fake: FakeAsana):
        self.fake, self.now = fake, NOW

    def sync(self, tmp_path, enforce: str, **kw):
        self.fake.now = self.now  # writes happen at the sync time
        result = run_sync(settings(tmp_path, self.fake, enforce, **kw), now=self.now,
                          policy=RetryPolicy(sleep=lambda s: None))
        self.now += timedelta(minutes=15)
        return result


@pytest.fixture
def fake(httpserver) -> FakeAsana:
    site = FakeAsana(httpserver)
    site.add_task("No campaign", T0, campaign=None)
    site.add_task("Complete", T0)
    return site


def gids(fake: FakeAsana) -> list[str]:
    return list(fake.tasks)


def test_asana_tag_created_once_added_once_and_removed_when_fixed(tmp_path, fake):
    clock = Clock(fake)
    bad, good = gids(fake)
    clock.sync(tmp_path, "label")
    assert [t["name"] for t in fake.tasks[bad]["tags"]] == [LABEL] and fake.tasks[good]["tags"] == []
    assert len(fake.tags) == 1 and fake.count(r"/tasks/\d+/addTag") == 1
    clock.sync(tmp_path, "label")
    assert fake.count(r"/tasks/\d+/addTag") == 1 and fake.count(r"/workspaces/\d+/tags") == 2  # list + create
    cf = fake.tasks[bad]["custom_fields"][0]
    cf["display_value"], cf["enum_value"] = "Spring", {"gid": "1300000000000091", "name": "Spring"}
    fake.tasks[bad]["modified_at"] = clock.now.isoformat().replace("+00:00", "Z")
    result = clock.sync(tmp_path, "label")
    assert fake.tasks[bad]["tags"] == [] and fake.count(r"/tasks/\d+/removeTag") == 1
    assert result.summary["write_back"] == {"labels": 1, "comments": 0} and len(fake.tags) == 1


def test_asana_comment_posted_once(tmp_path, fake):
    clock = Clock(fake)
    bad, _ = gids(fake)
    clock.sync(tmp_path, "comment")
    clock.sync(tmp_path, "comment")
    comments = [c for c in fake.comments(bad) if c.startswith(MARKER)]
    assert len(comments) == 1 and "- Campaign is missing." in comments[0]
    assert fake.count(r"/tasks/\d+/stories") >= 1


def test_asana_403_names_write_permission_and_never_the_token(tmp_path, fake):
    fake.fail(403, path="/addTag", message="Forbidden")
    result = Clock(fake).sync(tmp_path, "label")
    warning = next(w for w in result.run.warnings if "write-back" in w)
    assert "sources[0]" in warning and "write permission" in warning and TOKEN not in warning
    assert all(not t["tags"] for t in fake.tasks.values())


def test_dry_run_writes_nothing_to_asana(tmp_path, fake):
    result = run_sync(settings(tmp_path, fake, "label"), RunOptions(dry_run=True), now=NOW,
                      policy=RetryPolicy(sleep=lambda s: None))
    assert result.summary["write_back"] == {"labels": 1, "comments": 0}
    assert not fake.tags and fake.count(r"/tasks/\d+/addTag") == 0 and not (tmp_path / "state.db").exists()


def test_replay_sources_are_skipped_with_one_warning(tmp_path):
    cfg = parse_config({
        "timezone": "Europe/Berlin",
        "sources": [{"name": "demo", "kind": "replay", "path": str(DEMO), "stages": {"Request": "intake"}}],
        "intake": {"enforce": "comment"},
        "sink": {"kind": "xlsx", "path": str(tmp_path / "out.xlsx")},
        "state": {"path": str(tmp_path / "state.db")},
    }, env={})
    result = run_sync(cfg)
    notes = [w for w in result.run.warnings if "intake.enforce" in w]
    assert len(notes) == 1 and "demo" in notes[0] and "read-only" in notes[0]
    assert result.summary["write_back"] == {"labels": 0, "comments": 0}
