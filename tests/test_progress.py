"""Progress (SPEC §2): a live line per phase on a terminal, one line per phase when piped, nothing with --quiet.

The sources report each page, the retry policy each wait; the CLI renders them on stderr (stdout keeps the summary).
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import threading
from pathlib import Path

import pytest
import responses
import yaml
from click.testing import CliRunner
from fake_asana import FakeAsana, populate
from fake_jira import FakeJira, source_config
from rich.console import Console
from test_asana_live import NOW as ASANA_NOW
from test_asana_live import settings as asana_settings

from syncer.cli import main
from syncer.config import parse_config
from syncer.ops.console import LiveLines, PhaseLines
from syncer.pipeline import run_sync
from syncer.retry import RetryPolicy
from syncer.sources.asana.source import AsanaSource

ISSUES, PAGE = 120, 40  # three search pages
PHASES = ["fetch web", "compute", "plan xlsx", "write xlsx"]
PHASE_LINE = re.compile(r"^(?P<phase>[a-z]+(?: [a-z]+)?): (?P<figures>.*?) ?\(\d+\.\d s\)$")


class Recorder:
    """A Progress that keeps every report, in order."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def start(self, phase):
        self.events.append(("start", phase))

    def page(self, tasks=0):
        self.events.append(("page", tasks))

    def request(self):
        self.events.append(("request",))

    def waited(self, seconds):
        self.events.append(("waited", seconds))

    def end(self, *, tasks=None, requests=None, rows=None):
        self.events.append(("end", tasks, requests, rows))


@pytest.fixture
def jira():
    site = FakeJira()
    site.populate(ISSUES, seed=3)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield site.install(rsps)


def _raw(site: FakeJira, tmp_path: Path) -> dict:
    return {"timezone": "Europe/Berlin", "sources": [source_config(site, page_size=PAGE)],
            "sink": {"kind": "xlsx", "path": str(tmp_path / "out.xlsx")},
            "state": {"path": str(tmp_path / "state.db")}}


def _config_file(site: FakeJira, tmp_path: Path) -> str:
    path = tmp_path / "syncer.yaml"
    path.write_text(yaml.safe_dump(_raw(site, tmp_path)), encoding="utf-8")
    return str(path)


