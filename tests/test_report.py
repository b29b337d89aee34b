"""`syncer report` (SPEC §2, §10): the weekly review from the state file alone, in text and markdown."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import polars as pl
import pytest
import yaml
from click.testing import CliRunner
from test_demo_e2e import demo_keys
from test_weekly import AS_OF, config, scenario

from syncer.cli import main
from syncer.config import load_config
from syncer.domain.figures import task_figures
from syncer.domain.review_notes import SEPARATOR
from syncer.ops import report
from syncer.pipeline import run_sync
from syncer.state import State
from syncer.tables import CAPACITY, FLOW_METRICS, WEEKLY_REVIEW

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("What moved", "What got stuck", "What caused rework", "What to look at next")


def demo_config(tmp: Path) -> Path:
    cfg = yaml.safe_load((ROOT / "config/demo.yaml").read_text())
    for src in cfg["sources"]:
        src["path"] = str(ROOT / src["path"])
    cfg["budget"]["file"] = str(ROOT / cfg["budget"]["file"])
    cfg["sink"]["path"] = str(tmp / "demo.xlsx")
    cfg["state"]["path"] = str(tmp / "state.db")
    path = tmp / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo synced twice; the second run's plan (nothing changed in between)."""
    tmp = tmp_path_factory.mktemp("report")
    path = demo_config(tmp)
    first = CliRunner().invoke(main, ["run", "--config", str(path)])
    assert first.exit_code == 0, first.output
    second = run_sync(load_config(path))
    return path, first, second


@pytest.fixture
def offline(monkeypatch):
    """No source may be constructed and no connection opened."""
    def refuse(*args, **kwargs):
        raise AssertionError("syncer report must not reach a source or the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr("syncer.pipeline.source_class", refuse)
    monkeypatch.setattr("syncer.pipeline.make_sources", refuse)


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, ["report", *args], env=env)


def split_sections(out: str) -> dict[str, str]:
    """Section title -> its text, for text (UPPER CASE headings) and markdown (### headings)."""
    parts: dict[str, str] = {}
    current = None
    for line in out.splitlines():
        title = line.removeprefix("### ")
        named = next((s for s in SECTIONS if title.upper().startswith(s.upper())), None)
        if named and (line.startswith("### ") or line.isupper()):
            current = named
            parts[current] = ""
        elif current:
            parts[current] += line + "\n"
    return parts


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_demo_report_names_real_tasks_in_every_section(demo, offline, fmt):
    path, _, _ = demo
    done = invoke("--config", str(path), "--format", fmt)
    assert done.exit_code == 0, done.output
    assert "Weekly review 2026-W46" in done.output  # the snapshot is of Friday 20 Nov: last complete week is 46
    keys = {k for _, k in demo_keys()}
    parts = split_sections(done.output)
    assert list(parts) == list(SECTIONS)
    for title, text in parts.items():
        named = {k for k in re.findall(r"[\w-]+", text) if k in keys}
        assert named, f"{title} names no demo task:\n{text}"


def test_report_agrees_with_the_weekly_review_tab(demo, offline):
    path, _, second = demo
    review = report.build_review(load_config(path))
    tab = [r for r in second.tables[WEEKLY_REVIEW] if r[0] == "2026-W46"]
    assert [r[1] for r in tab] == [r["Team"] for r in review.rows] == ["All", "content", "web"]
    completed = review.moved.filter(review.moved["what"] == "completed")
    assert completed.height == tab[0][2] and review.rework.height == tab[0][6]
    assert review.notes == tab[0][15].split(SEPARATOR)
    assert (review.stuck["reason"] == "overdue").sum() == tab[0][10]


def test_markdown_tables_and_lists_are_well_formed(demo, offline):
    path, _, _ = demo
    out = invoke("--config", str(path), "--format", "markdown").output
    check_markdown(out)


