"""Runs that go wrong on the way (a full disk, a read-only folder, a rejected token, a save cut short): each ends with
its own message and exit code, no traceback even at interpreter exit, and nothing of the last good run lost."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from page_sets import ROOT, pages_of, setup, state_dump, sync, sync_log_warnings, task_rows
from requests import Response

from syncer.config import parse_config
from syncer.errors import SinkError
from syncer.retry import RetryPolicy
from syncer.sinks.xlsx import XlsxSink
from syncer.sources.jira.client import DETAIL_CHARS, JiraClient

TESTS = Path(__file__).resolve().parent


@pytest.fixture
def good(tmp_path: Path) -> Path:
    config = setup(tmp_path)
    assert sync(config).exit_code == 0
    return config


def python(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run a script in a fresh interpreter (what a user's shell does), so what happens at exit is seen too."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)


def test_a_full_disk_gives_one_message_and_no_traceback_at_exit(tmp_path: Path):
    """The output disk fills up while the workbook is written: before, ZipFile.__del__ printed a traceback."""
    done = python("""
        import errno, sys
        from pathlib import Path
        from tables_builders import tables, task
        import syncer.sinks.xlsx as xlsx
        import syncer.sinks.xlsx_parts as parts
        from syncer.errors import SinkError

        class FullDisk:
            def __init__(self, real): self.real, self.room = real, 2000
            def write(self, data):
                if len(data) > self.room: raise OSError(errno.ENOSPC, "No space left on device")
                self.room -= len(data); return self.real.write(data)
            def __getattr__(self, name): return getattr(self.real, name)
            def __enter__(self): return self
            def __exit__(self, *exc): self.real.close()

        real_open = open
        parts.open = lambda *a, **k: FullDisk(real_open(*a, **k))  # where the workbook is written
        sink = xlsx.XlsxSink(Path(sys.argv[1]))
        plan = sink.plan(tables(*[task(f"MKT-{i}", "x" * 300) for i in range(500)]))
        try:
            sink.apply(plan, ["2026-01-01", "full", 1, 1, 0, 0, 0, "", "0.1"])
        except SinkError as e:
            print(e)
    """, str(tmp_path / "ops.xlsx"))
    assert "No space left on device" in done.stdout, done.stderr
    assert done.stderr == ""
    assert os.listdir(tmp_path) == []  # no half-written temp file either


def test_a_rejected_asana_token_exits_2_without_a_traceback_at_exit(tmp_path: Path, httpserver):
    httpserver.expect_request("/projects/1201/tasks").respond_with_json(
        {"errors": [{"message": "Not Authorized"}]}, status=401)
    (tmp_path / "syncer.yaml").write_text(textwrap.dedent(f"""
        sources:
          - {{name: content, kind: asana, token: tok-asana-123456, projects: ["1201"],
              base_url: "{httpserver.url_for('')}"}}
        sink: {{kind: xlsx, path: {tmp_path}/out.xlsx}}
        state: {{path: {tmp_path}/state.db}}
    """), encoding="utf-8")
    done = python("import sys; from syncer.cli import main; main(['run', '--config', sys.argv[1]])",
                  str(tmp_path / "syncer.yaml"))
    assert done.returncode == 2
    assert "sources[0].token: Asana refused GET /projects/1201/tasks (HTTP 401: Not Authorized)" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_a_read_only_output_folder_names_the_real_reason(good: Path, monkeypatch: pytest.MonkeyPatch):
    """On a read-only disk even removing the temp file that was never made fails; that must not hide the reason."""
    import syncer.sinks.xlsx_parts as parts  # where the workbook is written

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    tmp = good.parent
    before, rows = state_dump(tmp), task_rows(tmp)
    (tmp / "jira" / "0001.json").touch()  # something to sync: the run reaches the sink
    monkeypatch.setattr(parts, "open", read_only, raising=False)
    monkeypatch.setattr(Path, "unlink", read_only)
    done = sync(good, "--full")
    assert done.exit_code == 1, done.output
    assert f"sync failed: cannot write {tmp}/out.xlsx: Read-only file system" in done.output
    assert "unexpected" not in done.output
    monkeypatch.undo()
    assert state_dump(tmp) == before and task_rows(tmp) == rows


def test_a_read_only_state_folder_names_the_state_path(good: Path, monkeypatch: pytest.MonkeyPatch):
    import syncer.state as state

    real = os.open

    def no_lock(path, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise OSError(errno.EROFS, "Read-only file system")
        return real(path, *args, **kwargs)

    before = state_dump(good.parent)
    monkeypatch.setattr(state.os, "open", no_lock)
    done = sync(good)
    assert done.exit_code == 1 and "state.path: cannot create the lock file" in done.output, done.output
    assert "Read-only file system" in done.output and "unexpected" not in done.output
    monkeypatch.undo()
    assert state_dump(good.parent) == before


def test_a_save_killed_midway_leaves_a_temp_file_the_next_run_removes(good: Path):
    tmp = good.parent
    stale = tmp / ".out.xlsx.0badc0de.tmp"
    stale.write_bytes(b"PK half a workbook from a killed run")
    assert sync(good, "--full").exit_code == 0
    assert not stale.exists() and sorted(p.name for p in tmp.iterdir() if p.name.startswith(".")) == []


def test_a_symlinked_workbook_is_written_through_the_link(tmp_path: Path):
    config = setup(tmp_path)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "ops.xlsx").write_bytes(b"")
    tree = config.read_text(encoding="utf-8").replace(f"{tmp_path}/out.xlsx", f"{tmp_path}/link.xlsx")
    config.write_text(tree, encoding="utf-8")
    (tmp_path / "link.xlsx").symlink_to(tmp_path / "shared" / "ops.xlsx")
    (tmp_path / "shared" / "ops.xlsx").unlink()  # a link to a file that is not there yet: syncer creates it
    assert sync(config).exit_code == 0
    assert (tmp_path / "link.xlsx").is_symlink()
    assert (tmp_path / "shared" / "ops.xlsx").stat().st_size > 1000
    assert sync(config, "--full").exit_code == 0 and (tmp_path / "link.xlsx").is_symlink()


def test_xlsx_sink_keeps_a_symlink_when_replacing(tmp_path: Path):
    from tables_builders import tables, task

    real = tmp_path / "real.xlsx"
    link = tmp_path / "link.xlsx"
    link.symlink_to(real)
    sink = XlsxSink(link)
    for key in ("MKT-1", "MKT-2"):
        sink.apply(sink.plan(tables(task(key))), ["2026-01-01", "full", 1, 1, 0, 0, 0, "", "0.1"])
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert XlsxSink(real).read_tab("Tasks")[1][1] == "MKT-2"


def test_jira_error_text_is_redacted_before_it_is_cut():
    """A token echoed right at the cut: before, the message showed the token minus its last character."""
    from jira import JIRAError

    token = "tok-jira-SECRET-0123456789"
    cfg = parse_config({"sources": [{"name": "web", "kind": "jira", "url": "https://acme.atlassian.net",
                                     "email": "ops@acme.com", "token": token, "jql": "project = MKT"}],
                        "sink": {"kind": "xlsx", "path": "out.xlsx"}}, env={})
    client = JiraClient(cfg.sources[0], "sources[0]", RetryPolicy())
    text = "x" * (DETAIL_CHARS - len(token) + 1) + token + " was not accepted"
    err = client.error("GET /rest/api/3/myself", JIRAError(status_code=403, text=text, response=Response()))
    assert "HTTP 403 (xxx" in str(err) and token[:-1] not in str(err) and token[:8] not in str(err)


def test_a_replay_missing_a_page_deletes_nothing_and_says_so(good: Path):
    """Page 2 of the search is gone while page 1 still has its nextPageToken: its issues stay, with a warning."""
    tmp = good.parent
    manifest, bodies = pages_of(tmp / "jira")
    rows = task_rows(tmp)
    second = next(i for i, e in enumerate(manifest["pages"]) if e["params"].get("nextPageToken"))
    lost = {("web", issue["key"]) for issue in bodies[second]["issues"]}
    import json

    manifest["pages"].pop(second)
    (tmp / "jira" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    done = sync(good, "--full")
    assert done.exit_code == 0, done.output
    after = task_rows(tmp)
    assert lost and lost <= set(after) and set(after) == set(rows)
    warnings = sync_log_warnings(tmp)
    assert "promises a next page (nextPageToken 'tok-2')" in warnings and "so no task was removed" in warnings


def test_an_asana_replay_missing_a_listing_page_deletes_nothing(good: Path):
    tmp = good.parent
    manifest, bodies = pages_of(tmp / "asana")
    rows = task_rows(tmp)
    second = next(i for i, e in enumerate(manifest["pages"]) if e["params"].get("offset"))
    import json

    manifest["pages"].pop(second)
    (tmp / "asana" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert sync(good, "--full").exit_code == 0
    assert set(task_rows(tmp)) == set(rows)
    assert "promises a next page (offset 'off-2')" in sync_log_warnings(tmp)


def test_sink_error_is_raised_for_a_folder_in_the_way(tmp_path: Path):
    from tables_builders import tables, task

    (tmp_path / "out.xlsx").mkdir()
    sink = XlsxSink(tmp_path / "out.xlsx")
    with pytest.raises(SinkError):
        sink.apply(sink.plan(tables(task("MKT-1"))), ["2026-01-01", "full", 1, 1, 0, 0, 0, "", "0.1"])


def test_a_live_search_page_without_its_issues_deletes_nothing(tmp_path: Path):
    """Jira answers one search page with `"issues": null`: before, its issues vanished from the state without a word."""
    import responses
    from fake_jira import FakeJira, source_config

    from syncer.pipeline import RunOptions, run_sync

    site = FakeJira()
    cfg = parse_config({"timezone": "Europe/Berlin", "sources": [source_config(site)],
                        "sink": {"kind": "xlsx", "path": str(tmp_path / "out.xlsx")},
                        "state": {"path": str(tmp_path / "state.db")}}, env={})
    policy = RetryPolicy(sleep=lambda s: None)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        site.install(rsps)
        site.populate(30)
        site.search_cap = 10
        first = run_sync(cfg, RunOptions(full=True), now=site.now, policy=policy)
        site.fail("search", 200, body={"issues": None, "isLast": True})
        second = run_sync(cfg, RunOptions(full=True), now=site.now, policy=policy)
    assert first.tasks_per_source == {"web": 30} and second.tasks_per_source == {"web": 30}
    assert second.run.deleted == 0
    assert any("/rest/api/3/search/jql" in w and "$.issues: expected a list, found null" in w
               for w in second.run.warnings)
    assert any("web: this full read may have missed tasks" in w for w in second.run.warnings)
