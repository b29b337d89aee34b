"""The GitHub Actions workflows are valid (offline schema check) and do what the README promises."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
SECRETS = ("JIRA_EMAIL", "JIRA_API_TOKEN", "ASANA_TOKEN", "SHEET_ID", "GOOGLE_SERVICE_ACCOUNT_JSON")


def _load(name: str) -> dict:
    wf = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the bare key `on` as True
    return wf


def _steps(wf: dict) -> list[dict]:
    return [step for job in wf["jobs"].values() for step in job["steps"]]


def test_workflows_match_the_github_schema():
    exe = Path(sys.executable).parent / "check-jsonschema"
    assert exe.exists(), "check-jsonschema is a test dependency: pip install -e '.[test]'"
    files = [str(WORKFLOWS / "ci.yml"), str(WORKFLOWS / "sync.yml")]
    # The vendored schema ships with check-jsonschema: no network needed.
    done = subprocess.run([str(exe), "--builtin-schema", "vendor.github-workflows", *files],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ci_runs_make_test_on_push_and_pull_request():
    wf = _load("ci.yml")
    assert {"push", "pull_request"} <= set(wf["on"])
    job = next(iter(wf["jobs"].values()))
    assert job["runs-on"] == "ubuntu-latest"
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@"))
    assert str(setup["with"]["python-version"]) == "3.11"
    assert any(s.get("run", "").startswith("make test") for s in job["steps"])


def test_sync_is_scheduled_serialised_and_keeps_its_state():
    wf = _load("sync.yml")
    assert wf["on"]["schedule"] == [{"cron": "*/30 * * * *"}]
    assert "workflow_dispatch" in wf["on"]
    assert wf["concurrency"]["group"] and wf["concurrency"]["cancel-in-progress"] is False
    steps = _steps(wf)
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == ".syncer/state.db"
    run = next(s for s in steps if "syncer run" in s.get("run", ""))
    assert "--config config/syncer.yaml" in run["run"]
    assert run["env"] == {name: f"${{{{ secrets.{name} }}}}" for name in SECRETS}
