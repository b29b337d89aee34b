"""Jira failures: the one retry policy (Retry-After, 5xx, connection errors), 401/403 config errors, 410 removed."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest
import requests
import responses
import yaml
from click.testing import CliRunner
from fake_jira import BASE_URL, FakeJira, source_config

from syncer.cli import main
from syncer.config import parse_config
from syncer.errors import ConfigError, SourceError
from syncer.retry import RetryPolicy
from syncer.sources.jira.source import JiraSource

WRONG_TOKEN = "wrong-token-Zq81x9"


@pytest.fixture
def fake():
    site = FakeJira()
    site.populate(5)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield site.install(rsps)


@pytest.fixture(autouse=True)
def package_never_sleeps(monkeypatch):
    """The jira package's own retry sleeps must be off: only RetryPolicy waits."""
    import jira.resilientsession

    def forbidden(seconds):
        raise AssertionError(f"the jira package slept {seconds}s on its own")

    monkeypatch.setattr(jira.resilientsession.time, "sleep", forbidden)


def read(fake: FakeJira, waits: list, **policy):
    cfg = parse_config({"sources": [source_config(fake)], "sink": {"kind": "xlsx", "path": "x.xlsx"}}, env={})
    src = JiraSource(cfg.sources[0], cfg, where="sources[0]", policy=RetryPolicy(sleep=waits.append, **policy))
    return src.read(None, fake.now)


def test_429_with_retry_after_waits_that_long_then_succeeds(fake):
    fake.fail("search", 429, headers={"Retry-After": "2"})
    waits: list[float] = []
    result = read(fake, waits)
    assert waits == [2.0]
    assert len(result.tasks) == 5 and fake.calls["search"] == 2


def test_503_with_retry_after_as_an_http_date(fake):
    clock = fake.now
    fake.fail("bulkfetch", 503, headers={"Retry-After": format_datetime(clock + timedelta(seconds=7), usegmt=True)})
    waits: list[float] = []
    read(fake, waits, now=lambda: clock)
    assert waits == [7.0]


def test_500_twice_then_success_backs_off_within_the_cap(fake):
    fake.fail("search", 500, times=2)
    waits: list[float] = []
    result = read(fake, waits, base=1.0, cap=60.0)
    assert len(waits) == 2 and 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0
    assert len(result.tasks) == 5 and fake.calls["search"] == 3
    assert result.requests == sum(fake.calls.values())  # retries are counted as requests


def test_connection_errors_are_retried(fake):
    fake.fail("field", requests.ConnectionError("connection reset"), times=1)
    waits: list[float] = []
    assert len(read(fake, waits).tasks) == 5 and len(waits) == 1


def test_retries_are_bounded(fake):
    fake.fail("search", 502, times=None)
    waits: list[float] = []
    with pytest.raises(SourceError, match=r"still answered HTTP 502 after 3 attempts"):
        read(fake, waits, attempts=3)
    assert fake.calls["search"] == 3 and len(waits) == 2


def test_410_is_a_clear_endpoint_removed_error(fake):
    fake.fail("search", 410, times=None)
    with pytest.raises(SourceError) as err:
        read(fake, [])
    assert "410 Gone" in str(err.value) and "removed this endpoint" in str(err.value)
    assert fake.calls["search"] == 1  # never retried


def test_403_names_the_account_and_the_key(fake):
    fake.fail("field", 403, headers={"X-Authentication-Denied-Reason": "CAPTCHA_CHALLENGE"}, times=None)
    with pytest.raises(ConfigError) as err:
        read(fake, [])
    assert "HTTP 403" in str(err.value) and "sources[0].token" in str(err.value) and "ops@acme.com" in str(err.value)


def test_401_exits_2_naming_the_site_and_never_the_token(fake, tmp_path):
    config = {
        "sources": [source_config(fake, email="${JIRA_EMAIL}", token="${JIRA_API_TOKEN}")],
        "sink": {"kind": "xlsx", "path": str(tmp_path / "out.xlsx")},
        "state": {"path": str(tmp_path / "state.db")},
    }
    path = tmp_path / "syncer.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {"JIRA_EMAIL": "ops@acme.com", "JIRA_API_TOKEN": WRONG_TOKEN}
    result = CliRunner().invoke(main, ["run", "--config", str(path)], env=env)
    assert result.exit_code == 2, result.output
    assert BASE_URL in result.output and "HTTP 401" in result.output
    assert "sources[0].token" in result.output and "api-tokens" in result.output
    assert WRONG_TOKEN not in result.output and "Traceback" not in result.output
    assert fake.calls["serverInfo"] == 1  # a 401 is not retried


def test_a_401_on_an_incremental_run_without_look_ups_names_the_credentials(fake):
    cfg = parse_config({"sources": [source_config(fake)], "sink": {"kind": "xlsx", "path": "x.xlsx"}}, env={})
    full = JiraSource(cfg.sources[0], cfg, where="sources[0]").read(None, fake.now)
    bad = parse_config({"sources": [source_config(fake, token=WRONG_TOKEN)],
                        "sink": {"kind": "xlsx", "path": "x.xlsx"}}, env={})
    src = JiraSource(bad.sources[0], bad, where="sources[0]")
    fake.calls.clear()
    with pytest.raises(ConfigError) as err:  # the site's look-ups are saved: the first request is a worklog feed
        src.read(fake.now - timedelta(minutes=20), fake.now, full.checkpoint)
    assert "HTTP 401" in str(err.value) and "sources[0].token" in str(err.value) and BASE_URL in str(err.value)
    assert WRONG_TOKEN not in str(err.value) and dict(fake.calls) == {"worklog_updated": 1}


def test_the_401_message_itself_holds_no_token(fake):
    cfg = parse_config({"sources": [source_config(fake, token=WRONG_TOKEN)],
                        "sink": {"kind": "xlsx", "path": "x.xlsx"}}, env={})
    with pytest.raises(ConfigError) as err:
        JiraSource(cfg.sources[0], cfg, where="sources[0]").read(None, fake.now)
    assert WRONG_TOKEN not in str(err.value) and BASE_URL in str(err.value)
