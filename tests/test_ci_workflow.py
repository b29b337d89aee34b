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


def test_sync_is_scheduled_serialised_and_runs_the_action():
    wf = _load("sync.yml")
    assert wf["on"]["schedule"] == [{"cron": "*/30 * * * *"}]
    assert "workflow_dispatch" in wf["on"]
    assert wf["concurrency"]["group"] and wf["concurrency"]["cancel-in-progress"] is False
    steps = _steps(wf)
    assert steps[0]["uses"].startswith("actions/checkout@")
    sync = next(s for s in steps if s.get("uses") == "./")
    assert sync["with"] == {"config": "config/syncer.yaml", "full": "${{ inputs.full || false }}"}
    assert sync["env"] == {name: f"${{{{ secrets.{name} }}}}" for name in SECRETS}


# ---- the reusable action (action.yml) --------------------------------------------------------------------------------
def _action() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))


def _step(action: dict, name: str) -> dict:
    return next(s for s in action["runs"]["steps"] if s.get("name") == name)


def test_the_action_matches_the_github_action_schema():
    exe = Path(sys.executable).parent / "check-jsonschema"
    done = subprocess.run([str(exe), "--builtin-schema", "vendor.github-actions", str(ROOT / "action.yml")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_action_installs_itself_and_carries_the_state_around_the_sync():
    action = _action()
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    assert {k: inputs[k]["default"] for k in ("config", "full", "python-version", "state-path")} == {
        "config": "config/syncer.yaml", "full": "false", "python-version": "3.11", "state-path": ".syncer/state.db"}
    steps = action["runs"]["steps"]
    names = [s.get("name") or s["uses"].split("@")[0] for s in steps]
    assert names == ["actions/setup-python", "Install syncer", "Restore the sync state", "Sync",
                     "Save the sync state", "Weekly review in the step summary"]
    assert steps[0]["with"]["python-version"] == "${{ inputs.python-version }}"
    assert '"$GITHUB_ACTION_PATH"' in _step(action, "Install syncer")["run"]  # the action's own checkout
    restore, save = _step(action, "Restore the sync state"), _step(action, "Save the sync state")
    assert restore["uses"].startswith("actions/cache/restore@") and save["uses"].startswith("actions/cache/save@")
    assert restore["with"]["path"] == save["with"]["path"] == "${{ inputs.state-path }}"
    assert restore["with"]["key"] == save["with"]["key"]  # immutable entries: a new key per run...
    assert restore["with"]["restore-keys"].strip() == "syncer-state-"  # ...the newest restored by prefix
    assert save["with"]["key"].startswith("syncer-state-") and "if" not in save  # after a successful sync only


def _bash(script: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env={"PATH": path, **env}, capture_output=True,
                          text=True, timeout=300)


def _demo_checkout(tmp_path: Path) -> Path:
    """A workspace whose config/syncer.yaml is the demo's (its paths absolute, so any working directory works)."""
    from test_report import demo_config

    (tmp_path / "config").mkdir()
    demo_config(tmp_path).rename(tmp_path / "config" / "syncer.yaml")
    return tmp_path


def test_the_action_sync_step_passes_full_only_when_asked(tmp_path):
    stub = tmp_path / "bin" / "syncer"  # stands in for syncer: records its arguments
    stub.parent.mkdir()
    stub.write_text('#!/bin/sh\necho "$@" >> "$ARGS_FILE"\n', encoding="utf-8")
    stub.chmod(0o755)
    script = _step(_action(), "Sync")["run"]
    args = tmp_path / "args"
    for full in ("true", "false", ""):
        done = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, timeout=60, env={
            "PATH": f"{stub.parent}:/usr/bin:/bin", "ARGS_FILE": str(args), "SYNCER_CONFIG": "my config.yaml",
            "SYNCER_FULL": full})
        assert done.returncode == 0, done.stderr
    assert args.read_text(encoding="utf-8").splitlines() == [
        "run --config my config.yaml --full", "run --config my config.yaml", "run --config my config.yaml"]


def test_the_action_puts_the_weekly_review_on_the_run_summary(tmp_path):
    """The report step follows the state's save, never fails the run, and its command works on the demo state."""
    action = _action()
    names = [s.get("name") for s in action["runs"]["steps"]]
    assert names.index("Weekly review in the step summary") > names.index("Save the sync state")
    step = _step(action, "Weekly review in the step summary")
    assert step["continue-on-error"] is True and "if" not in step  # after a successful sync only
    work = _demo_checkout(tmp_path)
    synced = _bash(_step(action, "Sync")["run"], work, SYNCER_CONFIG="config/syncer.yaml")
    assert synced.returncode == 0 and synced.stdout.startswith("syncer "), synced.stderr
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    done = _bash(step["run"], work, SYNCER_CONFIG="config/syncer.yaml", GITHUB_STEP_SUMMARY=str(summary))
    assert done.returncode == 0, done.stderr
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## Weekly review 2026-W46")  # appended, not overwritten
    assert "### What moved" in text and "| Figure | All | content | web |" in text
    broken = _bash(step["run"], work, SYNCER_CONFIG="config/missing.yaml", GITHUB_STEP_SUMMARY=str(summary))
    assert broken.returncode == 0 and "::warning title=syncer::" in broken.stdout
    assert summary.read_text(encoding="utf-8") == text  # nothing half-written


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
