"""The demo's month-end close as `make demo` runs it: October closed before two late edits, then the snapshot of
20 November shows them as adjustment rows; every spend control and the per-type intake rule fire."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

from syncer.cli import main
from syncer.config import load_config
from syncer.sources.replay import ReplaySource
from syncer.state import encode
from syncer.tables import BUDGET_ROLLUP, CAMPAIGNS, CLOSED_PERIODS, INTAKE, SYNC_LOG

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 20, 8, tzinfo=UTC)


def demo_config(tmp: Path, name: str) -> str:
    cfg = yaml.safe_load((ROOT / "config" / name).read_text())
    cfg["sink"]["path"], cfg["state"]["path"] = str(tmp / "demo.xlsx"), str(tmp / "state.db")
    path = tmp / name
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def tab(path: Path, title: str) -> list[dict]:
    rows = list(load_workbook(path)[title].iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The steps of `make demo` on a fresh workbook (Makefile `demo-close`, then the demo run), then once more."""
    tmp = tmp_path_factory.mktemp("demo-close")
    before, now = demo_config(tmp, "demo-before-close.yaml"), demo_config(tmp, "demo.yaml")
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        steps = [runner.invoke(main, ["run", "--config", before]),
                 runner.invoke(main, ["close", "2026-10", "--config", before, "--by", "Finance (demo)"])]
        frozen = tab(tmp / "demo.xlsx", BUDGET_ROLLUP)
        steps += [runner.invoke(main, ["run", "--config", now]), runner.invoke(main, ["run", "--config", now])]
    assert [s.exit_code for s in steps] == [0, 0, 0, 0], [s.output for s in steps]
    return tmp / "demo.xlsx", frozen, steps


def test_the_makefile_closes_october_on_the_before_close_config_once_per_fresh_workbook():
    make = (ROOT / "Makefile").read_text()
    assert "test -f out/demo.xlsx || $(MAKE) --no-print-directory demo-close" in make
    assert "syncer close 2026-10 --config config/demo-before-close.yaml" in make


def test_the_before_close_config_is_the_demo_but_for_its_jira_snapshot():
    demo, before = (yaml.safe_load((ROOT / "config" / n).read_text()) for n in ("demo.yaml", "demo-before-close.yaml"))
    assert before["sources"][0].pop("path") == "config/demo/jira-web-before-close"
    assert demo["sources"][0].pop("path") == "config/demo/jira-web"
    assert before == demo


@pytest.fixture(scope="module")
def late_edits():
    """The Jira tasks that differ between the two snapshots, as (before, now) pairs."""
    cfg = load_config(ROOT / "config/demo-before-close.yaml")
    now_cfg = load_config(ROOT / "config/demo.yaml")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        old = {t.key: t for t in ReplaySource(cfg.sources[0], cfg).read(None, NOW).tasks}
        new = {t.key: t for t in ReplaySource(now_cfg.sources[0], now_cfg).read(None, NOW).tasks}
    assert old.keys() == new.keys()
    return now_cfg, [(old[k], new[k]) for k in sorted(new) if encode(new[k])[0] != encode(old[k])[0]]


def test_the_two_jira_snapshots_differ_in_one_invoice_and_one_worklog(late_edits):
    cfg, changed = late_edits
    edits = sorted(((b.invoiced_amount or 0) - (a.invoiced_amount or 0), len(b.worklogs) - len(a.worklogs))
                   for a, b in changed)
    assert edits == [(0.0, 1), (350.0, 0)]
    (late,) = [b.worklogs for a, b in changed if len(b.worklogs) > len(a.worklogs)]
    assert ("2026-10-28", 3.0) in [(w.started_at.astimezone(cfg.tz).date().isoformat(), w.hours) for w in late]


