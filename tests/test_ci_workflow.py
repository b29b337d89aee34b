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


def test_sync_puts_the_weekly_review_on_the_run_summary(tmp_path):
    """The report step follows the sync, runs only after it succeeded, and its command works on the demo state."""
    from click.testing import CliRunner
    from test_report import demo_config

    from syncer.cli import main

    steps = _steps(_load("sync.yml"))
    sync = next(i for i, s in enumerate(steps) if "syncer run" in s.get("run", ""))
    step = next(s for s in steps[sync + 1:] if "syncer report" in s.get("run", ""))
    assert "if" not in step and step["continue-on-error"] is True  # after success only; never loses the state
    assert step["env"] == {name: f"${{{{ secrets.{name} }}}}" for name in SECRETS}
    assert "--format markdown" in step["run"] and '>> "$GITHUB_STEP_SUMMARY"' in step["run"]
    # The step's own command, in a checkout whose config/syncer.yaml is the demo, after a demo sync.
    (tmp_path / "config").mkdir()
    demo_config(tmp_path).rename(tmp_path / "config" / "syncer.yaml")
    synced = CliRunner().invoke(main, ["run", "--config", str(tmp_path / "config" / "syncer.yaml")])
    assert synced.exit_code == 0, synced.output
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "GITHUB_STEP_SUMMARY": str(summary)}
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    text = summary.read_text()
    assert text.startswith("earlier step\n## Weekly review 2026-W46")  # appended, not overwritten
    assert "### What moved" in text and "| Figure | All | content | web |" in text


def test_a_failed_command_is_an_error_annotation_in_actions(tmp_path):
    from click.testing import CliRunner

    from syncer.cli import main

    bad = tmp_path / "syncer.yaml"
    bad.write_text("timezone: Mars/Olympus\nsources: []\n")
    done = CliRunner().invoke(main, ["run", "--config", str(bad)], env={"GITHUB_ACTIONS": "true"})
    assert done.exit_code == 2
    shown, annotation = done.output.split("::error title=syncer run failed::")
    # The message a user sees, on one line as workflow commands need it (newlines encoded).
    assert annotation.rstrip("\n") == shown.rstrip("\n").replace("%", "%25").replace("\n", "%0A")
    assert "timezone" in annotation and "%0A" in annotation
