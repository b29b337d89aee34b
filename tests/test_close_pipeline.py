"""`syncer close` / `syncer reopen` end to end (SPEC §11): xlsx and the fake Google Sheet, the state lost, the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import Workbook

from syncer.cli import main
from syncer.config import parse_config
from syncer.errors import SinkError
from syncer.model import Stage, Task, Worklog
from syncer.pipeline import change_period, default_actor, run_sync
from syncer.sinks.diff import normalise_table
from syncer.sinks.xlsx import XlsxSink
from syncer.sources import FetchResult
from syncer.state import State
from syncer.tables import ATTENTION, BUDGET_ROLLUP, CLOSED_PERIODS, HEADERS, SYNC_LOG

CLOSE_AT = datetime(2026, 11, 3, 9, tzinfo=UTC)  # 10:00 in Berlin, October is over
LATER = datetime(2026, 11, 6, 9, tzinfo=UTC)
BUDGET = "Campaign,Activity,G/L account,Period,Amount\nSpring,Ads,6100,2026-10,2000\nSpring,Ads,6100,2026-11,2000\n"
COLS = HEADERS[BUDGET_ROLLUP]


class Source:
    """A scripted complete read of the tasks it holds now."""

    def __init__(self, tasks: list[Task]):
        self.name, self.tasks = "web", tasks

    def read(self, since, now, checkpoint=None):
        return FetchResult(tasks=list(self.tasks), complete=True, requests=1)

    def fetch_pages(self, since, now, checkpoint=None):
        return iter(())

    def intake_writer(self):
        return None


def october_tasks() -> list[Task]:
    """An October invoice of 1,000.00 on Ads, and 5 h of design work (at 80.00 = 400.00)."""
    made = datetime(2026, 9, 28, 8, tzinfo=UTC)
    ads = Task(source="web", key="MKT-1", title="Ads", created_at=made, stage=Stage.DONE, status="Done",
               created_stage=Stage.BACKLOG, campaign="Spring", activity="Ads", gl_account="6100",
               planned_cost=1500.0, due_date=datetime(2026, 10, 20).date(), committed_amount=1000.0,
               po_date=datetime(2026, 10, 1).date(), invoiced_amount=1000.0, invoice_date=datetime(2026, 10, 15).date())
    design = Task(source="web", key="MKT-2", title="Key visual", created_at=made, stage=Stage.IN_PROGRESS,
                  status="In Progress", created_stage=Stage.BACKLOG, campaign="Spring", activity="Design",
                  gl_account="6300", worklogs=[Worklog("ana@acme.com", datetime(2026, 10, 20, 9, tzinfo=UTC), 5.0)])
    return [ads, design]


def edit_october(tasks: list[Task]) -> None:
    """The invoice is corrected to 1,200.50 and 2 h are logged back-dated to 28 October (160.00)."""
    tasks[0].invoiced_amount = 1200.5
    tasks[1].worklogs = [*tasks[1].worklogs, Worklog("ana@acme.com", datetime(2026, 10, 28, 9, tzinfo=UTC), 2.0)]


def config(tmp_path, raw_config, env, name: str = "ops"):
    (tmp_path / "budget.csv").write_text(BUDGET)
    raw_config["sources"] = [raw_config["sources"][0]]
    raw_config.update(state={"path": str(tmp_path / f"{name}.db")}, rates={"default": 80},
                      budget={"file": str(tmp_path / "budget.csv")},
                      sink={"kind": "xlsx", "path": str(tmp_path / f"{name}.xlsx")})
    return raw_config, env


@pytest.fixture
def xlsx(tmp_path, raw_config, env):
    raw, env = config(tmp_path, raw_config, env)
    cfg = parse_config(raw, env)
    return cfg, XlsxSink(cfg.sink.path).read_tab


@pytest.fixture
def gsheet(tmp_path, raw_config, env, fake):
    raw, env = config(tmp_path, raw_config, env)
    raw["sink"] = {"kind": "gsheet", "spreadsheet_id": fake.id, "credentials": json.dumps(fake.share("s@x.iam"))}
    return parse_config(raw, env), fake.values


def unclosed(tmp_path, raw_config, env, tasks) -> list[list]:
    """The Budget rollup the same tasks give with no close at all."""
    raw, env = config(tmp_path, raw_config, env, name="unclosed")
    return run_sync(parse_config(raw, env), now=LATER, sources=[Source(tasks)]).tables[BUDGET_ROLLUP]


def period_rows(table, period, adjusts=None):
    """The rows of a period (ordinary, or adjusting `adjusts`), as a sink reads them back."""
    return [list(r) for r in normalise_table(table)[1:] if r[3] == period and (r[13:] or [None])[0] == adjusts]


def close_october(cfg, tasks):
    run_sync(cfg, now=CLOSE_AT, sources=[Source(tasks)])
    return change_period(cfg, "close", "2026-10", "Ana Finance", now=CLOSE_AT + timedelta(hours=1))


@pytest.mark.parametrize("sink", ["xlsx", "gsheet"])
def test_after_a_close_an_edited_invoice_and_a_back_dated_worklog_become_adjustments_and_reopen_undoes_them(
        sink, request, tmp_path, raw_config, env):
    cfg, read = request.getfixturevalue(sink)
    tasks = october_tasks()
    closed = close_october(cfg, tasks)
    frozen = period_rows(closed.tables[BUDGET_ROLLUP], "2026-10")
    assert [r[:4] + r[7:11] for r in frozen] == [["Spring", "Ads", "6100", "2026-10", 1000, 0, 0, 1000],
                                                 ["Spring", "Design", "6300", "2026-10", 0, 400, 0, -400]]
    edit_october(tasks)
    after = run_sync(cfg, now=LATER, sources=[Source(tasks)])
    shown = normalise_table(read(BUDGET_ROLLUP))
    assert shown == normalise_table(after.tables[BUDGET_ROLLUP])
    assert period_rows(shown, "2026-10") == frozen  # the closed month is unchanged
    adjustments = period_rows(shown, "2026-11", adjusts="2026-10")
    assert [r[:4] + r[4:11] for r in adjustments] == [
        ["Spring", "Ads", "6100", "2026-11", 0, 0, 0, 200.5, 0, 0, -200.5],  # 1,200.50 - 1,000.00
        ["Spring", "Design", "6300", "2026-11", 0, 0, 0, 0, 160, 0, -160],  # 2 h x 80.00
    ]
    live = unclosed(tmp_path, raw_config, env, tasks)
    totals = [r for r in shown[1:] if r[3] is None]  # Spring's Total and the grand Total: the live ledger's
    assert totals == [r for r in normalise_table(live)[1:] if r[3] is None]
    for col in range(4, 11):  # and each Total is the sum of its rows, to the cent
        assert round(sum(r[col] for r in shown[1:] if r[3] is not None), 2) == totals[-1][col]

    change_period(cfg, "reopen", "2026-10", "Ben Controller", "late agency invoice", now=LATER + timedelta(hours=1))
    assert normalise_table(read(BUDGET_ROLLUP)) == normalise_table(live)  # live numbers, no adjustment row
    log = read(CLOSED_PERIODS)
    assert [r[:2] for r in log[1:]] == [["2026-10", "close"]] * 2 + [["2026-10", "reopen"]]
    assert log[-1][3:5] == ["Ben Controller", "late agency invoice"]
    assert [r[1] for r in read(SYNC_LOG)[1:]] == ["full", "close 2026-10", "full", "reopen 2026-10"]


def test_a_close_on_the_sheet_costs_one_read_and_at_most_one_structural_and_one_values_write(gsheet, fake):
    cfg, _ = gsheet
    run_sync(cfg, now=CLOSE_AT, sources=[Source(october_tasks())])
    fake.calls.clear()
    result = change_period(cfg, "close", "2026-10", "ana", now=CLOSE_AT + timedelta(hours=1))
    kinds = fake.kinds()
    assert kinds["metadata"] == 1 and kinds["batchGet"] == 1 and kinds["valuesBatchUpdate"] == 1
    assert kinds["batchUpdate"] <= 1 and kinds.total() <= 4
    # besides the two frozen rows, only Attention's Days (time since, running with the clock an hour on) change
    assert result.plan.tabs[CLOSED_PERIODS].added == 2
    assert result.run.rows_written == 2 + result.plan.tabs[ATTENTION].changed


@pytest.mark.parametrize("sink", ["xlsx", "gsheet"])
def test_a_lost_state_file_reopens_nothing_the_tab_wins(sink, request, tmp_path):
    cfg, read = request.getfixturevalue(sink)
    tasks = october_tasks()
    frozen = period_rows(close_october(cfg, tasks).tables[BUDGET_ROLLUP], "2026-10")
    cfg.state.path.unlink()  # an evicted Actions cache
    edit_october(tasks)
    run_sync(cfg, now=LATER, sources=[Source(tasks)])
    shown = read(BUDGET_ROLLUP)
    assert period_rows(shown, "2026-10") == frozen
    assert [r[7:9] for r in period_rows(shown, "2026-11", adjusts="2026-10")] == [[200.5, 0], [0, 160]]
    state = State(cfg.state.path)
    assert [r[:2] for r in state.closed_rows()] == [["2026-10", "close"]] * 2  # the state has the tab's record again
    state.close()


@pytest.mark.parametrize("sink", ["xlsx", "gsheet"])
def test_an_unchanged_run_after_a_close_writes_only_its_sync_log_row(sink, request):
    cfg, read = request.getfixturevalue(sink)
    tasks = october_tasks()
    close_october(cfg, tasks)
    before = {t: read(t) for t in (BUDGET_ROLLUP, CLOSED_PERIODS)}
    if sink == "gsheet":
        request.getfixturevalue("fake").calls.clear()
    again = run_sync(cfg, now=CLOSE_AT + timedelta(hours=2), sources=[Source(tasks)])
    # Attention's Days (time since, two decimals) run with the clock; every other tab stands still
    moved = again.plan.tabs[ATTENTION].changed
    assert again.run.rows_written == moved and all(ch.rows_written == 0 for t, ch in again.plan.tabs.items()
                                                   if t != ATTENTION)
    assert {t: read(t) for t in before} == before
    if sink == "gsheet":
        assert request.getfixturevalue("fake").kinds() == {"metadata": 1, "batchGet": 1, "valuesBatchUpdate": 1}


def test_the_closed_periods_tab_is_written_again_from_the_state_when_it_is_missing(xlsx, tmp_path):
    cfg, read = xlsx
    tasks = october_tasks()
    close_october(cfg, tasks)
    cfg.sink.path.unlink()  # a new workbook
    run_sync(cfg, now=LATER, sources=[Source(tasks)])
    assert [r[:2] for r in read(CLOSED_PERIODS)[1:]] == [["2026-10", "close"]] * 2


def cli(tmp_path, raw, env, monkeypatch, *args):
    path = tmp_path / "syncer.yaml"
    path.write_text(yaml.safe_dump(raw))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return CliRunner().invoke(main, [*args, "--config", str(path)])


def test_cli_refuses_closing_twice_the_current_month_and_an_empty_one_with_exit_2(tmp_path, raw_config, env,
                                                                                  monkeypatch):
    raw, env = config(tmp_path, raw_config, env)
    cfg = parse_config(raw, env)
    run_sync(cfg, now=CLOSE_AT, sources=[Source(october_tasks())])  # data up to now: 2026-11 is still running
    monkeypatch.setenv("GITHUB_ACTOR", "octo-finance")
    first = cli(tmp_path, raw, env, monkeypatch, "close", "2026-10")
    assert first.exit_code == 0, first.output
    assert "closed 2026-10 (by octo-finance" in first.output and "2 Budget rollup rows frozen" in first.output
    for period, why in [("2026-10", "2026-10 is already closed (by octo-finance at "),
                        ("2099-11", "2099-11 has not ended yet"),
                        ("2026-08", "2026-08 has no Budget rollup rows"),
                        ("Q3", "'Q3' is not a budget period here")]:
        refused = cli(tmp_path, raw, env, monkeypatch, "close", period)
        assert refused.exit_code == 2 and refused.output.startswith(f"cannot close {period}: {why}"), refused.output
        assert "Traceback" not in refused.output
    not_closed = cli(tmp_path, raw, env, monkeypatch, "reopen", "2026-09", "--reason", "typo")
    assert not_closed.exit_code == 2 and "2026-09 is not closed" in not_closed.output
    no_reason = cli(tmp_path, raw, env, monkeypatch, "reopen", "2026-10")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    ok = cli(tmp_path, raw, env, monkeypatch, "reopen", "2026-10", "--reason", "late invoice", "--by", "Ben")
    assert ok.exit_code == 0 and "reopened 2026-10 (by Ben" in ok.output
    rows = XlsxSink(cfg.sink.path).read_tab(CLOSED_PERIODS)
    assert [r[1] for r in rows[1:]] == ["close", "close", "reopen"]


def test_the_current_month_is_refused_while_it_runs_in_the_configured_zone(tmp_path, raw_config, env):
    raw, env = config(tmp_path, raw_config, env)
    cfg = parse_config(raw, env)
    end_utc = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)  # 1 November 00:30 in Berlin: October has ended there
    run_sync(cfg, now=end_utc, sources=[Source(october_tasks())])
    assert change_period(cfg, "close", "2026-10", "ana", now=end_utc).run.mode == "close 2026-10"
    with pytest.raises(Exception, match="2026-11 has not ended yet"):
        change_period(cfg, "close", "2026-11", "ana", now=end_utc)


def test_by_defaults_to_the_github_actor_then_the_os_user(monkeypatch):
    assert default_actor({"GITHUB_ACTOR": "octocat"}) == "octocat"
    monkeypatch.setattr("getpass.getuser", lambda: "ana")
    assert default_actor({}) == "ana"


def test_a_closed_periods_tab_syncer_did_not_write_is_refused_not_ignored(xlsx):
    cfg, _ = xlsx
    wb = Workbook()
    wb.active.title = CLOSED_PERIODS
    wb.active.append(["Period", "Signed off by"])  # finance's own list under syncer's tab name
    wb.save(cfg.sink.path)
    with pytest.raises(SinkError, match="Closed periods"):
        run_sync(cfg, now=CLOSE_AT, sources=[Source(october_tasks())])
