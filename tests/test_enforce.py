"""Intake write-back: the pure decision, and label/comment runs against the fake Jira."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import responses
from fake_jira import TOKEN, FakeJira, source_config

from syncer.config import parse_config
from syncer.domain.enforce import ADD_LABEL, COMMENT, LABEL, MARKER, REMOVE_LABEL, Mark, decide, digest
from syncer.domain.intake import Violation
from syncer.model import Stage, Task
from syncer.ops.summary import format_summary
from syncer.pipeline import RunOptions, run_sync
from syncer.retry import RetryPolicy
from syncer.state import State

T = datetime(2026, 3, 1, tzinfo=UTC)


def task(key: str, source: str = "web", stage: Stage = Stage.INTAKE, labels: tuple[str, ...] = ()) -> Task:
    return Task(source=source, key=key, title=key, status="Request", stage=stage, created_stage=stage,
                created_at=T, url="", labels=labels)


def violation(key: str, rule: str = "required", field: str = "owner", source: str = "web") -> Violation:
    return Violation(source, key, key, Stage.INTAKE, None, "", rule, field, "Still in intake: the owner is missing.",
                     T)


KINDS = {"web": "jira", "content": "asana", "demo": "replay"}


def test_decide_labels_only_intake_tasks_with_problems_and_removes_from_fixed_ones():
    tasks = [task("A-1"), task("A-2", labels=(LABEL,)), task("A-3", stage=Stage.BACKLOG, labels=(LABEL,)),
             task("A-4")]
    found = decide(tasks, [violation("A-1"), violation("A-3")], "label", KINDS, {},
                   fresh={("web", k) for k in ("A-1", "A-2", "A-3", "A-4")})
    assert [(w.key, w.action) for w in found.writes] == [("A-1", ADD_LABEL), ("A-2", REMOVE_LABEL),
                                                        ("A-3", REMOVE_LABEL)]
    assert found.counts() == {"labels": 3, "comments": 0}


def test_decide_trusts_the_mark_over_a_stored_copy_older_than_syncers_own_write():
    stale = task("A-1")  # stored before syncer labelled it, not re-read this run
    assert decide([stale], [violation("A-1")], "label", KINDS, {("web", "A-1"): Mark(True)}).writes == []
    assert decide([stale], [violation("A-1")], "label", KINDS, {("web", "A-1"): Mark(True)},
                  fresh={("web", "A-1")}).writes[0].action == ADD_LABEL  # re-read: someone removed it


def test_decide_comments_once_per_problem_set_in_plain_language():
    v = [violation("A-1"), violation("A-1", "brief_too_short", "brief")]
    first = decide([task("A-1")], v, "comment", KINDS, {}).writes
    assert [w.action for w in first] == [COMMENT]
    text = first[0].text
    assert text.splitlines()[0] == f"{MARKER} {digest(v)}" and "- The owner is missing." in text
    assert "Still in intake" not in text
    assert decide([task("A-1")], v, "comment", KINDS, {("web", "A-1"): Mark(None, digest(v))}).writes == []
    changed = decide([task("A-1")], v[:1], "comment", KINDS, {("web", "A-1"): Mark(None, digest(v))}).writes
    assert len(changed) == 1 and changed[0].digest != digest(v)


def test_decide_skips_replay_sources_with_one_warning_and_report_writes_nothing():
    tasks = [task("1", "demo"), task("2", "demo"), task("A-1")]
    found = decide(tasks, [violation("1", source="demo"), violation("2", source="demo"), violation("A-1")],
                   "label", KINDS, {})
    assert [w.key for w in found.writes] == ["A-1"]
    assert len(found.warnings) == 1 and "demo" in found.warnings[0] and "read-only" in found.warnings[0]
    assert decide(tasks, [violation("A-1")], "report", KINDS, {}).writes == []


# ---- against the fake Jira ---------------------------------------------------------------------------------


def settings(tmp_path, fake: FakeJira, enforce: str, required: tuple[str, ...] = ("campaign",)):
    return parse_config({
        "timezone": "Europe/Berlin", "sources": [source_config(fake)],
        "intake": {"required": list(required), "brief_min_chars": 0, "enforce": enforce},
        "sink": {"kind": "xlsx", "path": str(tmp_path / "out.xlsx")},
        "state": {"path": str(tmp_path / "state.db")},
    }, env={})


def sync(tmp_path, fake: FakeJira, enforce: str, required: tuple[str, ...] = ("campaign",), **kw):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        result = run_sync(settings(tmp_path, fake, enforce, required), RunOptions(**kw), now=fake.now,
                          policy=RetryPolicy(sleep=lambda s: None))
    fake.advance(minutes=15)
    return result


@pytest.fixture
def fake() -> FakeJira:
    site = FakeJira()
    site.add_issue("No campaign yet", "Request")
    site.add_issue("Complete request", "Request", custom={"Campaign": "Spring Launch"})
    site.add_issue("Accepted without campaign", "To Do")
    return site


def labels(fake: FakeJira, key: str) -> list[str]:
    return fake.issues[key]["fields"]["labels"]


def test_jira_label_added_once_then_removed_when_the_task_is_fixed(tmp_path, fake):
    first = sync(tmp_path, fake, "label")
    assert labels(fake, "MKT-1") == [LABEL] and labels(fake, "MKT-2") == labels(fake, "MKT-3") == []
    assert fake.calls["edit_issue"] == 1 and first.summary["write_back"] == {"labels": 1, "comments": 0}
    assert "wrote back 1 label changes" in format_summary(first, settings(tmp_path, fake, "label"))
    sync(tmp_path, fake, "label")
    assert fake.calls["edit_issue"] == 1  # already labelled: nothing sent
    fake.set_field("MKT-1", "Campaign", "Spring Launch")
    third = sync(tmp_path, fake, "label")
    assert labels(fake, "MKT-1") == [] and fake.calls["edit_issue"] == 2
    assert third.summary["write_back"] == {"labels": 1, "comments": 0}
    sync(tmp_path, fake, "label")
    assert fake.calls["edit_issue"] == 2
    runs = State(tmp_path / "state.db").runs()
    assert not any("write-back" in w for w in json.loads(runs[-1]["warnings"]))


def test_jira_comment_posted_once_and_again_once_when_the_problems_change(tmp_path, fake):
    sync(tmp_path, fake, "comment")
    sync(tmp_path, fake, "comment")
    posted = fake.issues["MKT-1"]["comments"]
    assert len(posted) == 1 and fake.calls["add_comment"] == 1
    doc = posted[0]["body"]
    assert doc["type"] == "doc" and doc["content"][0]["content"][0]["text"].startswith(MARKER)
    assert "Campaign is missing" in json.dumps(doc)
    fake.set_field("MKT-1", "Campaign", "Spring Launch")  # fixed, but a due date is now required too
    sync(tmp_path, fake, "comment", ("campaign", "due_date"))
    sync(tmp_path, fake, "comment", ("campaign", "due_date"))
    assert fake.calls["add_comment"] == 1 + 2  # MKT-1 (due date now) and MKT-2 (new rule), each once
    assert "Due date is missing" in json.dumps(fake.issues["MKT-1"]["comments"][-1]["body"])


def test_dry_run_counts_but_writes_nothing(tmp_path, fake):
    result = sync(tmp_path, fake, "comment", dry_run=True)
    assert result.summary["write_back"] == {"labels": 0, "comments": 1}
    assert fake.calls["add_comment"] == fake.calls["edit_issue"] == 0
    text = format_summary(result, settings(tmp_path, fake, "comment"))
    assert "would write back 0 label changes, 1 comments" in text


def test_jira_403_is_a_warning_naming_write_permission_then_retried_next_run(tmp_path, fake):
    fake.fail("edit_issue", 403, times=1)
    first = sync(tmp_path, fake, "label")  # the sheet is written; no crash
    warning = next(w for w in first.run.warnings if "write-back" in w)
    assert "sources[0]" in warning and "write permission" in warning and TOKEN not in warning
    assert labels(fake, "MKT-1") == []
    second = sync(tmp_path, fake, "label")
    assert any(w.startswith("previous run: intake write-back") for w in second.run.warnings)
    assert labels(fake, "MKT-1") == [LABEL]
    third = sync(tmp_path, fake, "label")
    assert not any("write-back" in w for w in third.run.warnings)