def test_october_shows_as_frozen_and_the_late_edits_are_adjustment_rows_in_november(demo, late_edits):
    path, frozen, _ = demo
    cfg, changed = late_edits
    (invoiced,) = [b for a, b in changed if b.invoiced_amount != a.invoiced_amount]
    ((before, worked),) = [(a, b) for a, b in changed if len(b.worklogs) > len(a.worklogs)]
    (log,) = set(worked.worklogs) - set(before.worklogs)
    rows = tab(path, BUDGET_ROLLUP)
    october = [r for r in rows if r["Period"] == "2026-10"]
    assert october == [r for r in frozen if r["Period"] == "2026-10"] and october
    adjustments = {(r["Campaign"], r["Activity"], r["G/L account"]): r for r in rows if r["Adjusts"]}
    assert {(r["Period"], r["Adjusts"]) for r in adjustments.values()} == {("2026-11", "2026-10")}
    account = (invoiced.campaign, invoiced.activity, invoiced.gl_account)
    assert set(adjustments) == {account, (worked.campaign, worked.activity, worked.gl_account)}
    assert adjustments[account]["Invoiced"] == 350  # the corrected invoice, 350.00 higher
    rate = cfg.rates.people.get(log.author, cfg.rates.default)
    assert adjustments[(worked.campaign, worked.activity, worked.gl_account)]["Labour"] == round(3 * rate, 2)
    for r in adjustments.values():  # Remaining on a difference row follows the same formula
        assert round(r["Budgeted"] - r["Invoiced"] - r["Open commitments"] - r["Labour"], 2) == r["Remaining"]
    closed = tab(path, CLOSED_PERIODS)
    assert len(closed) == len(october) and {(r["Period"], r["Action"], r["By"]) for r in closed} == {
        ("2026-10", "close", "Finance (demo)")}
    for campaign in {r["Campaign"] for r in rows if r["Activity"] == "Total"}:  # every Total: its rows, to the cent
        detail = [r for r in rows if r["Campaign"] == campaign and r["Period"]]
        (total,) = [r for r in rows if r["Campaign"] == campaign and r["Activity"] == "Total"]
        assert round(sum(r["Remaining"] for r in detail), 2) == total["Remaining"]


def test_every_spend_control_and_the_events_rule_fire_in_the_demo(demo):
    path, _, _ = demo
    intake = tab(path, INTAKE)
    rules = {r["Rule"] for r in intake}
    assert {"po_over_planned", "invoice_over_po", "invoice_without_po", "po_before_approval"} <= rules
    assert any(r["Stage"] == "cancelled" and r["Rule"] == "po_before_approval" for r in intake)
    events = [r for r in intake if "for requests in category Events" in r["Problem"]]
    assert events and {r["Field"] for r in events} <= {"planned_cost", "gl_account", "brief"}
    assert any(re.search(r"Planned cost is missing \(required for requests in category Events\)\.$", r["Problem"])
               for r in events)


def test_a_second_demo_run_changes_nothing_but_the_sync_log(demo):
    path, _, steps = demo
    assert "rows written: 0 ->" in steps[-1].output
    assert [r["Mode"] for r in tab(path, SYNC_LOG)] == ["full", "close 2026-10", "full", "full"]
    assert [r["Rows written"] for r in tab(path, SYNC_LOG)][-1] == 0


def test_the_campaigns_tab_keeps_matching_the_budget_rollup_totals_with_adjustments(demo):
    path, _, _ = demo
    rows = tab(path, BUDGET_ROLLUP)
    totals = {r["Campaign"]: r for r in rows if r["Activity"] == "Total"}
    totals["Total"] = next(r for r in rows if r["Campaign"] == "Total" and r["Activity"] is None)
    campaigns = tab(path, CAMPAIGNS)
    assert any(r["Adjusts"] for r in rows) and {r["Campaign"] for r in campaigns} <= set(totals)
    for c in campaigns:
        t = totals[c["Campaign"]]
        assert [c[k] for k in ("Budgeted", "Planned", "Open commitments", "Remaining", "Used %")] == [
            t[k] for k in ("Budgeted", "Planned", "Open commitments", "Remaining", "Used %")], c["Campaign"]
        assert c["Spent"] == round(t["Invoiced"] + t["Labour"], 2), c["Campaign"]  # labour counts in the demo
