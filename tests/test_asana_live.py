"""The live Asana source against a fake Asana on a local HTTP server: paging, mapping, retries, errors, replay."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fake_asana import FIELDS, PROJECT, STAGES, T0, TOKEN, FakeAsana, populate

from syncer.config import parse_config
from syncer.errors import ConfigError, SourceError
from syncer.model import Stage
from syncer.retry import RetryPolicy
from syncer.sources import replay
from syncer.sources.asana.source import AsanaSource
from syncer.sources.replay import ReplaySource, write_pages

NOW = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)


def settings(base_url: str, token: str = TOKEN, page_size: int = 10, projects: tuple[str, ...] = (PROJECT,)):
    return parse_config({
        "timezone": "Europe/Berlin",
        "sources": [{"name": "content", "kind": "asana", "token": token, "projects": list(projects),
                     "base_url": base_url, "page_size": page_size, "fields": FIELDS, "stages": STAGES}],
        "sink": {"kind": "xlsx", "path": "out/test.xlsx"},
    }, env={})


class Waits(list):
    """A RetryPolicy `sleep` that records instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake(httpserver) -> FakeAsana:
    return FakeAsana(httpserver)


@pytest.fixture
def waits() -> Waits:
    return Waits()


def source(fake: FakeAsana, waits: Waits, attempts: int = 6, **kw) -> AsanaSource:
    cfg = settings(kw.pop("base_url", fake.base_url), **kw)
    return AsanaSource(cfg.sources[0], cfg, where="sources[0]", policy=RetryPolicy(attempts=attempts, sleep=waits))


def pages_needed(n: int, size: int = 10) -> int:
    return max(1, math.ceil(n / size))


def test_full_read_pages_through_everything_and_maps_the_right_tasks(fake, waits):
    expected = populate(fake)
    result = source(fake, waits).read(None, NOW)

    assert result.complete is True
    assert result.warnings == []
    tasks = {t.key: t for t in result.tasks}
    assert set(tasks) == set(expected)
    for gid, want in expected.items():
        t = tasks[gid]
        assert (t.title, t.stage.value, t.owner, t.campaign) == (want["title"], want["stage"], want["owner"],
                                                                  want["campaign"])
        assert sum(w.hours for w in t.worklogs) == pytest.approx(want["hours"])
        assert len(t.history) == want["moves"]
        assert t.estimate_hours == 2.0 and t.planned_cost == 500.0
    # 23 tasks at 10 a page; chatty tasks' stories span pages; entries only where actual time is not 0
    assert fake.count(rf"/projects/{PROJECT}/tasks") == 3
    assert fake.count(r"/tasks/\d+/stories") == sum(pages_needed(len(fake.stories[g])) for g in expected)
    assert fake.count(r"/tasks/\d+/stories") > len(expected)
    asked = [g for g in expected if fake.tasks[g]["actual_time_minutes"] != 0]
    assert fake.count(r"/tasks/\d+/time_tracking_entries") == len(asked) < len(expected)
    assert result.requests == len(fake.calls)
    assert all(args["limit"] == "10" for _, args in fake.calls)
    assert waits == []


def test_review_loop_and_reopening_are_mapped_from_stories(fake, waits):
    t = [T0 + timedelta(days=d) for d in range(10)]
    gid = fake.add_task("Webinar landing page", T0, [
        (t[1], "move", "Doing"), (t[2], "move", "Legal review"), (t[3], "move", "Doing"),
        (t[4], "move", "Legal review"), (t[5], "other_move", "Shipped"), (t[6], "complete", ""),
        (t[7], "reopen", ""), (t[8], "move", "Doing"), (t[9], "complete", ""),
    ], also_other=True)
    (task,) = source(fake, waits).read(None, NOW).tasks

    assert task.key == gid and task.stage is Stage.DONE and task.status == "Completed"
    assert task.created_stage is Stage.INTAKE
    # the move on the other project's board (t5) is not a stage change here
    assert [(h.at, h.from_stage.value, h.to_stage.value) for h in task.history] == [
        (t[1], "intake", "in_progress"), (t[2], "in_progress", "review"), (t[3], "review", "in_progress"),
        (t[4], "in_progress", "review"), (t[6], "review", "done"), (t[7], "done", "review"),
        (t[8], "review", "in_progress"), (t[9], "in_progress", "done"),
    ]
    assert [h.to_status for h in task.history][-4:] == ["Completed", "Legal review", "Doing", "Completed"]


