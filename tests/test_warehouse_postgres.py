"""The warehouse sink against a real PostgreSQL server (`.ci/postgres` installs and starts one, Debian's package).

With `CI` or `SYNCER_TEST_POSTGRES_DSN` set, a missing server fails these tests; only a developer's machine with
neither skips them (start one the same way: `export "$(bash .ci/postgres)"`).
"""

from __future__ import annotations

import os
import uuid

import psycopg2
import pytest
from click.testing import CliRunner
from warehouse_demo import demo_config, demo_round_trip, run

from syncer.cli import main

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
