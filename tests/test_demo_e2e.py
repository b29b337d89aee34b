"""`make demo` end to end: the CLI syncs the bundled demo into a workbook, read back and recomputed independently."""

from __future__ import annotations

import csv
import json
import statistics
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

from syncer.cli import main
from syncer.domain.attention import REASONS
from syncer.tables import (
    ATTENTION,
    BUDGET_ROLLUP,
    CAMPAIGNS,
    CAPACITY,
    CLOSED_PERIODS,
    DASHBOARD,
    FLOW_METRICS,
    HEADERS,
    INTAKE,
    OWNED_TABS,
    SYNC_LOG,
    TASKS,
)

ROOT = Path(__file__).resolve().parents[1]
CENT = 0.005


def demo_keys() -> set[tuple[str, str]]:
    """Every task key in the raw demo pages, read straight from the JSON (not through syncer's mapping)."""
    keys = set()
    for folder, source in (("jira-web", "web"), ("asana-content", "content")):
        manifest = json.loads((ROOT / "config/demo" / folder / "manifest.json").read_text())
        for page in manifest["pages"]:
            body = json.loads((ROOT / "config/demo" / folder / page["file"]).read_text())
            if page["endpoint"].endswith("/search/jql"):
                keys |= {(source, i["key"]) for i in body["issues"]}
            elif page["endpoint"].endswith("/tasks"):
                keys |= {(source, t["gid"]) for t in body["data"]}
    return keys


def read(path: Path) -> dict[str, list[dict]]:
    wb = load_workbook(path)
    out = {}
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        if ws.title == DASHBOARD:  # label/value pairs, then the charts' tables: kept as rows
            out[ws.title] = [list(r) for r in rows]
            continue
        out[ws.title] = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
        assert list(rows[0]) == HEADERS[ws.title], ws.title
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    cfg = yaml.safe_load((ROOT / "config/demo.yaml").read_text())
    cfg["sink"]["path"] = str(tmp / "demo.xlsx")
    cfg["state"]["path"] = str(tmp / "state.db")
    path = tmp / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        first = runner.invoke(main, ["run", "--config", str(path)])
        wb1 = read(tmp / "demo.xlsx")
        second = runner.invoke(main, ["run", "--config", str(path)])
    return cfg, first, second, wb1, read(tmp / "demo.xlsx")


def test_demo_writes_every_task_and_a_summary(demo):
    cfg, first, _, wb, _ = demo
    assert first.exit_code == 0, first.output
    assert {(r["Source"], r["Key"]) for r in wb[TASKS]} == demo_keys()
    assert len(wb[TASKS]) == len(demo_keys()) >= 200
    for phrase in ("source web", "source content", "stages: intake", "tab Tasks", "rows written",
                   "budget remaining by campaign", "intake violations", "median cycle time"):
        assert phrase in first.output
    assert set(wb) == {*OWNED_TABS, SYNC_LOG} - {CLOSED_PERIODS}  # that one comes with the first close


def test_second_run_changes_nothing_and_leaves_tasks_identical(demo):
    _, _, second, wb1, wb2 = demo
    assert second.exit_code == 0, second.output
    assert "fetched 240, changed 0, deleted 0" in second.output
    assert "rows written: 0" in second.output
    for tab in (TASKS, BUDGET_ROLLUP, FLOW_METRICS, CAPACITY, INTAKE):
        assert wb1[tab] == wb2[tab], tab
    assert len(wb2[SYNC_LOG]) == 2 and wb2[SYNC_LOG][1]["Changed"] == 0


def test_formula_title_is_text(demo):
    titles = [r["Title"] for r in demo[3][TASKS]]
    assert any(t.startswith("=") for t in titles)  # read back as the string, not a formula result


def _sum(rows, col):
    return sum(r[col] or 0 for r in rows)


def test_budget_rollup_matches_tasks_tab_and_budget_csv(demo):
    cfg, _, _, wb, _ = demo
    tasks, ledger = wb[TASKS], wb[BUDGET_ROLLUP]
    grand = [r for r in ledger if r["Campaign"] == "Total"]
    assert len(grand) == 1
    grand = grand[0]
    budget = list(csv.DictReader((ROOT / cfg["budget"]["file"]).open(encoding="utf-8")))
    assert grand["Budgeted"] == pytest.approx(sum(float(b["Amount"]) for b in budget), abs=CENT)
    # Each task's amounts land once in the ledger; rounding is per written row, so allow a cent per task.
    n = len(tasks)
    for task_col, ledger_col in (("Planned", "Planned"), ("Committed", "Committed"), ("Invoiced", "Invoiced"),
                                 ("Labour cost", "Labour")):
        assert grand[ledger_col] == pytest.approx(_sum(tasks, task_col), abs=0.01 * n), ledger_col
    by_campaign = defaultdict(float)
    for t in tasks:
        by_campaign[t["Campaign"] or "Unallocated"] += t["Planned"] or 0
    for r in ledger:
        if r["Activity"] == "Total" and r["Campaign"] != "Total":
            assert r["Planned"] == pytest.approx(by_campaign[r["Campaign"]], abs=0.01 * n), r["Campaign"]
    for r in ledger:  # SPEC §8 identity on every written row (labour_in_budget: true in the demo)
        expected = r["Budgeted"] - r["Invoiced"] - r["Open commitments"] - r["Labour"]
        assert r["Remaining"] == pytest.approx(expected, abs=0.02), r
        assert r["Flag"] == ("over" if r["Remaining"] < 0 else "at risk" if r["Planned"] > r["Budgeted"] else "ok")


