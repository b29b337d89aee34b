"""The warehouse sink against a real PostgreSQL server (`.ci/postgres` installs and starts one, Debian's package).

With `CI` or `SYNCER_TEST_POSTGRES_DSN` set, a missing server fails these tests; only a developer's machine with
neither skips them (start one the same way: `export "$(bash .ci/postgres)"`).
"""

from __future__ import annotations

import os
import uuid
from decimal import Decimal

import psycopg2
import pytest
from click.testing import CliRunner
from warehouse_demo import TZ, demo_config, demo_round_trip, run

from syncer.cli import main
from syncer.sinks.warehouse.sink import WarehouseSettings, WarehouseSink
from syncer.tables import CLOSED_PERIODS, HEADERS

DSN = os.environ.get("SYNCER_TEST_POSTGRES_DSN")


@pytest.fixture
def postgres():
    """(query, dataset): a fresh schema on the test server, dropped afterwards."""
    if not DSN:
        if os.environ.get("CI"):
            pytest.fail("CI expects a PostgreSQL server: .ci/run starts one and sets SYNCER_TEST_POSTGRES_DSN")
        pytest.skip("no PostgreSQL server: export \"$(bash .ci/postgres)\" to run these tests")
    try:
        conn = psycopg2.connect(DSN, connect_timeout=5)
    except psycopg2.OperationalError as e:
        pytest.fail(f"SYNCER_TEST_POSTGRES_DSN is set but the server is missing: {e}")
    conn.autocommit = True
    dataset = f"test_{uuid.uuid4().hex[:10]}"

    def query(sql: str) -> list[tuple]:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    yield query, dataset
    with conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {dataset} CASCADE; DROP SCHEMA IF EXISTS {dataset}_staging CASCADE")
    conn.close()


def warehouse(dataset: str) -> dict:
    return {"kind": "warehouse", "destination": "postgres", "dataset": dataset, "credentials": DSN}


def test_demo_into_postgres_equals_the_workbook_and_loads_only_what_changed(tmp_path, postgres):
    query, dataset = postgres
    demo_round_trip(tmp_path, warehouse(dataset), query, dataset)
    types = dict(query(f"SELECT column_name, data_type FROM information_schema.columns "
                       f"WHERE table_schema = '{dataset}' AND table_name = 'tasks'"))
    assert types["due"] == "date" and types["created"] == "timestamp with time zone"
    assert types["planned"] == "numeric" and types["logged_h"] == "double precision"


def test_doctor_connects_and_sees_the_dataset(tmp_path, postgres):
    query, dataset = postgres
    config = demo_config(tmp_path, warehouse(dataset))
    first = CliRunner().invoke(main, ["doctor", "--config", str(config)])
    assert "OK    connection: PostgreSQL 1" in first.output
    assert f"dataset: {dataset!r} will be created" in first.output and "OK    write" in first.output
    run(config)
    second = CliRunner().invoke(main, ["doctor", "--config", str(config)])
    assert second.exit_code == 0, second.output
    assert f"dataset: {dataset!r} exists" in second.output and "tasks" in second.output
    assert "syncer_test" in DSN and DSN not in second.output


def test_closed_periods_read_back_from_postgres_in_order(tmp_path, postgres):
    query, dataset = postgres
    sink = WarehouseSink(WarehouseSettings("postgres", dataset, DSN, tmp_path / "dlt", tz=TZ))
    assert sink.read_tab(CLOSED_PERIODS) is None
    close = ["2026-05", "close", "2026-06-01T09:00:00+02:00", "Finance", None, "Launch", None, None, *[100.5] * 7]
    rows = [HEADERS[CLOSED_PERIODS], close, [close[0], "reopen", "2026-06-02T09:00:00+02:00", *close[3:]]]
    for upto in (2, 3):
        sink.apply(sink.plan({CLOSED_PERIODS: rows[:upto]}), ["2026-06-02T10:00:00+02:00", "close 2026-05"])
    assert sink.read_tab(CLOSED_PERIODS) == rows
    assert query(f'SELECT action, "by", remaining FROM {dataset}.closed_periods ORDER BY _syncer_row') == [
        ("close", "Finance", Decimal("100.50")), ("reopen", "Finance", Decimal("100.50"))]
