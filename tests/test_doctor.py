"""`syncer doctor` against the fake Jira, Asana and Sheets: credentials, reachability, mapping findings, exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests
import responses
import yaml
from click.testing import CliRunner
from fake_asana import API, FIELDS, PROJECT, SECTIONS, STAGES, FakeAsana
from fake_asana import TOKEN as ASANA_TOKEN
from fake_jira import TOKEN as JIRA_TOKEN
from fake_jira import FakeJira, source_config
from fake_sheets import running_fake
from openpyxl import Workbook
from werkzeug import Request, Response

from syncer.cli import main
from syncer.ops.doctor.mapping import closest
from syncer.ops.doctor.report import BAD_CONFIG, FAIL, OK, UNREACHABLE, WARN, Check, Report, Section
from syncer.tables import CLOSED_PERIODS, OWNED_TABS, SYNC_LOG

ROOT = Path(__file__).resolve().parents[1]
SA_EMAIL = "syncer@acme-ops.iam.gserviceaccount.com"
WRONG_TOKEN = "wrong-token-Zq81x9-secret"


def doctor(tmp_path: Path, sources: list[dict], sink: dict | None = None, env: dict | None = None, **extra):
    config = {"sources": sources, "sink": sink or {"kind": "xlsx", "path": str(tmp_path / "out.xlsx")},
              "state": {"path": str(tmp_path / "state.db")}, **extra}
    path = tmp_path / "syncer.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(main, ["doctor", "--config", str(path)], env=env or {})
    assert "Traceback" not in result.output
    return result


def line(output: str, status: str, what: str) -> str:
    """The one report line with that status and subject."""
    found = [ln.strip() for ln in output.splitlines() if re.match(rf"\s+{status}\s+{re.escape(what)}: ", ln)]
    assert len(found) == 1, f"{status} {what} not found once in:\n{output}"
    return found[0]


# ---- Jira ------------------------------------------------------------------------------------------------------------
@pytest.fixture
def jira():
    site = FakeJira()
    site.populate(3)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield site.install(rsps)


def jira_source(fake: FakeJira, **overrides) -> dict:
    return source_config(fake, token="${JIRA_API_TOKEN}", **overrides)


def test_a_healthy_jira_source_lists_custom_fields_next_to_the_mapping(jira, tmp_path):
    result = doctor(tmp_path, [jira_source(jira)], env={"JIRA_API_TOKEN": JIRA_TOKEN})
    out = result.output
    assert result.exit_code == 0, out
    assert "OK    reachable: https://acme-fake.atlassian.net is Jira Cloud" in out
    assert "OK    credentials: signed in as Ops (ops@acme.com)" in out
    assert "OK    jql: 'project = MKT' finds issues (first: MKT-1)" in out
    assert re.search(r"Campaign\s+customfield_10042\s+<- campaign", out)
    assert line(out, OK, "fields.planned_cost") == "OK    fields.planned_cost: 'Planned cost' (customfield_10046)"
    assert "0 FAIL (exit 0)" in out


def test_a_renamed_jira_field_is_flagged_with_its_closest_match(jira, tmp_path):
    jira.renamed["Planned cost"] = "Planned cost (EUR)"
    result = doctor(tmp_path, [jira_source(jira)], env={"JIRA_API_TOKEN": JIRA_TOKEN})
    assert result.exit_code == 2, result.output
    assert line(result.output, FAIL, "fields.planned_cost") == (
        "FAIL  fields.planned_cost: no Jira field named 'Planned cost': renamed? closest match "
        "'Planned cost (EUR)' (customfield_10046)")
    assert re.search(r"Planned cost \(EUR\)\s+customfield_10046\s+-", result.output)  # listed, now unmapped


def test_duplicated_names_are_flagged(jira, tmp_path):
    jira.renamed["PO amount"] = "Campaign"  # two Jira fields now share the name
    fields = {"campaign": "Campaign", "activity": "customfield_10046", "planned_cost": "customfield_10046"}
    src = jira_source(jira, fields=fields, stages={"Done": "done", "done": "done"})
    result = doctor(tmp_path, [src], env={"JIRA_API_TOKEN": JIRA_TOKEN})
    out = result.output
    assert result.exit_code == 2, out
    assert line(out, FAIL, "fields.campaign") == (
        "FAIL  fields.campaign: 'Campaign' is the name of 2 Jira fields (customfield_10042, customfield_10050): "
        "duplicated name, map it by id")
    assert "WARN  fields: 'Planned cost' (customfield_10046) is mapped 2 times: activity, planned_cost" in out
    assert "WARN  stages: 'Done' and 'done' are the same status (case is ignored): duplicated name" in out


def test_unmapped_statuses_are_listed_with_the_stage_they_default_to(jira, tmp_path):
    src = jira_source(jira, stages={"Request": "intake", "In progres": "in_progress"})
    result = doctor(tmp_path, [src], env={"JIRA_API_TOKEN": JIRA_TOKEN})
    out = result.output
    assert result.exit_code == 0, out  # warnings only: the sync works, with defaults
    assert line(out, OK, "status 'Request'") == "OK    status 'Request': -> intake"
    assert line(out, WARN, "status 'Ready for review'") == (
        "WARN  status 'Ready for review': not mapped: defaults to review (by its name)")
    assert line(out, WARN, "status 'To Do'") == (
        "WARN  status 'To Do': not mapped: defaults to backlog (status category new)")
    assert line(out, WARN, "status 'In Progress'").endswith("defaults to in_progress (status category indeterminate)")
    assert line(out, WARN, "stages.In progres") == (
        "WARN  stages.In progres: no status named 'In progres' (renamed? closest match 'In Progress'); "
        "its mapping to in_progress is unused")


def test_a_rejected_jira_token_exits_2_and_never_shows_it(jira, tmp_path):
    result = doctor(tmp_path, [jira_source(jira)], env={"JIRA_API_TOKEN": WRONG_TOKEN})
    assert result.exit_code == 2, result.output
    assert "FAIL  connection: sources[0]: Jira at https://acme-fake.atlassian.net rejected the credentials " \
           "(HTTP 401)" in result.output
    assert WRONG_TOKEN not in result.output
    assert "sink (xlsx" in result.output  # the other checks still ran


def test_an_unreachable_jira_exits_1(jira, tmp_path):
    jira.fail("serverInfo", requests.ConnectionError("connection refused"), times=None)
    result = doctor(tmp_path, [jira_source(jira)], env={"JIRA_API_TOKEN": JIRA_TOKEN})
    assert result.exit_code == 1, result.output
    assert "FAIL  connection: Jira at https://acme-fake.atlassian.net: no answer" in result.output


# ---- Asana -----------------------------------------------------------------------------------------------------------
class ProjectAsana(FakeAsana):
    """FakeAsana plus what doctor asks for: /users/me, a project, its sections and its custom field settings."""

    def __init__(self, server):
        super().__init__(server)
        self.custom = {"1300000000000001": "Campaign", "1300000000000002": "Planned cost",
                       "1300000000000003": "Estimated time"}

    def handle(self, request: Request) -> Response:
        path, args = request.path[len(API):], request.args.to_dict()
        authorised = request.headers.get("Authorization") == f"Bearer {self.token}"
        if not authorised or any(f.path in path for f in self.faults):
            return super().handle(request)
        self.calls.append((path, args))
        if path == "/users/me":
            return self._json({"data": {"gid": "1200000000000012", "name": "Ana Lima", "email": "ana@acme.com"}})
        m = re.fullmatch(r"/projects/(\d+)(/sections|/custom_field_settings)?", path)
        if not m:
            return super().handle(request)
        if m.group(1) not in self.projects:
            return self._json({"errors": [{"message": f"project: Unknown object: {m.group(1)}"}]}, 404)
        if m.group(2) == "/sections":
            items = [{"gid": gid, "resource_type": "section", "name": n} for n, gid in SECTIONS.items()]
            return self._page(path, args, items, ("name",))
        if m.group(2) == "/custom_field_settings":
            items = [{"gid": f"cfs-{gid}", "resource_type": "custom_field_setting",
                      "custom_field": {"gid": gid, "resource_type": "custom_field", "name": name}}
                     for gid, name in self.custom.items()]
            return self._page(path, args, items, ("custom_field",))
        return self._json({"data": {"gid": m.group(1), "resource_type": "project", "name": "Content"}})


@pytest.fixture
def asana(httpserver) -> ProjectAsana:
    return ProjectAsana(httpserver)


def asana_source(fake: FakeAsana, **overrides) -> dict:
    return {"name": "content", "kind": "asana", "token": "${ASANA_TOKEN}", "projects": [PROJECT],
            "base_url": fake.base_url, "fields": dict(FIELDS), "stages": dict(STAGES), **overrides}


def test_an_asana_source_lists_fields_and_sections_with_their_defaults(asana, tmp_path):
    result = doctor(tmp_path, [asana_source(asana)], env={"ASANA_TOKEN": ASANA_TOKEN})
    out = result.output
    assert result.exit_code == 0, out
    assert "OK    credentials: signed in to" in out and "as Ana Lima (ana@acme.com)" in out
    assert f"OK    projects[0]: {PROJECT} is 'Content': 5 section(s), 3 custom field(s)" in out
    assert re.search(r"Estimated time\s+1300000000000003\s+<- estimate_hours", out)
    assert line(out, OK, "section 'Doing'") == "OK    section 'Doing': -> in_progress"
    assert line(out, WARN, "section 'On hold'") == (
        "WARN  section 'On hold': not mapped: defaults to blocked (by its name)")


def test_a_renamed_asana_field_and_a_duplicated_one(asana, tmp_path):
    asana.custom["1300000000000003"] = "Estimated hours"
    asana.custom["1300000000000004"] = "Campaign"
    result = doctor(tmp_path, [asana_source(asana)], env={"ASANA_TOKEN": ASANA_TOKEN})
    out = result.output
    assert result.exit_code == 2, out
    assert line(out, FAIL, "fields.estimate_hours") == (
        "FAIL  fields.estimate_hours: no Asana custom field named 'Estimated time': renamed? closest match "
        "'Estimated hours' (1300000000000003)")
    assert "FAIL  fields.campaign: 'Campaign' is the name of 2 Asana custom fields" in out


def test_a_rejected_asana_token_exits_2_and_never_shows_it(asana, tmp_path):
    result = doctor(tmp_path, [asana_source(asana)], env={"ASANA_TOKEN": WRONG_TOKEN})
    assert result.exit_code == 2, result.output
    expected = "FAIL  credentials: sources[0].token: Asana refused GET /users/me (HTTP 401: Not Authorized)"
    assert expected in result.output
    assert WRONG_TOKEN not in result.output


def test_an_unknown_asana_project_exits_2_naming_it(asana, tmp_path):
    src = asana_source(asana, projects=[PROJECT, "1299999999999999"])
    result = doctor(tmp_path, [src], env={"ASANA_TOKEN": ASANA_TOKEN})
    assert result.exit_code == 2, result.output
    assert "FAIL  projects[1]: sources[0].projects[1]: Asana has no project 1299999999999999" in result.output
    assert f"OK    projects[0]: {PROJECT}" in result.output



def test_a_token_without_users_read_only_warns_and_an_unreachable_asana_exits_1(asana, tmp_path):
    asana.fail(403, path="/users/me")
    result = doctor(tmp_path, [asana_source(asana)], env={"ASANA_TOKEN": ASANA_TOKEN})
    assert result.exit_code == 0, result.output
    assert "WARN  credentials: Asana would not say whose token this is (HTTP 403" in result.output
    assert f"OK    projects[0]: {PROJECT} is 'Content'" in result.output
    result = doctor(tmp_path, [asana_source(asana, base_url="http://127.0.0.1:9/api/1.0")],
                    env={"ASANA_TOKEN": ASANA_TOKEN})
    assert result.exit_code == 1, result.output
    assert "FAIL  credentials: sources[0]: cannot reach Asana at http://127.0.0.1:9/api/1.0" in result.output

# ---- Google Sheets ---------------------------------------------------------------------------------------------------
REPLAY = {"name": "demo", "kind": "replay", "path": str(ROOT / "config/demo/jira-web")}
GSHEET = {"kind": "gsheet", "spreadsheet_id": "sheet-1", "credentials": "${GOOGLE_SERVICE_ACCOUNT_JSON}"}


def test_a_shared_sheet_lists_its_tabs_and_finds_the_budget_tab(tmp_path):
    with running_fake() as sheets:
        info = sheets.share(SA_EMAIL)
        sheets.add_sheet("Budget", [["Campaign", "Activity", "G/L account", "Period", "Amount"],
                                    ["Spring", "Events", "6100", "2026-05", 1200]])
        result = doctor(tmp_path, [REPLAY], GSHEET, {"GOOGLE_SERVICE_ACCOUNT_JSON": json.dumps(info)},
                        budget={"tab": "Budget"})
    out = result.output
    assert result.exit_code == 0, out
    assert f"OK    sheet: {SA_EMAIL} can open 'Marketing ops'" in out
    assert "tabs (2): Sheet1, Budget" in out
    created = ", ".join(t for t in (*OWNED_TABS, SYNC_LOG) if t != CLOSED_PERIODS)
    assert f"no syncer tab yet; {created} will be created" in out
    assert "OK    budget: 1 budget line(s)" in out
    assert info["private_key"] not in out and "BEGIN PRIVATE KEY" not in out


def test_an_unshared_sheet_exits_2_naming_the_service_account(tmp_path):
    with running_fake() as sheets:
        info = sheets.share(SA_EMAIL)
        del sheets.shared[SA_EMAIL]
        result = doctor(tmp_path, [REPLAY], GSHEET, {"GOOGLE_SERVICE_ACCOUNT_JSON": json.dumps(info)},
                        budget={"tab": "Budget"})
    out = result.output
    assert result.exit_code == 2, out
    assert "FAIL  sheet: sink: Google Sheets refused the metadata read of spreadsheet sheet-1 (HTTP 403" in out
    assert f"Share the sheet with the service account {SA_EMAIL} as an Editor" in out
    assert "WARN  budget.tab: not checked" in out
    assert "BEGIN PRIVATE KEY" not in out


def test_a_missing_budget_tab_and_a_foreign_tasks_tab(tmp_path):
    with running_fake() as sheets:
        info = sheets.share(SA_EMAIL)
        sheets.add_sheet("Tasks", [["Our own list", "Owner"]])
        result = doctor(tmp_path, [REPLAY], GSHEET, {"GOOGLE_SERVICE_ACCOUNT_JSON": json.dumps(info)},
                        budget={"tab": "Budget"})
    out = result.output
    assert result.exit_code == 2, out  # the config problem outranks the sink problem
    assert "FAIL  budget.tab: the sink has no tab named 'Budget'" in out
    assert "FAIL  tab 'Tasks': has a header syncer did not write" in out


# ---- xlsx and replay -------------------------------------------------------------------------------------------------
def test_an_xlsx_with_someone_elses_tasks_tab_exits_1(tmp_path):
    wb = Workbook()
    wb.active.title = "Tasks"
    wb.active.append(["Not", "ours"])
    wb.save(tmp_path / "out.xlsx")
    result = doctor(tmp_path, [REPLAY])
    assert result.exit_code == 1, result.output
    assert "OK    workbook: readable, 1 tab(s)" in result.output
    assert "FAIL  tab 'Tasks': has a header syncer did not write" in result.output


def test_a_damaged_workbook_and_a_missing_replay_folder(tmp_path):
    (tmp_path / "out.xlsx").write_text("not a zip")
    result = doctor(tmp_path, [{"name": "gone", "kind": "replay", "path": str(tmp_path / "nowhere")}])
    assert result.exit_code == 2, result.output
    assert "FAIL  saved pages: sources[0].path:" in result.output and "holds no manifest.json" in result.output
    assert "FAIL  workbook:" in result.output and "is not a readable xlsx workbook" in result.output


def test_the_demo_config_is_healthy_but_for_its_one_unmapped_status(monkeypatch, tmp_path):
    cfg = yaml.safe_load((ROOT / "config/demo.yaml").read_text())
    monkeypatch.chdir(ROOT)
    result = doctor(tmp_path, cfg["sources"], budget=cfg["budget"])
    assert result.exit_code == 0, result.output
    assert "WARN  status 'Ready for QA': not mapped: defaults to in_progress (status category indeterminate)" \
        in result.output
    assert "OK    fields.brief: 'notes' (a task attribute)" in result.output
    assert "OK    budget: 54 budget line(s)" in result.output


# ---- the report ----------------------------------------------------------------------------------------------------
def test_exit_code_is_the_worst_fail():
    sec = Section("s", [Check(OK, "a", "."), Check(WARN, "b", ".")])
    assert Report([sec]).exit_code == 0
    sec.fail("c", "down", UNREACHABLE)
    assert Report([sec]).exit_code == 1
    sec.fail("d", "bad key", BAD_CONFIG)
    assert Report([sec]).exit_code == 2
    assert Report([sec]).format().endswith("1 OK, 1 WARN, 2 FAIL (exit 2)")


def test_closest_prefers_a_case_only_difference():
    assert closest("campaign", ["Campaigns", "Campaign"]) == "Campaign"
    assert closest("Budget", ["Tasks"]) is None
