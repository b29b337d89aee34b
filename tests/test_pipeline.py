"""The sync pipeline: merge, deletions, dry runs, the lock, and a crash never advancing the cursor."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from click.testing import CliRunner

from syncer.cli import main
from syncer.config import parse_config
from syncer.errors import SinkError, SourceError
from syncer.model import Stage, Task
from syncer.pipeline import RunOptions, run_sync
from syncer.pipeline.reads import OVERLAP
from syncer.sinks import Plan, TabChange
from syncer.sources import FetchResult
from syncer.state import State, run_lock
from syncer.tables import HEADERS, SYNC_LOG, TASKS, Table

NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)


def make_task(key: str, title: str = "t", source: str = "web") -> Task:
    return Task(source=source, key=key, title=title, created_at=NOW - timedelta(days=3), stage=Stage.BACKLOG,
                status="To Do", created_stage=Stage.BACKLOG)


class FakeSource:
    """Returns a scripted FetchResult and records the `since` it was asked for."""

    def __init__(self, name: str, tasks: list[Task], complete: bool = True, fail: Exception | None = None):
        self.name, self.tasks, self.complete, self.fail = name, tasks, complete, fail
        self.calls: list = []

    def read(self, since, now, checkpoint=None):
        self.calls.append(since)
        if self.fail:
            raise self.fail
        return FetchResult(tasks=list(self.tasks), complete=self.complete, requests=3)

    def fetch_pages(self, since, now, checkpoint=None):
        return iter(())

    def intake_writer(self):
        return None


class MemorySink:
    """Keeps tables in memory; can be told to fail on apply."""

    requests = 0
    ident = "memory"

    def __init__(self, fail: bool = False):
        self.tabs: dict[str, Table] = {}
        self.log: list = []
        self.fail = fail

    def read_tab(self, title):
        return self.tabs.get(title)

    def recall(self, marks, recheck=False) -> None:
        pass

    def plan(self, tables: Mapping[str, Table], frames=None) -> Plan:
        changes = {}
        for name, rows in tables.items():
            old = {tuple(r[:2]): r for r in self.tabs.get(name, [[]])[1:]}
            new = {tuple(r[:2]): r for r in rows[1:]}
            changes[name] = TabChange(
                added=len(new.keys() - old.keys()), removed=len(old.keys() - new.keys()),
                changed=sum(1 for k in new.keys() & old.keys() if new[k] != old[k]),
            )
        return Plan(tabs=changes, state=dict(tables))

    def apply(self, plan: Plan, log_row: Sequence) -> int:
        if self.fail:
            raise SinkError("sheet unavailable")
        self.tabs.update(plan.state)
        self.log.append(list(log_row))
        return 2


@pytest.fixture
def cfg(tmp_path, raw_config, env):
    raw_config["sources"] = [raw_config["sources"][0]]
    raw_config["state"] = {"path": str(tmp_path / "state.db")}
    return parse_config(raw_config, env)


def test_first_run_is_full_and_second_is_incremental_from_cursor_minus_overlap(cfg):
    src, sink = FakeSource("web", [make_task("MKT-1"), make_task("MKT-2")]), MemorySink()
    r1 = run_sync(cfg, now=NOW, sources=[src], sink=sink)
    assert src.calls == [None] and r1.run.mode == "full"
    assert (r1.run.fetched, r1.run.changed, r1.run.deleted) == (2, 2, 0)
    assert [row[1] for row in sink.tabs[TASKS][1:]] == ["MKT-1", "MKT-2"]
    assert sink.tabs[TASKS][0] == HEADERS[TASKS]
    src.complete, src.tasks = False, [make_task("MKT-2", title="renamed")]
    later = NOW + timedelta(minutes=30)
    r2 = run_sync(cfg, now=later, sources=[src], sink=sink)
    assert src.calls[1] == NOW - OVERLAP and r2.run.mode == "incremental"
    assert (r2.run.changed, r2.run.deleted) == (1, 0)
    assert r2.plan.tabs[TASKS].changed == 1 and r2.plan.tabs[TASKS].added == 0
    assert [row[2] for row in sink.tabs[TASKS][1:]] == ["t", "renamed"]  # MKT-1 kept from the state
    assert len(sink.log) == 2 and sink.log[1][1] == "incremental"


def test_nothing_changed_changes_no_row(cfg):
    src, sink = FakeSource("web", [make_task("MKT-1")]), MemorySink()
    run_sync(cfg, now=NOW, sources=[src], sink=sink)
    r = run_sync(cfg, now=NOW + timedelta(minutes=5), sources=[src], sink=sink)
    assert r.run.changed == 0 and r.run.rows_written == 0


def test_full_run_drops_tasks_the_source_no_longer_returns(cfg):
    src, sink = FakeSource("web", [make_task("MKT-1"), make_task("MKT-2")]), MemorySink()
    run_sync(cfg, now=NOW, sources=[src], sink=sink)
    src.tasks = [make_task("MKT-2")]
    r = run_sync(cfg, RunOptions(full=True), now=NOW + timedelta(hours=1), sources=[src], sink=sink)
    assert r.run.deleted == 1 and r.plan.tabs[TASKS].removed == 1
    assert [row[1] for row in sink.tabs[TASKS][1:]] == ["MKT-2"]


def test_full_sync_every_turns_an_incremental_run_full(cfg):
    src, sink = FakeSource("web", [make_task("MKT-1")], complete=False), MemorySink()
    run_sync(cfg, now=NOW, sources=[src], sink=sink)
    run_sync(cfg, now=NOW + timedelta(hours=1), sources=[src], sink=sink)
    run_sync(cfg, now=NOW + timedelta(hours=25), sources=[src], sink=sink)
    assert src.calls[0] is None and src.calls[1] is not None and src.calls[2] is None


def test_dry_run_writes_nothing_anywhere(cfg):
    src, sink = FakeSource("web", [make_task("MKT-1")]), MemorySink()
    r = run_sync(cfg, RunOptions(dry_run=True), now=NOW, sources=[src], sink=sink)
    assert r.run.mode == "dry-run" and r.plan.tabs[TASKS].added == 1
    assert sink.tabs == {} and sink.log == []
    assert not cfg.state.path.exists() and not cfg.state.path.with_name("state.db.lock").exists()
    run_sync(cfg, now=NOW, sources=[src], sink=sink)
    before = cfg.state.path.read_bytes()
    src.tasks = [make_task("MKT-1", title="new"), make_task("MKT-2")]
    r = run_sync(cfg, RunOptions(dry_run=True), now=NOW + timedelta(hours=1), sources=[src], sink=sink)
    assert (r.plan.tabs[TASKS].added, r.plan.tabs[TASKS].changed) == (1, 1)  # planned against the stored state
    assert cfg.state.path.read_bytes() == before and len(sink.log) == 1


def test_tasks_of_a_source_removed_from_the_config_are_dropped(cfg, raw_config, env):
    run_sync(cfg, now=NOW, sources=[FakeSource("web", [make_task("MKT-1")])], sink=MemorySink())
    raw_config["sources"][0]["name"] = "renamed"
    raw_config["state"] = {"path": str(cfg.state.path)}
    raw_config["sources"] = [raw_config["sources"][0]]
    cfg2 = parse_config(raw_config, env)
    r = run_sync(cfg2, now=NOW, sources=[FakeSource("renamed", [make_task("MKT-1", source="renamed")])],
                 sink=MemorySink())
    assert r.run.deleted == 1 and r.tasks_per_source == {"renamed": 1}
    assert [t.source for t in State(cfg.state.path).tasks()] == ["renamed"]


@pytest.mark.parametrize("where", ["source", "sink"])
def test_a_crash_between_fetching_and_writing_leaves_the_cursor_where_it_was(cfg, where):
    src, sink = FakeSource("web", [make_task("MKT-1")]), MemorySink()
    run_sync(cfg, now=NOW, sources=[src], sink=sink)
    later = NOW + timedelta(minutes=30)
    src.tasks = [make_task("MKT-1", title="changed")]
    if where == "source":
        src.fail = SourceError("connection reset")
    else:
        sink.fail = True
    with pytest.raises((SourceError, SinkError)):
        run_sync(cfg, now=later, sources=[src], sink=sink)
    st = State(cfg.state.path)
    assert st.cursor("web").cursor == NOW  # not advanced
    assert [t.title for t in st.tasks()] == ["t"]  # stored tasks untouched
    assert len(st.runs()) == 1
    st.close()
    src.fail, sink.fail = None, False
    r = run_sync(cfg, now=later + timedelta(minutes=1), sources=[src], sink=sink)
    assert src.calls[-1] == NOW - OVERLAP  # the retry re-reads from the old cursor: nothing skipped
    assert r.run.changed == 1 and sink.tabs[TASKS][1][2] == "changed"


def test_a_second_concurrent_run_exits_0_saying_another_holds_the_lock(cfg, tmp_path, raw_config, env,
                                                                      monkeypatch):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    raw_config["state"] = {"path": str(tmp_path / "state.db")}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw_config))
    with run_lock(tmp_path / "state.db"):
        result = CliRunner().invoke(main, ["run", "--config", str(path)])
    assert result.exit_code == 0
    assert "another sync holds the lock" in result.output
    assert not (tmp_path / "out").exists()


def test_unknown_source_name_is_a_config_error(cfg):
    from syncer.errors import ConfigError

    with pytest.raises(ConfigError, match="--source nope: no such source"):
        run_sync(cfg, RunOptions(only=tuple(["nope"])), now=NOW, sink=MemorySink())


def test_secrets_never_reach_logs_or_errors(cfg, caplog, tmp_path, raw_config, env, monkeypatch, capsys):
    from syncer.log import secrets_of, setup_logging

    token = env["JIRA_API_TOKEN"]
    redact = setup_logging(True, secrets_of(cfg))
    log = logging.getLogger("syncer.test")
    log.error("auth header was Basic %s", token)
    try:
        raise SourceError(f"failed with {token}")
    except SourceError:
        log.exception("boom")
    err = capsys.readouterr().err
    assert token not in err and "***" in err
    assert redact.redact(f"x{token}y") == "x***y"
    # And through the CLI: a source failure whose message carries the token is printed redacted.
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    raw_config["state"] = {"path": str(tmp_path / "s2.db")}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw_config))
    monkeypatch.setattr("syncer.pipeline.make_sources", lambda *a, **k: [FakeSource("web", [], fail=SourceError(
        f"401 for token {token}"))])
    result = CliRunner().invoke(main, ["run", "--config", str(path)])
    assert result.exit_code == 1 and token not in result.output and "***" in result.output
    assert SYNC_LOG  # the Sync log tab name is part of the contract


def test_figures_of_a_replay_only_config_are_computed_at_the_snapshot_time(tmp_path, raw_config, env):
    from syncer.pipeline import snapshot_time
    from syncer.sources.replay import write_pages

    for name, stamp in (("a", "2026-06-01T08:00:00+00:00"), ("b", "2026-06-03T08:00:00+00:00")):
        write_pages(tmp_path / name, "jira", [], fetched_at=stamp)
    raw_config["sources"] = [{"name": n, "kind": "replay", "path": str(tmp_path / n)} for n in ("a", "b")]
    cfg = parse_config(raw_config, env)
    assert snapshot_time(cfg) == datetime(2026, 6, 3, 8, tzinfo=UTC)  # the newest snapshot, whatever --source
    raw_config["sources"].append({"name": "live", "kind": "jira", "url": "https://x.atlassian.net", "email": "e",
                                  "token": "t", "jql": "project = X"})
    assert snapshot_time(parse_config(raw_config, env)) is None  # a live source: the run's own time


def test_saving_pages_replaces_only_earlier_page_files(tmp_path):
    from syncer.sources import Page
    from syncer.sources.replay import read_manifest, read_pages, write_pages

    (tmp_path / "notes.json").write_text("{}")
    write_pages(tmp_path, "jira", [Page("GET /a", {}, {"n": 1}), Page("GET /b", {}, {"n": 2})], source="web")
    write_pages(tmp_path, "jira", [Page("GET /c", {"q": 1}, {"n": 3})], source="web")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001.json", "manifest.json", "notes.json"]
    pages = list(read_pages(tmp_path, read_manifest(tmp_path, "sources[0]")))
    assert [(p.endpoint, p.params, p.body) for p in pages] == [("GET /c", {"q": 1}, {"n": 3})]


def test_a_rule_added_reaches_stored_tasks_a_run_did_not_read_even_when_it_read_as_many_new_ones(raw_config, env,
                                                                                                   tmp_path):
    """After the intake rules change, every task is checked again: those read now and the stored ones not read
    (a run that read one stored task and two new ones, as many as are stored, still re-checks the other)."""
    raw_config["sources"] = [raw_config["sources"][0]]
    raw_config["state"] = {"path": str(tmp_path / "state.db")}
    raw_config["intake"] = {"required": [], "brief_min_chars": 0, "controls": []}
    sink = MemorySink()
    run_sync(parse_config(raw_config, env), now=NOW, sink=sink,
             sources=[FakeSource("web", [make_task("MKT-1"), make_task("MKT-2")])])
    assert sink.tabs["Intake"][1:] == []
    raw_config["intake"]["required"] = ["owner"]
    later = FakeSource("web", [make_task("MKT-1", "edited"), make_task("MKT-3"), make_task("MKT-4")], complete=False)
    result = run_sync(parse_config(raw_config, env), now=NOW + timedelta(hours=1), sink=sink, sources=[later])
    assert [(r[1], r[6]) for r in result.tables["Intake"][1:]] == [
        ("MKT-1", "owner"), ("MKT-2", "owner"), ("MKT-3", "owner"), ("MKT-4", "owner")]
