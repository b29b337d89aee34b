"""`syncer schema`: the config's JSON Schema, committed for editors, describing the file as written."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import BASE_CONFIG, ENV
from jsonschema import Draft202012Validator

from syncer.cli import main
from syncer.config import ConfigError, parse_config
from syncer.schema import config_schema, duration_text, schema_text

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "config" / "syncer.schema.json"
MODELINE = "# yaml-language-server: $schema=syncer.schema.json"


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _errors(validator: Draft202012Validator, data: dict) -> list[str]:
    """`path: message` of every error, those inside a oneOf/anyOf branch included (a source's kind picks one)."""
    out, todo = [], list(validator.iter_errors(data))
    while todo:
        e = todo.pop()
        out.append(f"{'/'.join(map(str, e.absolute_path))}: {e.message}")
        todo.extend(e.context or ())
    return out


def test_the_committed_schema_is_current():
    assert COMMITTED.read_text(encoding="utf-8") == schema_text(), (
        "config/syncer.schema.json is stale (the config models changed): regenerate it with `make schema` "
        "(or `syncer schema > config/syncer.schema.json`) and commit it"
    )


def test_the_cli_prints_the_schema():
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == config_schema()


@pytest.mark.parametrize("name", ["example.yaml", "demo.yaml"])
def test_bundled_configs_point_editors_at_the_schema_and_pass_it(name, validator):
    path = ROOT / "config" / name
    assert path.read_text(encoding="utf-8").splitlines()[0] == MODELINE
    assert (path.parent / "syncer.schema.json").exists()  # the modeline's path is relative to the YAML file
    assert _errors(validator, yaml.safe_load(path.read_text(encoding="utf-8"))) == []


def test_var_references_are_accepted_where_the_loader_interpolates_them(validator):
    raw = copy.deepcopy(BASE_CONFIG)
    raw["sources"][0].update(url="${JIRA_URL}", page_size="${PAGE_SIZE}")
    raw["labour_in_budget"] = "${LABOUR}"
    raw["full_sync_every"] = "${FULL_EVERY}"
    raw["intake"] = {"enforce": "${ENFORCE}", "brief_min_chars": "${MIN}"}
    assert _errors(validator, raw) == []
    # ...and the loader agrees once the variables are set.
    env = {**ENV, "JIRA_URL": "https://acme.atlassian.net", "PAGE_SIZE": "50", "LABOUR": "false",
           "FULL_EVERY": "12h", "ENFORCE": "label", "MIN": "10"}
    cfg = parse_config(raw, env)
    assert (cfg.sources[0].page_size, cfg.labour_in_budget, cfg.intake.enforce) == (50, False, "label")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda c: c["sources"][0].update(campain="x"), "sources/0"),  # unknown key
        (lambda c: c["sources"][0].update(page_size=0), "sources/0/page_size"),
        (lambda c: c["sources"][0].update(url="acme.atlassian.net"), "sources/0/url"),
        (lambda c: c["sources"][0]["fields"].update(campaing="Campaign"), "sources/0/fields"),
        (lambda c: c["sources"][0]["stages"].update(Request="started"), "sources/0/stages/Request"),
        (lambda c: c.update(budget_period="week"), "budget_period"),
        (lambda c: c.update(full_sync_every="a day"), "full_sync_every"),
        (lambda c: c.update(sinks=[{"kind": "xlsx", "path": "b.xlsx"}]), ""),  # `sink` and `sinks` both set
        (lambda c: c.update(budget={"file": "b.csv", "tab": "Budget"}), "budget"),
        (lambda c: c.update(sink={"kind": "csv", "path": "a.csv"}), "sink"),
    ],
)
def test_the_schema_rejects_what_the_loader_rejects(change, where, validator):
    raw = copy.deepcopy(BASE_CONFIG)
    change(raw)
    with pytest.raises(ConfigError):
        parse_config(raw, ENV)
    errors = _errors(validator, raw)
    assert errors and any(e.split(":")[0] == where for e in errors), errors


def test_secrets_are_strings_marked_as_passwords():
    defs = config_schema()["$defs"]
    token = defs["JiraSourceConfig"]["properties"]["token"]
    assert (token["type"], token["format"], token["writeOnly"]) == ("string", "password", True)


@pytest.mark.parametrize(("seconds", "text"), [(30, "30s"), (900, "15m"), (86400, "24h"), (7 * 86400, "7d")])
def test_durations_are_written_as_the_config_writes_them(seconds, text):
    from datetime import timedelta

    assert duration_text(timedelta(seconds=seconds)) == text