def test_incremental_read_asks_only_for_tasks_modified_since(fake, waits):
    old = fake.add_task("Old", T0 - timedelta(days=30))
    new = fake.add_task("New", T0, [(T0 + timedelta(days=2), "move", "Doing")])
    result = source(fake, waits).read(T0 + timedelta(days=1), NOW)

    assert result.complete is False
    assert [t.key for t in result.tasks] == [new] and old not in {t.key for t in result.tasks}
    (path, args), *rest = fake.calls
    assert path == "/tasks" and args["project"] == PROJECT and args["modified_since"] == "2026-03-03T08:00:00Z"
    assert fake.count(rf"/projects/{PROJECT}/tasks") == 0
    assert [p for p, _ in rest] == [f"/tasks/{new}/stories"]  # actual time 0: no time entry request
    assert result.requests == 2


def test_429_waits_as_told_by_retry_after_then_succeeds(fake, waits):
    populate(fake, 3)
    fake.fail(429, path="/projects/", headers={"Retry-After": "7"}, message="Too Many Requests")
    result = source(fake, waits).read(None, NOW)

    assert waits == [7.0]
    assert len(result.tasks) == 3
    assert result.requests == len(fake.calls) == fake.count(r"/tasks/\d+/.*") + 2  # the 429 and its retry


def test_500_twice_then_success(fake, waits):
    expected = populate(fake, 2)
    fake.fail(500, times=2, path="/stories", message="Server Error")
    result = source(fake, waits).read(None, NOW)

    assert len(waits) == 2 and all(0.5 <= w <= 2.0 for w in waits)  # jittered backoff, base 1 s
    assert len(result.tasks) == 2
    assert result.requests == len(fake.calls)
    assert fake.count(r"/tasks/\d+/stories") == sum(pages_needed(len(fake.stories[g])) for g in expected) + 2


def test_retries_are_bounded_then_a_source_error(fake, waits):
    populate(fake, 1)
    fake.fail(503, times=10, path="/projects/", message="Service Unavailable")
    with pytest.raises(SourceError, match=r"HTTP 503.*after 3 attempts"):
        source(fake, waits, attempts=3).read(None, NOW)
    assert len(fake.calls) == 3 and len(waits) == 2


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_token_is_a_config_error_that_never_shows_the_token(fake, waits, status):
    populate(fake, 1)
    if status == 401:
        src = source(fake, waits, token="tok-WRONG-secret-789")
        secret = "tok-WRONG-secret-789"
    else:
        fake.fail(403, path="/projects/", message="Forbidden")
        src, secret = source(fake, waits), TOKEN
    with pytest.raises(ConfigError) as e:
        src.read(None, NOW)
    text = str(e.value)
    assert text.startswith("sources[0].token:") and "ASANA token" in text and f"HTTP {status}" in text
    assert secret not in text
    assert waits == [] and len(fake.calls) == 1


def test_unknown_project_is_a_config_error_naming_the_gid(fake, waits):
    with pytest.raises(ConfigError, match=r"sources\[0\]\.projects\[1\]: .*no project 1207777777777777"):
        source(fake, waits, projects=(PROJECT, "1207777777777777")).read(None, NOW)


@pytest.mark.parametrize("status", [410, 422])
def test_other_client_errors_are_source_errors(fake, waits, status):
    populate(fake, 1)
    fake.fail(status, path="/projects/", message="This endpoint is gone")
    with pytest.raises(SourceError, match=rf"sources\[0\]: Asana rejected GET /projects/{PROJECT}/tasks \(HTTP "
                                          rf"{status}: This endpoint is gone\)"):
        source(fake, waits).read(None, NOW)
    assert waits == []


def test_an_expired_page_offset_is_a_clear_error(fake, waits):
    populate(fake, 12)
    fake.expire_offsets = True
    with pytest.raises(SourceError, match="no longer accepts the page offset.*run the sync again"):
        source(fake, waits).read(None, NOW)
    assert len(fake.calls) == 2  # page 1, then the refused page 2; a 400 is not retried


def test_a_repeated_offset_stops_paging_instead_of_looping(fake, waits):
    populate(fake, 35)
    fake.stuck_offsets = True
    with pytest.raises(SourceError, match="same page offset twice"):
        source(fake, waits).read(None, NOW)
    assert len(fake.calls) == 2  # page 2 hands out page 2's offset again


def test_no_time_tracking_on_the_plan_warns_once_and_stops_asking(fake, waits):
    expected = populate(fake, 8)
    fake.time_tracking = False
    result = source(fake, waits).read(None, NOW)

    assert len(result.tasks) == 8 and all(t.worklogs == [] for t in result.tasks)
    assert [w for w in result.warnings if "time tracking" in w] == [
        "content: this Asana workspace's plan has no time tracking (HTTP 402); tasks have no worklogs"]
    assert fake.count(r"/tasks/\d+/time_tracking_entries") == 1
    assert fake.count(r"/tasks/\d+/stories") == sum(pages_needed(len(fake.stories[g])) for g in expected)


def test_a_task_deleted_mid_sync_is_a_warning(fake, waits):
    first, *_ = populate(fake, 3)
    fake.fail(404, path=f"/tasks/{first}/stories", message="task: Unknown object")
    result = source(fake, waits).read(None, NOW)

    assert len(result.tasks) == 3
    assert any(first in w and "disappeared" in w for w in result.warnings)


