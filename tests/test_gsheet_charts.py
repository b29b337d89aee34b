"""The Dashboard's native charts against the fake Sheets API (which checks chart ids, grids and ranges like the real
one): created once in the one structural batch, updated only when a range moves, never doubled, a user's chart
never named; and the chart request bodies checked against Google's discovery document for Sheets v4."""

from __future__ import annotations

import json
from pathlib import Path

import googleapiclient
import pytest
from fake_sheets import make_sink
from tables_builders import CHART_TITLE, dashboard, tables, task

from syncer.tables import CAMPAIGNS, DASHBOARD, HEADERS

EMAIL = "syncer@acme-ops.iam.gserviceaccount.com"
USER_CHART = {"chartId": 7, "spec": {"title": "Finance's own", "basicChart": {"chartType": "LINE"}},
              "position": {"overlayPosition": {"anchorCell": {"sheetId": 0, "rowIndex": 0, "columnIndex": 0}}}}


def tabs(campaigns: int) -> dict[str, list[list]]:
    out = tables(task("MKT-1"))
    out[DASHBOARD] = dashboard(campaigns)
    out[CAMPAIGNS] = [list(HEADERS[CAMPAIGNS]), ["Spring", 1, 0, 1, 0, 1, None, "2026-11-01", None, None, "delayed"]]
    return out


def sync(fake, info, tables_: dict) -> list[dict]:
    """One run; the structural requests it sent."""
    fake.calls.clear()
    sink = make_sink(fake, info)
    sink.apply(sink.plan(tables_), ["2026-11-20T09:00:00+01:00", "full", 1.0, 1, 1, 0, 1, 0, None, "0.1.0"])
    assert fake.count("metadata", "batchGet") <= 2 and fake.count("batchUpdate", "valuesBatchUpdate") <= 2
    return [r for body in fake.payloads("batchUpdate") for r in body["requests"]]


def kinds(requests: list[dict]) -> list[str]:
    return [next(iter(r)) for r in requests]


@pytest.fixture
def info(fake):
    info = fake.share(EMAIL)
    finance = fake.add_sheet("Finance", [["Month", "Actual"], ["2026-10", 5]])
    finance.charts.append({**USER_CHART, "position": {"overlayPosition": {"anchorCell": {
        "sheetId": finance.sheet_id, "rowIndex": 0, "columnIndex": 3}}}})
    return info


def test_first_run_adds_five_charts_over_their_tables(fake, info):
    sent = sync(fake, info, tabs(3))
    assert kinds(sent).count("addChart") == 5 and "updateChartSpec" not in kinds(sent)
    assert fake.kinds()["batchUpdate"] == 1  # the charts ride in the run's one structural batch
    dash = fake.sheet(DASHBOARD)
    values = fake.values(DASHBOARD)
    assert len(dash.charts) == 5 and len({c["chartId"] for c in dash.charts}) == 5
    for chart in dash.charts:
        basic = chart["spec"]["basicChart"]
        (domain,) = basic["domain"]["sourceRange"]["sources"] if "domain" in basic else \
            basic["domains"][0]["domain"]["sourceRange"]["sources"]
        assert values[domain["startRowIndex"] - 1][0] == chart["spec"]["title"]  # the title row above its table
        assert domain["endRowIndex"] <= dash.rows and values[domain["endRowIndex"]:domain["endRowIndex"] + 1] in (
            [], [[]])  # the range ends where its table does
    assert [s.title for s in fake.sheets][0] == DASHBOARD  # first, in a sheet syncer never wrote to
    assert fake.sheet("Finance").charts == [fake.sheet("Finance").charts[0]] and \
        fake.sheet("Finance").charts[0]["chartId"] == 7


def test_an_unchanged_run_sends_no_chart_request(fake, info):
    sync(fake, info, tabs(3))
    assert sync(fake, info, tabs(3)) == []
    assert fake.kinds() == {"metadata": 1, "batchGet": 1, "valuesBatchUpdate": 1}


def test_more_campaigns_update_the_budget_chart_instead_of_adding_one(fake, info):
    sync(fake, info, tabs(3))
    sent = sync(fake, info, tabs(5))
    assert kinds(sent).count("updateChartSpec") == 1 and "addChart" not in kinds(sent)  # only the budget chart
    dash = fake.sheet(DASHBOARD)
    assert len(dash.charts) == 5
    budget = next(c for c in dash.charts if c["spec"]["title"] == CHART_TITLE["budget"])
    rng = budget["spec"]["basicChart"]["series"][0]["series"]["sourceRange"]["sources"][0]
    assert fake.values(DASHBOARD)[rng["endRowIndex"] - 1][0] == "Campaign 4"


def test_a_users_chart_and_tab_are_never_in_a_request(fake, info):
    finance_id = fake.sheet("Finance").sheet_id
    for n in (3, 3, 6):
        text = json.dumps(sync(fake, info, tabs(n)))
        assert '"chartId": 7,' not in text and f'"sheetId": {finance_id},' not in text


def test_a_deleted_chart_comes_back_once(fake, info):
    sync(fake, info, tabs(3))
    fake.sheet(DASHBOARD).charts.pop(0)
    sent = sync(fake, info, tabs(3))
    # (the Sync log row and the stamp ride along)
    assert [k for k in kinds(sent) if k not in ("updateCells", "updateDeveloperMetadata")] == ["addChart"]
    assert len(fake.sheet(DASHBOARD).charts) == 5


def test_colour_rules_are_added_once(fake, info):
    first = sync(fake, info, tabs(3))
    assert kinds(first).count("addConditionalFormatRule") >= 4
    assert "addConditionalFormatRule" not in kinds(sync(fake, info, tabs(3)))
    words = [r["booleanRule"]["condition"]["values"][0]["userEnteredValue"] for r in fake.sheet(CAMPAIGNS).conditional]
    assert sorted(words) == ["at risk", "at risk", "delayed", "over"]


# ---- the bodies against Google's published schema ----------------------------------------------------------------
DISCOVERY = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "sheets.v4.json"


def check(value: object, schema: dict, schemas: dict, path: str) -> None:
    """`value` conforms to the discovery document's `schema`: only declared properties, of their declared types."""
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        assert isinstance(value, dict), path
        for key, item in value.items():
            assert key in schema["properties"], f"{path}.{key} is not in the schema"
            check(item, schema["properties"][key], schemas, f"{path}.{key}")
    elif kind == "array":
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            check(item, schema["items"], schemas, f"{path}[{i}]")
    elif kind == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), path
    elif kind == "number":
        assert isinstance(value, int | float), path
    elif kind == "string":
        assert isinstance(value, str), path
        assert "enum" not in schema or value in schema["enum"], f"{path}: {value!r} not one of its values"
    elif kind == "boolean":
        assert isinstance(value, bool), path


def test_every_structural_request_matches_the_discovery_document(fake, info):
    schemas = json.loads(DISCOVERY.read_text())["schemas"]
    sent = sync(fake, info, tabs(3)) + sync(fake, info, tabs(5))
    assert {"addChart", "updateChartSpec", "addConditionalFormatRule", "addSheet"} <= set(kinds(sent))
    for i, request in enumerate(sent):
        check(request, {"$ref": "Request"}, schemas, f"requests[{i}]")
