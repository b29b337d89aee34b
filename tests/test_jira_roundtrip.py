"""`syncer fetch` from the fake Jira, replayed by `syncer run`, gives the same Tasks tab as a run against the fake
itself."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import responses
import yaml
from click.testing import CliRunner
from fake_jira import FIELDS, STAGES, FakeJira, source_config
from openpyxl import load_workbook

from syncer.cli import main
from syncer.config import parse_config
from syncer.pipeline import run_sync
from syncer.retry import RetryPolicy
from syncer.sinks.diff import normalise_table
from syncer.tables import TASKS


def config(tmp_path, name: str, src: dict) -> dict:
    return {"timezone": "Europe/Berlin", "sources": [src],
            "sink": {"kind": "xlsx", "path": str(tmp_path / f"{name}.xlsx")},
            "state": {"path": str(tmp_path / f"{name}.db")}}


def test_fetch_then_replay_gives_the_same_tasks_tab_as_a_live_run(tmp_path):
    fake = FakeJira()
    fake.populate(150, seed=7, many_worklogs=4)
    key = fake.add_issue("Long-lived", "To Do", created=fake.now - timedelta(days=120))
    for i in range(60):
        fake.transition(key, "In Progress" if i % 2 == 0 else "Blocked", fake.now - timedelta(days=100 - i))
    fake.search_cap, fake.changelog_cap = 40, 100
    live_yaml = tmp_path / "live.yaml"
    live_yaml.write_text(yaml.safe_dump(config(tmp_path, "live", source_config(fake))))
    out = tmp_path / "pages"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        fetched = CliRunner().invoke(main, ["fetch", "--config", str(live_yaml), "--source", "web", "--out", str(out)])
        assert fetched.exit_code == 0, fetched.output
        manifest = json.loads((out / "manifest.json").read_text())
        # The live run happens at the moment the pages were fetched, as the replay's snapshot time says.
        live = run_sync(parse_config(yaml.safe_load(live_yaml.read_text()), env={}),
                        now=datetime.fromisoformat(manifest["fetched_at"]), policy=RetryPolicy(sleep=lambda s: None))
    assert (manifest["api"], manifest["base_url"], manifest["source"]) == ("jira", fake.base_url, "web")
    endpoints = [p["endpoint"] for p in manifest["pages"]]
    assert endpoints[:2] == ["GET /rest/api/3/field", "GET /rest/api/3/status"]
    assert endpoints.count("GET /rest/api/3/search/jql") == 4 and "POST /rest/api/3/changelog/bulkfetch" in endpoints
    assert sum(e.endswith("/worklog") for e in endpoints) == 4
    replay_src = {"name": "web", "kind": "replay", "path": str(out), "fields": FIELDS, "stages": STAGES}
    replay_yaml = tmp_path / "replay.yaml"
    replay_yaml.write_text(yaml.safe_dump(config(tmp_path, "replay", replay_src)))
    replayed = CliRunner().invoke(main, ["run", "--config", str(replay_yaml)])  # at its snapshot time
    assert replayed.exit_code == 0, replayed.output
    assert len(live.tables[TASKS]) == 152
    workbook = load_workbook(tmp_path / "replay.xlsx", read_only=True)
    try:
        # The workbook holds values as the xlsx sink stores them: compare both sides in that form.
        tabs = {title: normalise_table(workbook[title].iter_rows(values_only=True)) for title in live.tables}
    finally:
        workbook.close()
    assert tabs[TASKS] == normalise_table(live.tables[TASKS])
    assert tabs == {title: normalise_table(table) for title, table in live.tables.items()}  # and every other tab