def test_asana_change_notices_that_affect_us_become_warnings(fake, waits):
    populate(fake, 2)
    fake.change_header = ("name=new_goal_memberships;info=https://asa.na/api-ngm, "
                          "name=string_ids;info=https://asa.na/api-sid;affected=true")
    result = source(fake, waits).read(None, NOW)
    assert result.warnings == [
        "content: Asana announces a breaking API change 'string_ids' that affects this sync "
        "(https://asa.na/api-sid)"]


def test_an_unreachable_host_is_retried_then_a_source_error(waits):
    cfg = settings("http://127.0.0.1:9/api/1.0")  # discard port: nothing listens
    src = AsanaSource(cfg.sources[0], cfg, where="sources[0]", policy=RetryPolicy(attempts=2, sleep=waits))
    with pytest.raises(SourceError, match=r"cannot reach Asana at http://127.0.0.1:9/api/1.0 after 2 attempts"):
        src.read(None, NOW)
    assert len(waits) == 1  # two attempts, one wait between them


def test_fetched_pages_replay_to_the_same_tasks_as_the_live_read(fake, waits, tmp_path):
    populate(fake, 14)
    fake.add_task("Multi-homed", T0, [(T0 + timedelta(days=1), "other_move", "Shipped")], also_other=True)
    src = source(fake, waits)
    live = src.read(None, NOW)
    count = write_pages(tmp_path, "asana", src.fetch_pages(None, NOW), source="content", **{
        k: v for k, v in src.replay_meta().items() if k != "api"})

    replay_cfg = parse_config({"timezone": "Europe/Berlin", "sink": {"kind": "xlsx", "path": "out/t.xlsx"}, "sources": [
        {"name": "content", "kind": "replay", "path": str(tmp_path), "fields": FIELDS, "stages": STAGES}]}, env={})
    replayed = ReplaySource(replay_cfg.sources[0], replay_cfg).read(None, NOW)
    assert count == live.requests  # one page per request
    assert sorted(replayed.tasks, key=lambda t: t.key) == sorted(live.tasks, key=lambda t: t.key)
    assert replayed.warnings == live.warnings == []


def test_replayed_pages_decoded_slim_map_as_whole_pages(fake, waits, tmp_path, monkeypatch):
    """Sections moved on another project's board, and no zone (time entries dated by their creation time)."""
    populate(fake, 14)
    fake.add_task("Multi-homed", T0, [(T0 + timedelta(days=1), "other_move", "Shipped")], also_other=True)
    src = source(fake, waits)
    write_pages(tmp_path, "asana", src.fetch_pages(None, NOW), source="content", **{
        k: v for k, v in src.replay_meta().items() if k != "api"})
    cfg = parse_config({"sink": {"kind": "xlsx", "path": "out/t.xlsx"}, "sources": [
        {"name": "content", "kind": "replay", "path": str(tmp_path), "fields": FIELDS, "stages": STAGES}]}, env={})
    slim = ReplaySource(cfg.sources[0], cfg).read(None, NOW)
    monkeypatch.setattr(replay, "SLIM", {})
    whole = ReplaySource(cfg.sources[0], cfg).read(None, NOW)
    assert len(whole.tasks) == 15 and any(t.history for t in whole.tasks) and any(t.worklogs for t in whole.tasks)
    assert slim.tasks == whole.tasks
    assert (slim.warnings, slim.anomalies, slim.kept) == (whole.warnings, whole.anomalies, whole.kept)


def test_syncer_fetch_command_saves_replayable_pages(fake, tmp_path, monkeypatch):
    from syncer.cli import main

    populate(fake, 4)
    monkeypatch.setenv("ASANA_TOKEN", TOKEN)
    config = tmp_path / "syncer.yaml"
    config.write_text(yaml.safe_dump({
        "timezone": "Europe/Berlin", "sink": {"kind": "xlsx", "path": str(tmp_path / "out.xlsx")},
        "state": {"path": str(tmp_path / "state.db")},
        "sources": [{"name": "content", "kind": "asana", "token": "${ASANA_TOKEN}", "projects": [PROJECT],
                     "base_url": fake.base_url, "fields": FIELDS, "stages": STAGES}],
    }))
    out = tmp_path / "pages"
    result = CliRunner().invoke(main, ["fetch", "--config", str(config), "--source", "content", "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = yaml.safe_load(Path(out / "manifest.json").read_text())
    assert manifest["api"] == "asana" and manifest["projects"] == [PROJECT]
    assert manifest["base_url"] == fake.base_url
    assert manifest["pages"][0]["endpoint"] == f"GET /projects/{PROJECT}/tasks"
    assert TOKEN not in "".join(p.read_text() for p in out.iterdir())