def check_markdown(out: str) -> None:
    lines = out.splitlines()
    assert lines[0].startswith("## Weekly review")
    tables = 0
    for i, line in enumerate(lines):
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line)
            assert cells[0] == "" and cells[-1] == "", line  # starts and ends with an unescaped pipe
            if i and not lines[i - 1].startswith("|"):  # a table's header: its separator row follows
                tables += 1
                width = len(cells)
                assert re.fullmatch(r"\|(---\|)+", lines[i + 1]) and lines[i + 1].count("|") == width - 1
            assert len(cells) == width, line
        elif line.strip():
            assert line.startswith(("## ", "### ", "_", "- ", "  - ")) or line[0].isdigit() or line[0].isupper(), line
    assert tables >= 2


def test_no_hours_per_person(demo, offline):
    path, _, _ = demo
    for fmt in ("text", "markdown"):
        out = invoke("--config", str(path), "--format", fmt).output
        for line in out.splitlines():
            if "@" in line:  # a line naming a person never carries hours
                assert not re.search(r"\d h\b|Logged|Utilization|Capacity", line), line


def test_unchanged_rerun_changes_no_weekly_review_row(demo):
    _, first, second = demo
    assert re.search(r"tab Weekly review\s+changed: \+\d+ added", first.output)
    change = second.plan.tabs[WEEKLY_REVIEW]
    assert (change.added, change.changed, change.removed) == (0, 0, 0)


def test_past_week_and_bad_weeks(demo, offline):
    path, _, _ = demo
    past = invoke("--config", str(path), "--week", "2026-W44")
    assert past.exit_code == 0 and "Weekly review 2026-W44" in past.output
    running = invoke("--config", str(path), "--week", "2026-W47")
    assert "reads so far" in running.output and "what got stuck (so far)" in running.output.lower()
    for bad, says in (("2026-W60", "expected an ISO week"), ("2025-W53", "expected an ISO week"),
                      ("2026-W49", "has not begun")):
        done = invoke("--config", str(path), "--week", bad)
        assert done.exit_code == 2 and says in done.output, done.output


def test_no_state_yet_is_a_clear_error_and_an_annotation_in_actions(tmp_path, offline):
    path = demo_config(tmp_path)
    done = invoke("--config", str(path), env={"GITHUB_ACTIONS": "true"})
    assert done.exit_code == 2
    message = (f"report: the state file {tmp_path / 'state.db'} holds no tasks of the configured sources "
               "(content, web) yet: run `syncer run` first")
    assert message in done.output
    assert f"::error title=syncer report failed::{message}" in done.output
    assert not (tmp_path / "state.db").exists()  # reading created nothing
    assert "::error" not in invoke("--config", str(path)).output  # outside Actions: the message only


def test_source_text_is_escaped_in_markdown():
    tasks = scenario()
    for t in tasks:
        t.title = f"Ads | {t.key} *bold* [link](x)"
        t.owner = "Zoë | Ops_Team"
    review = report.review_of(tasks, config(), "2026-W43", AS_OF)
    out = report.FORMATS["markdown"](review)
    check_markdown(out)
    assert r"Ads \| MKT-1 \*bold\* \[link\](x) — Zoë \| Ops\_Team" in out
    text = report.FORMATS["text"](review)
    assert "Ads | MKT-1 *bold* [link](x) — Zoë | Ops_Team" in text
    # Week 43 of the hand-computed scenario: MKT-4 blocked and overdue at the week's end, MKT-2 overdue,
    # MKT-1 back from review twice and MKT-2 back from done.
    parts = split_sections(text)
    assert "Blocked: 1" in parts["What got stuck"] and "Overdue: 2" in parts["What got stuck"]
    assert "Uncategorised: 3 went back (2 from review, 1 from done)" in parts["What caused rework"]
    assert "Budget flags not shown: no budget is configured." in parts["What to look at next"]


def test_state_is_only_read(demo, offline):
    path, _, _ = demo
    cfg = load_config(path)
    before = State(cfg.state.path, read_only=True)
    runs = before.db.execute("SELECT count(*) FROM runs").fetchone()
    before.close()
    assert invoke("--config", str(path)).exit_code == 0
    after = State(cfg.state.path, read_only=True)
    assert after.db.execute("SELECT count(*) FROM runs").fetchone() == runs
    after.close()


