"""Jira worklogs -> canonical Worklogs: each read once, as its page is gathered or as its issue is mapped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncer.model import Problem, Worklog
from syncer.sources.fields import MappingError, hours, parse_ts, worklogs_read
from syncer.sources.shapes import Mapped


def map_worklogs(raw: list[Any], problems: list[Problem]) -> list[Worklog]:
    """The worklogs of an issue: each read now (`read_worklog`), or read already as its page was gathered."""
    return worklogs_read(raw if isinstance(raw, list) else [], read_worklog, problems)


def read_worklog(w: Any) -> Worklog | Problem:
    """One raw worklog mapped, or the problem that skips it (the task stays)."""
    try:
        return to_worklog(w)
    except (MappingError, ValueError, TypeError, AttributeError, OverflowError) as e:
        wid = w.get("id", "?") if isinstance(w, dict) else "?"
        return Problem("worklog_unreadable", "worklogs", f"worklog {wid} was skipped: {e}")


def with_worklogs_read(issue: dict) -> dict:
    """A search issue with its embedded worklogs mapped as it is gathered, so the read holds small records, not
    every worklog's raw object, until the issue is mapped (a copy: the page is not changed)."""
    f = issue.get("fields")
    embedded = f.get("worklog") if isinstance(f, dict) else None
    if not isinstance(embedded, dict) or not isinstance(embedded.get("worklogs"), list):
        return issue
    read = [read_worklog(w) for w in embedded["worklogs"]]
    return {**issue, "fields": {**f, "worklog": {**embedded, "worklogs": read}}}


def worklogs_of(raw: Mapping[str, Any], f: Mapping[str, Any]) -> list[dict]:
    if raw.get("worklogs") is not None:
        return raw["worklogs"]
    embedded = f.get("worklog") or {}
    return (embedded.get("worklogs") or []) if isinstance(embedded, dict) else []


def to_worklog(w: Mapping[str, Any]) -> Worklog:
    """One Jira worklog -> Worklog (author by email, else display name, else account id)."""
    author = w.get("author") or w.get("updateAuthor") or {}
    who = author.get("emailAddress") or author.get("displayName") or author.get("accountId") or "unknown"
    return Worklog(who, parse_ts(w.get("started")), hours(w.get("timeSpentSeconds")))


def note_missing_worklogs(issue: dict, wl: Any, out: Mapped, source: str, key: str) -> None:
    f = issue.get("fields")
    embedded = f.get("worklog") if isinstance(f, dict) else None
    if wl is None and isinstance(embedded, dict) and isinstance(embedded.get("worklogs"), list):
        total = embedded.get("total")
        if isinstance(total, int) and total > len(embedded["worklogs"]):
            out.warnings.append(f"{source} {key}: only {len(embedded['worklogs'])} of {total} worklogs saved")
