"""Shared fixtures: a minimal valid config tree, an env with the variables it references, and the fake Sheets API."""

from __future__ import annotations

import copy

import pytest

BASE_CONFIG = {
    "timezone": "Europe/Berlin",
    "fiscal_year_start_month": 4,
    "currency": "EUR",
    "sources": [
        {
            "name": "web",
            "kind": "jira",
            "url": "https://acme.atlassian.net",
            "email": "${JIRA_EMAIL}",
            "token": "${JIRA_API_TOKEN}",
            "jql": "project = MKT",
            "fields": {"campaign": "Campaign"},
            "stages": {"Request": "intake"},
        },
        {"name": "content", "kind": "asana", "token": "${ASANA_TOKEN}", "projects": ["1201"]},
    ],
    "sink": {"kind": "xlsx", "path": "out/test.xlsx"},
}
ENV = {"JIRA_EMAIL": "ops@acme.com", "JIRA_API_TOKEN": "tok-jira-SECRET-123", "ASANA_TOKEN": "tok-asana-SECRET-456"}


@pytest.fixture
def raw_config() -> dict:
    return copy.deepcopy(BASE_CONFIG)


@pytest.fixture
def env() -> dict:
    return dict(ENV)


@pytest.fixture
def fake():
    """A running fake Sheets API that must end the test without a violation; test modules faking another API
    (Jira, Asana) or seeding the sheet define their own `fake`, which takes precedence."""
    from fake_sheets import running_fake

    with running_fake() as f:
        yield f
    assert f.violations == []
