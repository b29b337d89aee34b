"""A whole sync into the fake Google Sheet: through run_sync and through the CLI (exit codes 0, 1 and 2)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fake_sheets import FakeSheets, as_typed, running_fake

from syncer.cli import main
from syncer.config import parse_config
from syncer.model import Stage, Task
from syncer.pipeline import run_sync
from syncer.sources import FetchResult
from syncer.tables import BUDGET_ROLLUP, HEADERS, SYNC_LOG, TASKS

EMAIL = "syncer@acme-ops.iam.gserviceaccount.com"
NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)
BUDGET = [["Campaign", "Activity", "G/L account", "Period", "Amount"],
          ["Spring", "Ads", "6100", "2026-06", 1000],
          ["Spring", "Ads", "6100", "June-ish", 500]]


class Source:
    """A scripted complete read."""

    def __init__(self, tasks: list[Task]):
        self.name, self.tasks = "web", tasks

    def read(self, since, now, checkpoint=None):
        return FetchResult(tasks=list(self.tasks), complete=True, requests=1)

    def fetch_pages(self, since, now, checkpoint=None):
        return iter(())

    def intake_writer(self):
        return None


def make_task(key: str, title: str = "Spring landing page") -> Task:
    return Task(source="web", key=key, title=title, created_at=NOW - timedelta(days=3), stage=Stage.BACKLOG,
                status="To Do", created_stage=Stage.BACKLOG, campaign="Spring", planned_cost=300.0,
                due_date=(NOW + timedelta(days=5)).date())


@pytest.fixture
def fake():
    with running_fake() as f:
        f.add_sheet("Budget", BUDGET)
        yield f
    assert f.violations == []


@pytest.fixture
def gsheet_config(tmp_path, raw_config, env, fake):
    raw_config["sources"] = [raw_config["sources"][0]]
    raw_config["state"] = {"path": str(tmp_path / "state.db")}
    raw_config["budget"] = {"tab": "Budget"}
    raw_config["sink"] = {"kind": "gsheet", "spreadsheet_id": "${SHEET_ID}",
                          "credentials": "${GOOGLE_SERVICE_ACCOUNT_JSON}"}
    env.update(SHEET_ID=fake.id, GOOGLE_SERVICE_ACCOUNT_JSON=json.dumps(fake.share(EMAIL)))
    return raw_config, env


def test_run_sync_writes_the_sheet_reads_budget_and_reruns_with_the_log_row_only(fake, gsheet_config):
    cfg = parse_config(*gsheet_config)
    src = Source([make_task("MKT-1"), make_task("MKT-2", title='=HYPERLINK("http://x")')])
    first = run_sync(cfg, now=NOW, sources=[src])
    assert [r[:3] for r in fake.values(TASKS)[1:]] == [["web", "MKT-1", "Spring landing page"],
                                                     ["web", "MKT-2", '=HYPERLINK("http://x")']]
    assert fake.values(BUDGET_ROLLUP)[0] == HEADERS[BUDGET_ROLLUP]
    assert any("Budget tab row 3" in w for w in first.run.warnings)
    assert "Budget tab row 3" in fake.values(SYNC_LOG)[1][HEADERS[SYNC_LOG].index("Warnings")]
    assert fake.values("Budget") == BUDGET
    assert first.run.api_requests >= 1 + 4  # the source's request and the sink's

    fake.calls.clear()
    again = run_sync(cfg, now=NOW + timedelta(minutes=15), sources=[src])
    assert again.run.rows_written == 0
    assert fake.kinds() == {"metadata": 1, "batchGet": 1, "valuesBatchUpdate": 1}
    assert "'Budget'" in fake.payloads("batchGet")[0]["ranges"]
    assert len(fake.values(SYNC_LOG)) == 3


def write_config(tmp_path, raw: dict) -> str:
    path = tmp_path / "syncer.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def cli_run(monkeypatch, tmp_path, gsheet_config, tasks: list[Task]):
    raw, env = gsheet_config
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr("syncer.pipeline.make_sources", lambda *a, **k: [Source(tasks)])
    return CliRunner().invoke(main, ["run", "--config", write_config(tmp_path, raw)])


def test_cli_run_succeeds_then_a_persistent_503_exits_1_with_the_sheet_unchanged(fake, gsheet_config, monkeypatch,
                                                                                  tmp_path):
    ok = cli_run(monkeypatch, tmp_path, gsheet_config, [make_task("MKT-1")])
    assert ok.exit_code == 0, ok.output
    before = {s.title: fake.dump(s.title) for s in fake.sheets}
    fake.fail("valuesBatchUpdate", 503, times=None, headers={"Retry-After": "0"})
    failed = cli_run(monkeypatch, tmp_path, gsheet_config, [make_task("MKT-1", title="renamed")])
    assert failed.exit_code == 1
    assert "still failing after 6 attempts" in failed.output and "Traceback" not in failed.output
    assert {s.title: fake.dump(s.title) for s in fake.sheets} == before


def test_cli_run_with_an_unshared_sheet_exits_2_naming_the_account_never_the_key(fake, gsheet_config, monkeypatch,
                                                                                 tmp_path):
    del fake.shared[EMAIL]
    result = cli_run(monkeypatch, tmp_path, gsheet_config, [make_task("MKT-1")])
    assert result.exit_code == 2
    assert EMAIL in result.output and "Share the sheet" in result.output
    key = json.loads(gsheet_config[1]["GOOGLE_SERVICE_ACCOUNT_JSON"])["private_key"]
    assert key.splitlines()[1] not in result.output and "PRIVATE KEY" not in result.output


def demo_config(fake: FakeSheets, tmp_path, budget: dict) -> object:
    raw = yaml.safe_load(Path("config/demo.yaml").read_text(encoding="utf-8"))
    raw["sink"] = {"kind": "gsheet", "spreadsheet_id": fake.id, "credentials": json.dumps(fake.share(EMAIL))}
    raw["state"] = {"path": str(tmp_path / "state.db")}
    raw["budget"] = budget
    return parse_config(raw, {})


DEMO_NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
DEMO_BUDGET = "config/demo/budget.csv"


def test_the_demo_data_goes_to_a_google_sheet_and_rereads_identically(fake, tmp_path):
    run_sync(demo_config(fake, tmp_path, {"file": DEMO_BUDGET}), now=DEMO_NOW)
    assert len(fake.values(TASKS)) > 100 and len(fake.values(BUDGET_ROLLUP)) > 10
    fake.calls.clear()
    again = run_sync(demo_config(fake, tmp_path, {"file": DEMO_BUDGET}), now=DEMO_NOW)
    assert again.run.rows_written == 0  # every value the sink wrote reads back equal: nothing to rewrite
    assert fake.kinds() == {"metadata": 1, "batchGet": 1, "valuesBatchUpdate": 1}


def test_the_budget_typed_into_the_sheet_gives_the_same_rollup_as_the_csv(fake, tmp_path):
    run_sync(demo_config(fake, tmp_path / "csv", {"file": DEMO_BUDGET}), now=DEMO_NOW)
    from_csv = fake.values(BUDGET_ROLLUP)
    rows = list(csv.reader(Path(DEMO_BUDGET).read_text(encoding="utf-8").splitlines()))
    fake.sheets = [s for s in fake.sheets if s.title == "Sheet1"]
    fake.add_sheet("Budget", as_typed([rows[0]] + [r[:4] + [float(r[4])] for r in rows[1:]]))  # months: dates
    run_sync(demo_config(fake, tmp_path / "tab", {"tab": "Budget"}), now=DEMO_NOW)
    assert fake.values(BUDGET_ROLLUP) == from_csv