def test_what_got_stuck_is_judged_at_the_weeks_end():
    from test_weekly import at, task

    from syncer.domain.frames import frames_from_tasks
    from syncer.domain.periods import LocalCalendar
    from syncer.domain.review import Week, frames_at, stuck_at
    from syncer.model import Spell, Stage

    B, P, R, X, D, C = (Stage.BACKLOG, Stage.IN_PROGRESS, Stage.REVIEW, Stage.BLOCKED, Stage.DONE,
                        Stage.CANCELLED)
    tasks = [
        task("MKT-10", at(10, 19), B, [(at(10, 20), P)], depends_on=("MKT-11", "MKT-12", "MKT-13")),
        task("MKT-11", at(10, 19), R, []),  # still in review at the week's end: MKT-10 waits on it
        task("MKT-12", at(10, 19), P, [(at(10, 21), D)]),  # done: not waited on
        task("MKT-13", at(10, 19), P, [(at(10, 21), C)]),  # cancelled: not waited on
        # In review since 1 Oct (stale) and flagged from Saturday 24 Oct 10:00 UTC over the week's end.
        task("MKT-14", at(9, 30), P, [(at(10, 1), R)], flagged=[Spell(at(10, 24, 10), at(10, 27))]),
        # Flagged until exactly the week's end (Sunday 23:00 UTC): still flagged at it.
        task("MKT-15", at(10, 19), P, [], flagged=[Spell(at(10, 20), at(10, 25, 23))]),
        task("MKT-16", at(10, 19), P, [(at(10, 22), X), (at(10, 26), P)]),  # blocked at the end, not a day later
    ]
    figs = {(t.source, t.key): task_figures(t, AS_OF, config().tz) for t in tasks}
    frames = frames_from_tasks(tasks, figs, {})
    cal = LocalCalendar(config().tz)
    got = stuck_at(frames, Week.of("2026-W43", AS_OF, cal), config())
    assert got.select("reason", "key", "days", "detail").rows() == [
        ("blocked", "MKT-15", 5.58, "flagged as impediment"),  # 20 Oct 09:00 -> 25 Oct 23:00 UTC
        ("blocked", "MKT-16", 3.58, "status 'blocked'"),  # its status then, not today's
        ("blocked", "MKT-14", 1.54, "flagged as impediment"),
        ("waiting on", "MKT-10", None, "MKT-11"),
        ("stale", "MKT-14", 24.58, None),
    ]
    then = frames_at(frames, at(10, 25, 23)).tasks.filter(pl.col("key").is_in(["MKT-16", "MKT-12", "MKT-15"]))
    assert then.sort("key").select("key", "stage", "status").rows() == [  # status as it stood then, not today's
        ("MKT-12", "done", "done"), ("MKT-15", "in_progress", "in_progress"), ("MKT-16", "blocked", "blocked")]
    later = stuck_at(frames, Week.of("2026-W44", AS_OF, cal), config())
    # A week later (1 Nov 23:00 UTC): no flag and nothing blocked; more than 10 days without a change for MKT-10
    # (12.6 d), MKT-11 and MKT-15 (since creation, 13.6 d) and MKT-14.
    assert set(later.select("reason", "key").rows()) == {
        ("waiting on", "MKT-10"), ("stale", "MKT-10"), ("stale", "MKT-11"), ("stale", "MKT-14"), ("stale", "MKT-15")}


def test_weekly_review_agrees_with_flow_metrics_and_capacity(demo):
    _, _, second = demo
    tables = second.tables
    weekly = [dict(zip(tables[WEEKLY_REVIEW][0], r, strict=True)) for r in tables[WEEKLY_REVIEW][1:]]
    throughput = {r[0]: r[3] for r in tables[FLOW_METRICS][1:] if r[1:3] == ["All", "All"] and "W" in r[0]}
    logged = {(r[0], r[1]): r[4] for r in tables[CAPACITY][1:] if r[2:4] == ["All", "All"]}
    teams: dict[str, int] = {}
    for r in weekly:
        if r["Team"] == "All":
            assert r["Completed"] == throughput.get(r["Week"], 0), r["Week"]
        else:
            assert r["Logged h"] == logged.get((r["Week"], r["Team"])), (r["Week"], r["Team"])
            teams[r["Week"]] = teams.get(r["Week"], 0) + r["Completed"]
    assert teams == {r["Week"]: r["Completed"] for r in weekly if r["Team"] == "All"}
    assert len(weekly) > 60 and any(r["Notes"] is None for r in weekly) and any(r["Notes"] for r in weekly)