def _month(iso: str | None) -> str | None:
    return iso[:7] if iso else None


def test_flow_metrics_match_tasks_tab(demo):
    wb = demo[3]
    tasks = wb[TASKS]
    rows = {(r["Period"], r["Source"], r["Category"]): r for r in wb[FLOW_METRICS]}
    completed = defaultdict(list)
    for t in tasks:
        if t["Completed"]:
            completed[_month(t["Completed"])].append(t)
    assert completed
    for month, done in completed.items():
        row = rows[(month, "All", "All")]
        assert row["Throughput"] == len(done)
        cycles = [t["Cycle days"] for t in done]
        assert row["Cycle p50"] == pytest.approx(statistics.median(cycles), abs=0.01)
        assert row["Rework rate"] == pytest.approx(sum(t["Reworked"] for t in done) / len(done), abs=1e-4)
        with_due = [t for t in done if t["Due"]]
        if with_due:
            assert row["Late rate"] == pytest.approx(sum(t["Late"] for t in with_due) / len(with_due), abs=1e-4)
    created = defaultdict(list)
    for t in tasks:
        created[_month(t["Created"])].append(t)
    for month, made in created.items():
        assert rows[(month, "All", "All")]["Intake complete"] == pytest.approx(
            sum(bool(t["Intake OK"]) for t in made) / len(made), abs=1e-4)


def test_intake_tab_lists_exactly_the_tasks_not_ok(demo):
    wb = demo[3]
    not_ok = {(t["Source"], t["Key"]) for t in wb[TASKS] if t["Intake OK"] is False}
    assert not_ok == {(r["Source"], r["Key"]) for r in wb[INTAKE]}
    assert all(t["Intake OK"] in (True, False) for t in wb[TASKS])
    rules = {r["Rule"] for r in wb[INTAKE]}
    assert "amount_unparseable" in rules and "required" in rules


def test_capacity_logged_hours_match_tasks_tab(demo):
    wb = demo[3]
    weekly_all = [r for r in wb[CAPACITY] if r["Category"] == "All" and r["Person"] == "All"]
    assert _sum(weekly_all, "Logged h") == pytest.approx(_sum(wb[TASKS], "Logged h"), abs=0.01 * len(wb[TASKS]))
    for r in wb[CAPACITY]:
        assert r["Overloaded"] == (r["Utilization"] > 1)
        assert datetime.strptime(r["Week"] + "-1", "%G-W%V-%u")


def test_demo_shows_every_schedule_verdict_and_every_attention_reason(demo):
    _, first, _, wb, _ = demo
    assert {r["Schedule"] for r in wb[CAMPAIGNS] if r["Campaign"] != "Total"} == {"done", "delayed", "at risk",
                                                                                   "on track"}
    assert [r["Reason"] for r in wb[ATTENTION]] == sorted((r["Reason"] for r in wb[ATTENTION]), key=REASONS.index)
    assert set(REASONS) == {r["Reason"] for r in wb[ATTENTION]}
    assert any(r["Reason"] == "blocked" and r["Detail"] == "flagged as impediment" for r in wb[ATTENTION])
    delayed = ", ".join(r["Campaign"] for r in wb[CAMPAIGNS] if r["Schedule"] == "delayed")
    assert f"campaigns delayed: {delayed}" in first.output and "campaigns at risk: Analyst Day" in first.output
    counts = {reason: sum(r["Reason"] == reason for r in wb[ATTENTION]) for reason in REASONS}
    assert "attention: " + ", ".join(f"{k} {v}" for k, v in counts.items()) in first.output


def test_the_workbook_opens_on_the_dashboard_with_its_five_charts_and_coloured_verdicts(demo):
    cfg, *_ = demo
    wb = load_workbook(Path(cfg["sink"]["path"]))
    assert wb.sheetnames[0] == DASHBOARD  # a new workbook: the Dashboard first
    charts = wb[DASHBOARD]._charts
    assert len(charts) == 5
    rules = {str(rule.formula) for cf in wb[CAMPAIGNS].conditional_formatting for rule in cf.rules}
    assert {"['\"delayed\"']", "['\"at risk\"']", "['\"over\"']"} <= rules
    assert any("TRUE" in str(r.formula) for cf in wb[CAPACITY].conditional_formatting for r in cf.rules)
