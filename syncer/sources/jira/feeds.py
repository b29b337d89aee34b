"""Jira's paging styles (search and changelog tokens, the worklog feeds' `since`/`until`) and the JQL of an
incremental read."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syncer.sources.paging import follow
from syncer.sources.shapes import obj

WESTMOST = timedelta(hours=12)  # UTC-12: with the user's zone unknown, a UTC time this much earlier is safe
_ORDER_BY = re.compile(r"\s+order\s+by\s.*$", re.IGNORECASE | re.DOTALL)
# Jira refuses `id in (...)` naming an issue that was deleted or hidden from this account, with one message per id:
# "A value with ID '10001' does not exist for the field 'id'." (in the API user's language): the ids are what counts.
NUMBER = re.compile(r"\d+")


def token_pages(fetch: Callable[[str | None], dict], what: str) -> Iterator[tuple[str | None, dict]]:
    """(token sent, body) until a page has no `nextPageToken` (`isLast` is optional)."""
    def next_token(body: dict) -> str | None:  # a body of another shape ends the paging (the mapping names it)
        body = obj(body)
        return None if body.get("isLast") is True else body.get("nextPageToken") or None

    return follow(fetch, next_token, what)


class FeedStalled(Exception):
    """A /worklog/updated-style feed cannot move on: more than a page of changes share one millisecond."""


def since_pages(fetch: Callable[[int], dict], since: int, what: str) -> Iterator[tuple[int, dict]]:
    """(since sent, body) of /worklog/updated-style paging: `until` is the next `since` until `lastPage`."""
    sent = [since]

    def next_since(body: dict) -> int | None:
        body = obj(body)
        until = body.get("until")
        if body.get("lastPage", True) or not body.get("values"):
            return None
        if not isinstance(until, int) or until <= sent[-1]:
            # The next page would start where this one did (the feed pages by time, 1000 values at most).
            raise FeedStalled(what)
        sent.append(until)
        return until

    return follow(lambda s: fetch(since if s is None else s), next_since, what, first=since)  # type: ignore[return-value]


def jql_time(since: datetime, zone: str | None) -> str:
    """`since` as a JQL date: minute precision, in the API user's zone, floored so nothing is skipped."""
    try:
        tz = ZoneInfo(zone) if zone else None
    except (ZoneInfoNotFoundError, ValueError):
        tz = None
    if tz is None:
        return (since - WESTMOST).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    local = since.astimezone(tz)
    # In the hour a clock is turned back, this wall time names two instants and Jira may read the later one: write
    # the wall time of an instant that much earlier instead (re-reading an hour is harmless, skipping it is not).
    wall = local.replace(tzinfo=None)
    offsets = [wall.replace(tzinfo=tz, fold=fold).utcoffset() or timedelta(0) for fold in (0, 1)]
    if offsets[0] != offsets[1]:
        local = (since - abs(offsets[0] - offsets[1])).astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M")


def incremental_jql(jql: str, since_text: str | None, issue_ids: list[str]) -> str:
    """`jql` narrowed to issues updated since `since_text` (when given) or with one of `issue_ids`."""
    order = _ORDER_BY.search(jql)
    base, suffix = (jql[: order.start()], order.group(0)) if order else (jql, "")
    terms = [f'updated >= "{since_text}"'] if since_text else []
    if issue_ids:
        terms.append(f"id in ({', '.join(issue_ids)})")
    return f"({base.strip()}) AND ({' OR '.join(terms)}){suffix}"