def test_sources_report_each_page_and_the_policy_each_wait(jira, tmp_path):
    jira.fail("search", 429, times=1, headers={"Retry-After": "3"})
    seen, slept = Recorder(), []
    cfg = parse_config(_raw(jira, tmp_path), env={})
    policy = RetryPolicy(sleep=slept.append, on_attempt=seen.request, on_wait=seen.waited)
    result = run_sync(cfg, now=jira.now, policy=policy, progress=seen)
    assert slept == [3.0] and ("waited", 3.0) in seen.events
    fetch = seen.events[: seen.events.index(("start", "compute"))]
    pages = [e for e in fetch if e[0] == "page"]
    assert sum(e[1] for e in pages) == ISSUES  # every issue counted once, on its search page
    assert [e[1] for e in pages if e[1]] == [PAGE] * (ISSUES // PAGE)
    # Every request the source counts went through the policy, the retried one included.
    assert fetch.count(("request",)) == result.run.api_requests == sum(jira.calls.values())
    assert fetch[-1] == ("end", ISSUES, result.run.api_requests, None)
    assert [e[1] for e in seen.events if e[0] == "start"] == PHASES


def test_the_asana_source_reports_its_listing_pages(httpserver):
    fake = FakeAsana(httpserver)
    tasks = populate(fake, 23)
    cfg = asana_settings(fake.base_url, page_size=10)
    seen = Recorder()
    policy = RetryPolicy(sleep=lambda s: None, on_attempt=seen.request)
    src = AsanaSource(cfg.sources[0], cfg, where="sources[0]", policy=policy, progress=seen)
    result = src.read(None, ASANA_NOW)
    pages = [e for e in seen.events if e[0] == "page"]
    assert [e[1] for e in pages if e[1]] == [10, 10, 3] and sum(e[1] for e in pages) == len(tasks)
    assert len(pages) > 3  # stories and time entries are pages too (with no tasks on them)
    assert seen.events.count(("request",)) == result.requests


def test_a_terminal_gets_a_live_line_per_phase_that_grows_with_each_page(jira, tmp_path):
    jira.fail("search", 503, times=1)
    screen = io.StringIO()
    live = LiveLines(Console(file=screen, force_terminal=True, width=120, color_system=None), redraw_s=0)
    cfg = parse_config(_raw(jira, tmp_path), env={})
    policy = RetryPolicy(sleep=lambda s: None, on_attempt=live.request, on_wait=live.waited)
    live.bar.start()
    run_sync(cfg, now=jira.now, policy=policy, progress=live)
    live.bar.stop()
    drawn = screen.getvalue()
    assert "\x1b[2K" in drawn  # lines are redrawn in place
    # The fetch line as it grew: after the two look-up pages (fields, statuses), each search page adds 40 tasks.
    for n in (1, 2, 3):
        assert re.search(rf"fetch web +{n + 2} pages, {n * PAGE} tasks, \d+ requests, waited \d\.\d s on retries",
                         drawn), drawn[-2000:]
    final = drawn.rsplit("\x1b[2K", 1)[-1]
    assert re.search(rf"✓ fetch web +\d+ pages, {ISSUES} tasks, \d+ requests, waited", final)
    assert re.search(r"✓ write xlsx +\d[\d,]* rows", final)


def test_run_on_a_pseudo_terminal_draws_progress_on_stderr_and_the_summary_on_stdout(jira, tmp_path, monkeypatch,
                                                                                     capsys):
    config = _config_file(jira, tmp_path)
    master, slave = os.openpty()
    drawn = bytearray()
    reader = threading.Thread(target=_drain, args=(master, drawn), daemon=True)
    reader.start()
    with os.fdopen(slave, "w", encoding="utf-8") as tty:
        monkeypatch.setattr(sys, "stderr", tty)
        monkeypatch.setenv("TERM", "xterm-256color")
        with pytest.raises(SystemExit) as done:
            main(["run", "--config", config])
    assert done.value.code == 0
    reader.join(timeout=10)
    text = drawn.decode("utf-8", "replace")
    assert "\x1b[" in text and "fetch web" in text and f"{ISSUES} tasks" in text and "write xlsx" in text
    assert capsys.readouterr().out.startswith("syncer ")


def _drain(fd: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end closed
            return
        if not chunk:
            return
        into.extend(chunk)


def test_piped_output_gets_one_line_per_phase(jira, tmp_path):
    result = CliRunner().invoke(main, ["run", "--config", _config_file(jira, tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    matches = [PHASE_LINE.match(line) for line in lines]
    assert all(matches), lines
    assert [m["phase"] for m in matches] == PHASES
    assert re.fullmatch(rf"\d+ pages, {ISSUES} tasks, \d+ requests", matches[0]["figures"])
    assert "\x1b[" not in result.stderr
    assert result.stdout.startswith("syncer ") and "fetch web" not in result.stdout


@pytest.mark.parametrize("args", [["-q", "run"], ["--quiet", "run"], ["run", "--quiet"], ["run", "-q"]])
def test_quiet_prints_only_the_summary(jira, tmp_path, args):
    result = CliRunner().invoke(main, [*args, "--config", _config_file(jira, tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.startswith("syncer ") and f"{ISSUES} tasks" in result.stdout


def test_phase_lines_name_only_the_figures_a_phase_has():
    out = io.StringIO()
    ticks = iter([0.0, 0.0, 1.25, 1.25, 1.5])
    lines = PhaseLines(out, clock=lambda: next(ticks))
    lines.start("fetch web")
    lines.request()
    lines.page(tasks=1)
    lines.waited(2)
    lines.end(tasks=1, requests=3)
    lines.start("compute")
    lines.end()
    assert out.getvalue() == ("fetch web: 1 page, 1 task, 3 requests, waited 2.0 s on retries (1.2 s)\n"
                              "compute: (0.2 s)\n")


def test_syncer_fetch_reports_its_full_read_as_one_phase(jira, tmp_path):
    config = _config_file(jira, tmp_path)
    result = CliRunner().invoke(main, ["fetch", "--source", "web", "--out", str(tmp_path / "pages"), "--config",
                                       config])
    assert result.exit_code == 0, result.output
    (line,) = result.stderr.splitlines()
    m = PHASE_LINE.match(line)
    assert m and m["phase"] == "fetch web", line
    saved = int(re.search(r"saved (\d+) page", result.stdout)[1])
    assert m["figures"] == f"{saved} pages, {ISSUES} tasks, {sum(jira.calls.values())} requests"
    quiet = CliRunner().invoke(main, ["fetch", "-q", "--source", "web", "--out", str(tmp_path / "p2"), "--config",
                                      config])
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout.startswith("saved ")


def test_a_sheet_write_reports_its_requests_and_waits(fake, raw_config, env, tmp_path):
    """The sink's requests go through the same policy: the write phase counts them, a 429 wait included."""
    from test_gsheet_pipeline import EMAIL, Source, make_task

    raw_config["sources"] = [raw_config["sources"][0]]
    raw_config["state"] = {"path": str(tmp_path / "state.db")}
    raw_config["sink"] = {"kind": "gsheet", "spreadsheet_id": fake.id, "credentials": json.dumps(fake.share(EMAIL))}
    cfg = parse_config(raw_config, env)
    out, slept = io.StringIO(), []
    lines = PhaseLines(out)
    policy = RetryPolicy(sleep=slept.append, on_attempt=lines.request, on_wait=lines.waited)
    fake.fail("valuesBatchUpdate", 429, times=1, headers={"Retry-After": "2"})
    result = run_sync(cfg, sources=[Source([make_task("MKT-1"), make_task("MKT-2")])], policy=policy, progress=lines)
    phases = {m["phase"]: m["figures"] for m in map(PHASE_LINE.match, out.getvalue().splitlines())}
    assert list(phases) == ["fetch web", "compute", "plan gsheet", "write gsheet"]
    writes = fake.kinds()["batchUpdate"] + fake.kinds()["valuesBatchUpdate"]
    assert slept == [2.0] and writes >= 2  # the refused write, then the same write again
    assert phases["write gsheet"] == f"{result.plan.rows_written:,} rows, {writes} requests, waited 2.0 s on retries"


def test_a_live_line_is_drawn_at_most_every_tenth_of_a_second():
    screen = io.StringIO()
    ticks = iter(i * 0.01 for i in range(1000))  # 10 ms between reports
    live = LiveLines(Console(file=screen, force_terminal=True, width=80, color_system=None),
                     clock=lambda: next(ticks))
    drawn = []
    live.bar.refresh = lambda: drawn.append(live.figures.pages)  # type: ignore[method-assign]
    live.start("fetch web")
    for _ in range(100):
        live.page(tasks=1)
    assert 9 <= len(drawn) <= 11 and drawn == sorted(drawn)  # ~1 s of reports: about 10 drawings, in order
