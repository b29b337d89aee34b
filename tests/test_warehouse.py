"""The warehouse sink into a real DuckDB file: the demo's tabs equal, unchanged runs load nothing, changed and
deleted tasks, several sinks in one run, dry runs, errors, and no network."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from warehouse_demo import TZ, demo_config, demo_round_trip, run

from syncer.config import parse_config
from syncer.errors import ConfigError, SinkError
from syncer.model import Stage, Task
from syncer.pipeline import RunOptions, run_sync
from syncer.sinks import Plan
from syncer.sinks.warehouse.sink import WarehouseSettings, WarehouseSink
from syncer.sources import FetchResult
from syncer.state import State
from syncer.tables import CLOSED_PERIODS, HEADERS, SYNC_LOG, TASKS

NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)


def duck(path: Path):
    def query(sql: str) -> list[tuple]:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.sql(sql).fetchall()
    return query


def test_demo_into_duckdb_equals_the_workbook_and_loads_only_what_changed(tmp_path):
    db = tmp_path / "wh.duckdb"
    demo_round_trip(tmp_path, {"kind": "warehouse", "destination": "duckdb", "credentials": str(db)}, duck(db),
                    "marketing_ops")


def test_columns_are_typed_snake_case(tmp_path):
    db = tmp_path / "wh.duckdb"
    run(demo_config(tmp_path, {"kind": "warehouse", "credentials": str(db), "dataset": "ops"}))
    types = dict(duck(db)("SELECT column_name, data_type FROM information_schema.columns "
                          "WHERE table_schema = 'ops' AND table_name = 'tasks'"))
    assert types["due"] == "DATE" and types["created"] == "TIMESTAMP WITH TIME ZONE"
    assert types["planned"] == types["labour_cost"] == "DECIMAL(18,2)"
    assert types["logged_h"] == types["estimate_h"] == types["cycle_days"] == "DOUBLE"
    assert types["gl_account"] == types["title"] == "VARCHAR" and types["intake_ok"] == "BOOLEAN"
    rollup = dict(duck(db)("SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_schema = 'ops' AND table_name = 'budget_rollup'"))
    assert rollup["used_pct"] == "DOUBLE" and rollup["remaining"] == "DECIMAL(18,2)"
    worklogs = dict(duck(db)("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_schema = 'ops' AND table_name = 'raw_worklogs'"))
    assert worklogs["started_at"] == "TIMESTAMP WITH TIME ZONE" and worklogs["hours"] == "DOUBLE"
    # the README's query: budget remaining by campaign, from the campaign Total rows
    remaining = dict(duck(db)("SELECT campaign, remaining FROM ops.budget_rollup WHERE activity = 'Total'"))
    assert remaining and all(v is not None for v in remaining.values())


def test_dlt_works_beside_the_state_and_reaches_no_network(tmp_path, monkeypatch):
    seen: list[object] = []
    real_connect, real_lookup = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        if not (isinstance(address, str) or str(address[0]) in ("127.0.0.1", "::1", "localhost")):
            seen.append(address)
            raise OSError("no network in tests")
        return real_connect(self, address)

    def lookup(host, *args, **kwargs):
        if host not in ("localhost", "127.0.0.1", "::1", None):
            seen.append(host)
            raise socket.gaierror("no network in tests")
        return real_lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    config = demo_config(tmp_path, {"kind": "warehouse"})
    run(config)
    assert seen == []
    assert (tmp_path / "warehouse.duckdb").exists()  # the default file: beside the state
    assert (tmp_path / "dlt" / "syncer_duckdb_marketing_ops").is_dir()  # dlt's working folder: beside the state
    assert not (tmp_path / "home").exists()  # nothing in ~/.dlt


def test_dry_run_writes_nothing(tmp_path):
    config = demo_config(tmp_path, {"kind": "warehouse"})
    out = run(config, "--dry-run")
    assert "tab Tasks" in out and "would change: +2" in out
    assert not (tmp_path / "warehouse.duckdb").exists() and not (tmp_path / "dlt").exists()
    run(config)
    before = (tmp_path / "warehouse.duckdb").stat().st_mtime_ns
    out = run(config, "--dry-run")
    assert (tmp_path / "warehouse.duckdb").stat().st_mtime_ns == before
    assert "would change: +0 added, ~0 changed, -0 removed" in out


# ---- deletions, appends and several sinks, with scripted sources ---------------------------------------------------
def make_task(key: str, title: str = "t", cost: float | None = None) -> Task:
    return Task(source="web", key=key, title=title, created_at=NOW - timedelta(days=3), stage=Stage.BACKLOG,
                status="To Do", created_stage=Stage.BACKLOG, campaign="Launch", planned_cost=cost)


class Scripted:
    def __init__(self, tasks: list[Task]):
        self.name, self.tasks = "web", tasks

    def read(self, since, now, checkpoint=None):
        return FetchResult(tasks=list(self.tasks), complete=True, requests=1)


@pytest.fixture
def cfg(tmp_path, raw_config, env):
    raw_config["sources"] = [raw_config["sources"][0]]
    raw_config["state"] = {"path": str(tmp_path / "state.db")}
    raw_config["sink"] = {"kind": "warehouse", "credentials": str(tmp_path / "w.duckdb"), "dataset": "mops"}
    return parse_config(raw_config, env)


def test_a_task_gone_on_a_full_run_is_removed_and_its_rollup_rows_too(cfg, tmp_path):
    src = Scripted([make_task("MKT-1", cost=100.0), make_task("MKT-2")])
    run_sync(cfg, now=NOW, sources=[src])
    q = duck(tmp_path / "w.duckdb")
    assert q("SELECT key FROM mops.tasks ORDER BY key") == [("MKT-1",), ("MKT-2",)]
    assert q("SELECT count(*) FROM mops.budget_rollup WHERE campaign = 'Launch'")[0][0] >= 1
    src.tasks = [make_task("MKT-2")]
    r = run_sync(cfg, RunOptions(full=True), now=NOW + timedelta(hours=1), sources=[src])
    assert r.plan.tabs[TASKS].removed == 1 and r.plan.tabs["raw_tasks"].removed == 1
    assert q("SELECT key FROM mops.tasks") == [("MKT-2",)] == q("SELECT key FROM mops.raw_tasks")
    assert q("SELECT count(*) FROM mops.budget_rollup WHERE campaign = 'Launch' AND planned > 0") == [(0,)]
    assert q("SELECT count(*) FROM mops.sync_log") == [(2,)]
    assert q("SELECT _syncer_row FROM mops.sync_log ORDER BY run_at") == [(0,), (1,)]


def test_read_tab_gives_the_tab_back(cfg):
    run_sync(cfg, now=NOW, sources=[Scripted([make_task("MKT-10"), make_task("MKT-9", title="=SUM(A1)")])])
    sink = WarehouseSink.from_config(cfg.sink, cfg)
    tasks = sink.read_tab(TASKS)
    assert tasks[0] == HEADERS[TASKS]
    assert [(r[1], r[2]) for r in tasks[1:]] == [("MKT-9", "=SUM(A1)"), ("MKT-10", "t")]  # key order, RAW text
    assert tasks[1][11] == (NOW - timedelta(days=3)).astimezone(TZ).isoformat()  # Created, in the zone
    log = sink.read_tab(SYNC_LOG)
    assert log[0] == HEADERS[SYNC_LOG] and log[1][1] == "full"
    assert sink.read_tab("Budget") is None
    # the Closed periods record, read back in the order it was appended (`at` and `by` are SQL key words)
    close = ["2026-05", "close", "2026-06-01T09:00:00+02:00", "Finance", None, "Launch", None, None, *[100.5] * 7]
    rows = [HEADERS[CLOSED_PERIODS], close, [close[0], "reopen", "2026-06-02T09:00:00+02:00", *close[3:]]]
    for upto in (2, 3):  # the tab as it stood after the close, then after the reopen
        sink.apply(sink.plan({CLOSED_PERIODS: rows[:upto]}), ["2026-06-02T10:00:00+02:00", "close 2026-05"])
    assert sink.read_tab(CLOSED_PERIODS) == rows


class FailingSink:
    """A second sink that fails when written."""

    requests = 0

    def __init__(self):
        self.planned = 0

    def read_tab(self, title):
        return None

    ident = "failing"

    def recall(self, marks, recheck=False) -> None:
        pass

    def plan(self, tables, frames=None) -> Plan:
        self.planned += 1
        return Plan(tabs={})

    def apply(self, plan: Plan, log_row: Sequence) -> int:
        raise SinkError("the sheet is unavailable")


def test_a_failing_second_sink_keeps_the_cursor_and_says_what_was_written(cfg, tmp_path):
    first = WarehouseSink.from_config(cfg.sink, cfg)
    failing = FailingSink()
    with pytest.raises(SinkError) as err:
        run_sync(cfg, now=NOW, sources=[Scripted([make_task("MKT-1")])], sinks=[first, failing])
    assert failing.planned == 1  # planned with the others before anything was written
    assert "already written this run: duckdb dataset mops" in str(err.value)
    assert "the sheet is unavailable" in str(err.value) and "did not advance" in str(err.value)
    state = State(cfg.state.path)
    assert state.cursor("web") is None and state.frames() is None  # the run is not recorded as done
    state.close()
    # the next run writes again; the warehouse already has the rows and loads only its log row
    r = run_sync(cfg, now=NOW + timedelta(minutes=30), sources=[Scripted([make_task("MKT-1")])])
    assert r.plan.tabs[TASKS].added == 0 and r.plan.rows_written == 0


def test_bad_destination_and_clashing_names_are_config_errors(cfg, tmp_path, raw_config, env):
    settings = WarehouseSettings("nosuchdb", "mops", None, tmp_path / "dlt")
    with pytest.raises(ConfigError, match="is not a dlt destination"):
        WarehouseSink(settings)
    with pytest.raises(ConfigError, match="has the dataset's name"):
        WarehouseSink(WarehouseSettings("duckdb", "mops", str(tmp_path / "mops.duckdb"), tmp_path / "dlt"))
    raw_config.pop("sink")
    raw_config["sinks"] = [{"kind": "warehouse"}, {"kind": "warehouse", "credentials": "x.duckdb"}]
    twins = parse_config(raw_config, env)
    with pytest.raises(ConfigError, match=r"sinks\[1\]: loads the same duckdb dataset 'marketing_ops' as sinks\[0\]"):
        WarehouseSink.from_config(twins.sinks[1], twins)


def test_an_unreachable_server_is_a_sink_error_without_the_password(cfg, tmp_path):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dsn = f"postgresql://syncer:pw-SECRET-9@127.0.0.1:{port}/nothing?connect_timeout=2"
    sink = WarehouseSink(WarehouseSettings("postgres", "mops", dsn, tmp_path / "dlt"))
    with pytest.raises(SinkError) as err:
        sink.plan({TASKS: [HEADERS[TASKS]]})
    assert "postgres (dataset mops): connect failed" in str(err.value)
    assert "pw-SECRET-9" not in str(err.value)


def test_doctor_checks_the_duckdb_destination(tmp_path):
    from click.testing import CliRunner

    from syncer.cli import main

    config = demo_config(tmp_path, {"kind": "warehouse", "dataset": "ops"})
    first = CliRunner().invoke(main, ["doctor", "--config", str(config)])
    assert first.exit_code == 0, first.output
    assert "sinks[1] (warehouse: duckdb dataset ops)" in first.output
    assert "OK    connection: DuckDB (the file is created at the first run)" in first.output
    assert "OK    dataset: 'ops' will be created at the first run" in first.output
    assert not (tmp_path / "warehouse.duckdb").exists()  # looking created nothing
    run(config)
    second = CliRunner().invoke(main, ["doctor", "--config", str(config)])
    assert "OK    dataset: 'ops' exists (tasks, budget_rollup" in second.output
    assert "OK    write: may create and load tables in it" in second.output
    bad = config.read_text().replace("kind: warehouse", "kind: warehouse\n  destination: nosuchdb")
    config.write_text(bad)
    third = CliRunner().invoke(main, ["doctor", "--config", str(config)])
    assert third.exit_code == 2 and "FAIL  check: sinks[1].destination: 'nosuchdb' is not a dlt destination" in \
        third.output


def test_the_readme_queries_run_against_the_demo(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Queries for a BI tool"):]
    sql = section[section.index("```sql") + 6:section.index("```", section.index("```sql") + 6)]
    queries = [q.strip() for q in sql.split(";") if q.strip()]
    db = tmp_path / "demo.duckdb"
    run(demo_config(tmp_path, {"kind": "warehouse", "credentials": str(db)}))
    q = duck(db)
    assert len(queries) >= 12
    for query in queries:
        title = query.splitlines()[0]
        if title.startswith("-- Closed periods"):  # nothing is closed in this run: the table has no row yet
            assert q("SELECT count(*) FROM information_schema.tables WHERE table_name = 'closed_periods'") == [(0,)]
            continue
        assert q(query), title