def test_budget_flags_are_those_the_sheet_shows_after_a_close(tmp_path, monkeypatch):
    """A closed month stays as frozen in the report too; a later change is an adjustment row (SPEC §11)."""
    from openpyxl import load_workbook

    path = demo_config(tmp_path)
    cfg = yaml.safe_load(path.read_text())
    budget = tmp_path / "budget.csv"
    budget.write_text((ROOT / cfg["budget"]["file"]).read_text())
    cfg["budget"]["file"] = str(budget)
    path.write_text(yaml.safe_dump(cfg))
    runner = CliRunner()
    assert runner.invoke(main, ["run", "--config", str(path)]).exit_code == 0
    closed = runner.invoke(main, ["close", "2026-10", "--config", str(path), "--by", "finance"])
    assert closed.exit_code == 0, closed.output
    line = "Q4 Webinars,Content,6300 Content production,2026-10,"
    budget.write_text(budget.read_text().replace(line + "12600", line + "26000"))  # after the close
    assert runner.invoke(main, ["run", "--config", str(path)]).exit_code == 0
    sheet = list(load_workbook(tmp_path / "demo.xlsx")["Budget rollup"].iter_rows(values_only=True))
    header, rows = sheet[0], [dict(zip(sheet[0], r, strict=True)) for r in sheet[1:]]
    pick = ("Campaign", "Activity", "G/L account", "Period", "Remaining")
    shown = {tuple(r[c] for c in pick) for r in rows if r["Flag"] == "over"
             and (r["Activity"] == "Total" or r["Period"] in ("2026-10", "2026-11"))}
    review = report.build_review(load_config(path), "2026-W44")  # 26 Oct - 1 Nov: October and November
    assert {tuple(r[c] for c in pick) for r in review.budget_over} == shown
    frozen = ("Q4 Webinars", "Content", "6300 Content production", "2026-10", -2491.0)
    assert frozen in shown  # still over as closed, though the live ledger would now say ok
    assert "Adjusts" in header and any(r["Adjusts"] == "2026-10" for r in rows)


def test_delayed_campaigns_are_listed_under_what_to_look_at_next():
    from dataclasses import replace

    review = report.review_of(scenario(), config(), "2026-W43", AS_OF)
    late = [{"Campaign": "Spring | EU", "Schedule": "delayed", "Open": 3, "Overdue": 1, "Last due": "2026-10-30",
             "Forecast p50": "2026-11-20"}, {"Campaign": "Brand", "Schedule": "at risk", "Open": 2, "Overdue": 0,
                                             "Last due": "2026-12-01", "Forecast p50": None}]
    text = report.FORMATS["text"](replace(review, campaigns=late))
    assert ("  Campaigns delayed or at risk:\n"
            "    - Spring | EU: delayed (open 3, overdue 1, last due 2026-10-30, forecast p50 2026-11-20)\n"
            "    - Brand: at risk (open 2, overdue 0, last due 2026-12-01, forecast p50 –)") in text
    markdown = report.FORMATS["markdown"](replace(review, campaigns=late))
    assert r"  - Spring \| EU: delayed" in markdown
    check_markdown(markdown)


def test_the_running_week_is_stuck_exactly_as_the_attention_tab_says(demo, offline):
    from syncer.domain.review import STUCK_REASONS
    from syncer.tables import ATTENTION

    path, _, second = demo
    review = report.build_review(load_config(path), "2026-W47")  # the week of the snapshot: judged at its time
    assert not review.week.complete
    tab = [r for r in second.tables[ATTENTION][1:] if r[0] in STUCK_REASONS]
    assert review.stuck.select("reason", "source", "key", "days", "detail").rows() == [
        (r[0], r[1], r[2], r[8], r[10]) for r in tab]
    assert {r[0] for r in tab} == set(STUCK_REASONS)  # the demo shows every reason
    schedules = [c["Schedule"] for c in review.campaigns]
    assert schedules == sorted(schedules, key=report.LATE_SCHEDULES.index) and "delayed" in schedules
