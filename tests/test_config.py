"""Config: defaults, ${VAR} interpolation, every problem listed with its key path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from syncer.cli import main
from syncer.config import load_config, parse_config, parse_duration
from syncer.errors import ConfigError
from syncer.model import Stage


def test_valid_config_gets_spec_defaults(raw_config, env):
    cfg = parse_config(raw_config, env)
    assert cfg.sources[0].token.get_secret_value() == env["JIRA_API_TOKEN"]
    assert cfg.sources[0].email == "ops@acme.com"
    assert cfg.sources[0].stages == {"Request": Stage.INTAKE}
    assert cfg.sources[1].base_url == "https://app.asana.com/api/1.0"
    assert cfg.budget_period == "month"
    assert cfg.full_sync_every == timedelta(hours=24)
    assert cfg.state.path == Path(".syncer/state.db")
    assert cfg.intake.required == ["owner", "due_date", "campaign", "estimate_hours", "brief"]
    assert cfg.capacity.per_person is False
    assert cfg.labour_in_budget is True


def test_every_problem_is_listed_with_its_key_path(raw_config, env):
    raw_config["sources"][1]["fields"] = {"campain": "Campaign"}  # typo in a canonical field
    raw_config["sources"][0]["stages"] = {"Doing": "wip"}  # not a stage
    raw_config["sources"][0]["colour"] = "red"  # unknown key
    raw_config["fiscal_year_start_month"] = 13
    raw_config["timezone"] = "Mars/Olympus"
    raw_config["budget_period"] = "week"
    raw_config["sink"] = {"kind": "gsheet", "credentials": "x"}
    del env["ASANA_TOKEN"]
    with pytest.raises(ConfigError) as exc:
        parse_config(raw_config, env)
    text = "\n".join(exc.value.problems)
    for where in (
        "sources[1].token: environment variable ASANA_TOKEN is not set",
        "sources[1].fields.campain",
        "sources[0].stages.Doing",
        "sources[0].colour: unknown key",
        "fiscal_year_start_month:",
        "timezone: unknown timezone 'Mars/Olympus'",
        "budget_period:",
        "sink.spreadsheet_id: Field required",
    ):
        assert where in text, f"missing {where!r} in:\n{text}"
    assert len(exc.value.problems) == 8


def test_duplicate_source_names_and_budget_needs_one_of(raw_config, env):
    raw_config["sources"][1]["name"] = "web"
    raw_config["budget"] = {"file": "b.csv", "tab": "Budget"}
    with pytest.raises(ConfigError) as exc:
        parse_config(raw_config, env)
    text = "\n".join(exc.value.problems)
    assert "sources: source name 'web' is used twice" in text
    assert "budget: set exactly one of `file`" in text


def test_secret_values_never_in_error_messages(raw_config, env):
    raw_config["sources"][0]["token"] = 12345  # wrong type: pydantic would normally echo the input
    raw_config["sources"][0]["email"] = ["tok-jira-SECRET-123"]
    with pytest.raises(ConfigError) as exc:
        parse_config(raw_config, env)
    assert "SECRET" not in str(exc.value)
    assert "sources[0].email" in str(exc.value)


@pytest.mark.parametrize("text,expected", [("15m", timedelta(minutes=15)), ("24h", timedelta(hours=24)),
                                           ("7d", timedelta(days=7)), (90, timedelta(seconds=90))])
def test_durations(text, expected):
    assert parse_duration(text) == expected


def test_bad_duration_is_a_key_path_problem(raw_config, env):
    raw_config["full_sync_every"] = "daily"
    with pytest.raises(ConfigError, match=r"full_sync_every: 'daily' is not a duration"):
        parse_config(raw_config, env)


def test_yaml_syntax_error_names_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("timezone: UTC\nsources: [\n  - name: x\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line"):
        load_config(p, {})


def test_config_path_resolution_order(tmp_path, monkeypatch, raw_config, env):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "syncer.yaml").write_text(yaml.safe_dump(raw_config))
    assert load_config(None, env).sources[0].name == "web"
    raw_config["sources"][0]["name"] = "from-env"
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(raw_config))
    assert load_config(None, {**env, "SYNCER_CONFIG": "other.yaml"}).sources[0].name == "from-env"


def test_validate_cli_lists_all_problems_exit_2_no_traceback(tmp_path, raw_config, monkeypatch):
    raw_config["sources"][0]["url"] = "acme.atlassian.net"  # no scheme
    raw_config["sources"][1]["projects"] = []
    raw_config["capacity"] = {"hours_per_week": -1}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw_config))
    for k in ("JIRA_EMAIL", "JIRA_API_TOKEN", "ASANA_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    result = CliRunner().invoke(main, ["validate", "--config", str(path)])
    assert result.exit_code == 2
    out = result.output
    assert "Traceback" not in out
    assert "config error (6 problems)" in out
    for where in ("sources[0].url", "sources[1].projects", "capacity.hours_per_week",
                  "sources[0].email: environment variable JIRA_EMAIL is not set"):
        assert where in out


def test_validate_cli_ok(tmp_path, raw_config, monkeypatch, env):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw_config))
    result = CliRunner().invoke(main, ["validate", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "config OK: 2 source(s): web (jira), content (asana); sink: xlsx" in result.output
    assert "SECRET" not in result.output


def test_example_config_documents_every_top_level_key():
    from syncer.config import Config

    text = Path("config/example.yaml").read_text()
    for key in Config.model_fields:
        # `sink` and `sinks` exclude each other: the alternative is documented as a comment
        assert f"\n{key}:" in text or f"\n# {key}:" in text or text.startswith(f"{key}:"), key


def test_token_whitespace_is_stripped_and_inner_control_characters_refused(raw_config, env):
    env["JIRA_API_TOKEN"] = "tok-jira-SECRET-123\n"  # a secret set from a file often ends in a newline
    assert parse_config(raw_config, env).sources[0].token.get_secret_value() == "tok-jira-SECRET-123"
    env["JIRA_API_TOKEN"] = "tok-jira\nSECRET-123"
    with pytest.raises(ConfigError) as exc:
        parse_config(raw_config, env)
    assert "sources[0].token: contains spaces or control characters" in str(exc.value)
    assert "SECRET" not in str(exc.value)


def test_people_match_whatever_their_case(raw_config, env):
    raw_config["rates"] = {"default": 80, "people": {"Ana@Acme.com": 95}}
    raw_config["capacity"] = {"people": {"ZOË@acme.com": 20}}
    cfg = parse_config(raw_config, env)
    assert cfg.rates.people.get("ana@acme.com", 80) == 95 and cfg.rates.people.get("bob@acme.com", 80) == 80
    assert cfg.capacity.people.get("zoë@ACME.com", 32) == 20 and "zoë@acme.com" in cfg.capacity.people


def test_duplicate_names_are_reported_even_beside_other_errors(raw_config, env):
    raw_config["sources"][1]["name"] = "web"
    raw_config["sources"][1]["projects"] = []  # another problem in the same source
    with pytest.raises(ConfigError) as exc:
        parse_config(raw_config, env)
    assert "sources: source name 'web' is used twice; names must be unique" in exc.value.problems
    assert any(p.startswith("sources[1].projects:") for p in exc.value.problems)


def test_example_config_documents_every_nested_key(env):
    """Every key of every model (sources of each kind, sink of each kind, nested sections) appears in the example."""
    from syncer.config import (
        AsanaSourceConfig,
        BudgetConfig,
        CapacityConfig,
        GsheetSinkConfig,
        IntakeConfig,
        JiraSourceConfig,
        RatesConfig,
        ReplaySourceConfig,
        StateConfig,
        XlsxSinkConfig,
    )

    text = Path(__file__).resolve().parents[1].joinpath("config/example.yaml").read_text()
    for model in (JiraSourceConfig, AsanaSourceConfig, ReplaySourceConfig, IntakeConfig, BudgetConfig, RatesConfig,
                  CapacityConfig, GsheetSinkConfig, XlsxSinkConfig, StateConfig):
        for key in model.model_fields:
            assert f"{key}:" in text, f"{model.__name__}.{key} is not documented in config/example.yaml"
