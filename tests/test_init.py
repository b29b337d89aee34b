"""`syncer init` against the fake Jira and the fake Asana: the starter config it writes passes `syncer validate`
and runs with `syncer run --dry-run`; every guess is commented; an existing file is kept without --force."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
import responses
import yaml
from click.testing import CliRunner
from fake_asana import OTHER_PROJECT, PROJECT, SECTIONS, populate
from fake_asana import TOKEN as ASANA_TOKEN
from fake_jira import EMAIL, TOKEN, FakeJira
from fake_jira_api import CUSTOM_FIELDS, STATUSES
from test_doctor import ProjectAsana

from syncer.cli import main
from syncer.config import CanonicalField
from syncer.ops.init import LABELS, guess_fields

JIRA_ENV = {"JIRA_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN}
# What the SPEC §4 defaults give the fake site's statuses, by name first, else by status category.
JIRA_DEFAULTS = {"Request": "intake", "To Do": "backlog", "Ready for review": "review", "In Progress": "in_progress",
                 "Blocked": "blocked", "Done": "done"}


@pytest.fixture
def jira():
    site = FakeJira()
    site.populate(12, seed=5)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield site.install(rsps)


@pytest.fixture
def asana(httpserver) -> ProjectAsana:
    fake = ProjectAsana(httpserver)
    populate(fake, 9)
    return fake


def invoke(args: list[str], env: dict[str, str], **kw):
    result = CliRunner().invoke(main, args, env=env, **kw)
    assert "Traceback" not in result.output
    return result


def jira_init(site: FakeJira, out: Path, *extra: str, env: dict | None = None):
    return invoke(["init", "--source", "jira", "--url", site.base_url, "--jql", "project = MKT", "--out", str(out),
                   *extra], env if env is not None else JIRA_ENV)


def test_jira_init_writes_a_config_that_validates_and_runs(jira, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = jira_init(jira, tmp_path / "syncer.yaml")
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and f"{len(STATUSES)} statuses" in result.output
    text = (tmp_path / "syncer.yaml").read_text(encoding="utf-8")
    cfg = yaml.safe_load(text)
    (src,) = cfg["sources"]
    assert (src["url"], src["email"], src["token"]) == (jira.base_url, "${JIRA_EMAIL}", "${JIRA_API_TOKEN}")
    assert TOKEN not in text and EMAIL not in text  # secrets stay references
    assert src["fields"] == {"campaign": "Campaign", "planned_cost": "Planned cost", "committed_amount": "PO amount",
                             "invoiced_amount": "Invoice amount"}
    assert src["stages"] == JIRA_DEFAULTS
    assert cfg["sink"] == {"kind": "xlsx", "path": "out/jira.xlsx"}
    assert cfg["timezone"] == "UTC"  # until --timezone says otherwise
    # Every guess says why, by id; fields with a built-in default say where they are read from instead.
    assert 'campaign: "Campaign"' in text and CUSTOM_FIELDS["Campaign"][0] in text
    assert "# owner:" in text and "read from the Assignee" in text
    assert '"Request": intake' in text and "default: by its name" in text
    assert '"To Do": backlog' in text and "default: status category new" in text

    config = str(tmp_path / "syncer.yaml")
    validated = invoke(["validate", "--config", config], JIRA_ENV)
    assert validated.exit_code == 0 and validated.output.startswith("config OK"), validated.output
    ran = invoke(["run", "--dry-run", "--quiet", "--config", config], JIRA_ENV)
    assert ran.exit_code == 0, ran.output
    assert "dry-run sync" in ran.stdout and "12 tasks" in ran.stdout
    assert "by default" not in ran.stdout  # every status is mapped: no default warnings
    assert not (tmp_path / "out").exists() and not (tmp_path / ".syncer").exists()  # a dry run writes nothing


def test_asana_init_writes_a_config_that_validates_and_runs(asana, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"ASANA_TOKEN": ASANA_TOKEN}
    out = tmp_path / "asana.yaml"
    result = invoke(["init", "--source", "asana", "--project", PROJECT, "--base-url", asana.base_url,
                     "--name", "content", "--out", str(out)], env)
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    (src,) = yaml.safe_load(text)["sources"]
    assert (src["name"], src["token"], src["projects"]) == ("content", "${ASANA_TOKEN}", [PROJECT])
    assert src["fields"] == {"campaign": "Campaign", "planned_cost": "Planned cost", "estimate_hours": "Estimated time"}
    assert set(src["stages"]) == set(SECTIONS)
    assert src["stages"]["Requests"] == "intake" and src["stages"]["Legal review"] == "review"
    assert src["stages"]["Doing"] == "backlog" and "no name rule matches" in text  # a guess the user should fix
    assert ASANA_TOKEN not in text

    assert invoke(["validate", "--config", str(out)], env).exit_code == 0
    ran = invoke(["run", "--dry-run", "--quiet", "--config", str(out)], env)
    assert ran.exit_code == 0, ran.output
    assert "source content" in ran.stdout and "9 tasks" in ran.stdout


def test_an_existing_file_is_kept_unless_forced(jira, tmp_path):
    out = tmp_path / "syncer.yaml"
    out.write_text("# mine\n", encoding="utf-8")
    refused = jira_init(jira, out)
    assert refused.exit_code == 2
    assert "exists; pass --force to overwrite it" in refused.output
    assert out.read_text(encoding="utf-8") == "# mine\n"
    assert jira.calls["field"] == 0  # refused before asking the site anything
    forced = jira_init(jira, out, "--force")
    assert forced.exit_code == 0, forced.output
    assert "sources:" in out.read_text(encoding="utf-8")


def test_a_missing_option_off_a_terminal_is_a_usage_error(tmp_path):
    result = invoke(["init", "--source", "jira", "--out", str(tmp_path / "s.yaml")], JIRA_ENV)
    assert result.exit_code == 2 and "--url is needed" in result.output


def test_on_a_terminal_init_lists_the_projects_and_asks_for_what_is_missing(jira, tmp_path, monkeypatch):
    monkeypatch.setattr("syncer.cli._interactive", lambda: True)
    out = tmp_path / "s.yaml"
    result = invoke(["init", "--out", str(out)], JIRA_ENV, input=f"jira\n{jira.base_url}\nproject = MKT\n")
    assert result.exit_code == 0, result.output
    assert "Source kind" in result.output and "Jira site URL" in result.output
    assert f"3 project(s) on {jira.base_url}:" in result.output
    assert re.search(r"^  MKT +Marketing$", result.output, re.MULTILINE)
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["sources"][0]["jql"] == "project = MKT"
    # Enter takes the first project; a site with more projects than listed says so.
    jira.projects += [(str(10010 + i), f"P{i:02d}", f"Project {i}") for i in range(60)]
    again = invoke(["init", "--source", "jira", "--url", jira.base_url, "--out", str(out), "--force"], JIRA_ENV,
                   input="\n")
    assert again.exit_code == 0, again.output
    assert "63 project(s)" in again.output and "the first 50:" in again.output
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["sources"][0]["jql"] == "project = EVT"


def test_missing_credentials_and_a_rejected_token_exit_2_without_the_token(jira, tmp_path):
    missing = jira_init(jira, tmp_path / "a.yaml", env={"JIRA_EMAIL": EMAIL})
    assert missing.exit_code == 2 and "JIRA_API_TOKEN is not set" in missing.output
    wrong = jira_init(jira, tmp_path / "b.yaml", env={**JIRA_ENV, "JIRA_API_TOKEN": "wrong-token-Zq81x9"})
    assert wrong.exit_code == 2 and "rejected the credentials (HTTP 401)" in wrong.output
    assert "wrong-token-Zq81x9" not in wrong.output
    assert not (tmp_path / "a.yaml").exists() and not (tmp_path / "b.yaml").exists()


def test_a_rejected_jql_names_the_option(jira, tmp_path):
    jira.fail("search", 400, body={"errorMessages": ["Field 'projct' does not exist."]})
    result = jira_init(jira, tmp_path / "s.yaml")
    assert result.exit_code == 2 and "sources[0].jql: Jira at" in result.output and "projct" in result.output


def test_every_canonical_field_has_names_to_look_for():
    assert set(LABELS) == set(get_args(CanonicalField))


def test_guesses_take_the_closest_name_once_and_keep_the_alternatives():
    fields = [("1", "Campaign name"), ("2", "PO Amount"), ("3", "Invoice amount (net)"), ("4", "Invoice amount"),
              ("5", "Colour"), ("6", "Purchase order date")]
    guesses = {g.canonical: g for g in guess_fields(fields)}
    assert guesses["campaign"].pick == ("1", "Campaign name")  # contains the label
    assert guesses["committed_amount"].pick == ("2", "PO Amount")  # case does not matter
    assert guesses["invoiced_amount"].pick == ("4", "Invoice amount")  # the exact name wins...
    assert guesses["invoiced_amount"].others == ("Invoice amount (net)",)  # ...the other is named in the comment
    assert guesses["po_date"].pick == ("6", "Purchase order date")
    assert guesses["activity"].pick is None  # "Colour" looks like nothing
    picked = [g.pick[0] for g in guesses.values() if g.pick]
    assert len(picked) == len(set(picked))  # no field proposed twice


def test_on_a_terminal_asana_init_lists_the_projects_the_token_sees(asana, tmp_path, monkeypatch):
    monkeypatch.setattr("syncer.cli._interactive", lambda: True)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "a.yaml"
    result = invoke(["init", "--source", "asana", "--base-url", asana.base_url, "--out", str(out)],
                    {"ASANA_TOKEN": ASANA_TOKEN}, input="\n")
    assert result.exit_code == 0, result.output
    assert re.search(rf"^  {PROJECT} +Acme / Content$", result.output, re.MULTILINE)
    assert re.search(rf"^  {OTHER_PROJECT} +Acme / Brand$", result.output, re.MULTILINE)
    assert yaml.safe_load(out.read_text(encoding="utf-8"))["sources"][0]["projects"] == [PROJECT]  # Enter: the first
    assert any(path == "/workspaces/1200000000000001/projects" and args.get("archived") == "false"
               for path, args in asana.calls)
