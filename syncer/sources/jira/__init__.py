"""Jira Cloud source: `source` fetches raw pages through `client`, `mapping` turns pages into tasks."""

from syncer.sources.jira.mapping import (
    BASE_FIELDS,
    BULK_CHANGELOG_PATH,
    DEFAULT_FIELDS,
    FIELD_PATH,
    ISSUE_CHANGELOG_PATH,
    ISSUE_WORKLOG_PATH,
    SEARCH_PATH,
    STATUS_PATH,
    JiraContext,
    adf_text,
    field_value,
    resolve_fields,
    tasks_from_pages,
    to_task,
    to_worklog,
)
from syncer.sources.jira.source import JiraSource

__all__ = [
    "BASE_FIELDS", "BULK_CHANGELOG_PATH", "DEFAULT_FIELDS", "FIELD_PATH", "ISSUE_CHANGELOG_PATH",
    "ISSUE_WORKLOG_PATH", "SEARCH_PATH", "STATUS_PATH", "JiraContext", "JiraSource", "adf_text", "field_value",
    "resolve_fields", "tasks_from_pages", "to_task", "to_worklog",
]
