"""A run's reads: each source's tasks are folded into frames (intake-checked) before the next source is read, so
no source's Task objects outlive its read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from syncer.config import parse_config
from syncer.domain import stored
from syncer.domain.rollups import fold_tasks
from syncer.model import Stage, Task
from syncer.pipeline.reads import ReadPlan, is_full, read_sources
from syncer.sources import FetchResult
from syncer.state import State

NOW = datetime(2026, 6, 3, 8, tzinfo=UTC)


def task(source: str, key: str, title: str = "t") -> Task:
    return Task(source=source, key=key, title=title, created_at=NOW - timedelta(days=3), stage=Stage.BACKLOG,
                status="To Do", created_stage=Stage.BACKLOG)


class Logged:
    """A source that notes in a shared log when it is read."""

    def __init__(self, name: str, tasks: list[Task], log: list[str]):
        self.name, self.tasks, self.log = name, tasks, log

    def read(self, since, now, checkpoint=None):
        self.log.append(f"read {self.name}")
        return FetchResult(tasks=list(self.tasks), complete=True, requests=1)


@pytest.fixture
def cfg(tmp_path, raw_config, env):
    raw_config["state"] = {"path": str(tmp_path / "state.db")}
    return parse_config(raw_config, env)


def test_each_source_is_folded_before_the_next_is_read_and_the_frames_come_sorted(cfg):
    log: list[str] = []
    web = Logged("web", [task("web", "MKT-2"), task("web", "MKT-1", "old"), task("web", "MKT-1", "new")], log)
    app = Logged("app", [task("app", "7")], log)

    def fold(tasks: list[Task]):
        log.append("fold " + ",".join(f"{t.source}/{t.key}/{t.title}" for t in tasks))
        return fold_tasks(tasks, cfg, None)

    state = State(cfg.state.path)
    try:
        full = {s.name: is_full(cfg, state, s.name, NOW, False) for s in (web, app)}
        reads = read_sources(ReadPlan(cfg, state, NOW, full, fold), [web, app], set())
    finally:
        state.close()
    # a task read twice keeps its last version; each read is folded, in key order, before the next source's read
    assert log == ["read web", "fold web/MKT-1/new,web/MKT-2/t", "read app", "fold app/7/t"]
    fresh = reads.fresh()
    assert fresh["tasks"].select(stored.KEYS).rows() == [("app", "7"), ("web", "MKT-1"), ("web", "MKT-2")]
    assert fresh["tasks"]["title"].to_list() == ["t", "new", "t"]
    assert reads.fetched == 4 and reads.requests == 2 and reads.modes == {"full"}


def test_a_folded_read_carries_the_intake_verdicts_of_its_tasks(cfg):
    bare = replace(task("web", "MKT-1"), campaign=None, planned_cost=120.0)
    frames = fold_tasks([bare], cfg, None)
    rules = frames["violations"].select("key", "rule").rows()
    assert ("MKT-1", "amount_without_campaign") in rules
    assert frames["tasks"]["key"].to_list() == ["MKT-1"]
