"""The live Jira Cloud source: search, full changelogs and worklogs fetched as raw pages, mapped like a replay."""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syncer.adapters import FetchResult, Page
from syncer.adapters.jira.client import JiraClient
from syncer.adapters.jira.mapping import (
    BASE_FIELDS,
    BULK_CHANGELOG_PATH,
    FIELD_PATH,
    ISSUE_WORKLOG_PATH,
    SEARCH_PATH,
    STATUS_PATH,
    resolve_fields,
    tasks_from_pages,
)
from syncer.config import Config, JiraSourceConfig
from syncer.errors import ConfigError, SourceError
from syncer.retry import RetryPolicy

WORKLOG_UPDATED_PATH = "/rest/api/3/worklog/updated"
WORKLOG_DELETED_PATH = "/rest/api/3/worklog/deleted"
WORKLOG_LIST_PATH = "/rest/api/3/worklog/list"
CHANGELOG_ISSUES = 1000  # issues per bulk changelog request: the endpoint's limit
CHANGELOG_PAGE = 1000  # change histories per bulk changelog page
WORKLOG_PAGE = 5000  # worklogs per /issue/{key}/worklog page: the endpoint's maximum
WORKLOG_IDS = 1000  # ids per POST /worklog/list: the endpoint's limit
IDS_PER_JQL = 100  # issue ids per `id in (...)` clause, so a search URL stays short
AMOUNT_HISTORY = ("committed_amount", "invoiced_amount")  # fields whose first value dates an amount (SPEC §8)
WESTMOST = timedelta(hours=12)  # UTC-12: with the user's zone unknown, a UTC time this much earlier is safe
_ORDER_BY = re.compile(r"\s+order\s+by\s.*$", re.IGNORECASE | re.DOTALL)

PageGen = Generator[Page, None, Any]


def token_pages(fetch: Callable[[str | None], dict], what: str) -> Iterator[tuple[str | None, dict]]:
    """(token sent, body) until a page has no `nextPageToken` (`isLast` is optional); a repeated token is an error."""
    token: str | None = None
    seen: set[str] = set()
    while True:
        body = fetch(token)
        yield token, body
        token = body.get("nextPageToken")
        if not token or body.get("isLast") is True:
            return
        if token in seen:
            raise SourceError(f"{what}: the server sent the same page token twice; stopping rather than looping")
        seen.add(token)


def since_pages(fetch: Callable[[int], dict], since: int, what: str) -> Iterator[tuple[int, dict]]:
    """(since sent, body) of /worklog/updated-style paging: `until` is the next `since` until `lastPage`."""
    while True:
        body = fetch(since)
        yield since, body
        until = body.get("until")
        if body.get("lastPage", True) or not body.get("values"):
            return
        if not isinstance(until, int) or until <= since:
            raise SourceError(f"{what}: the next page would start where this one did; stopping rather than looping")
        since = until


def jql_time(since: datetime, zone: str | None) -> str:
    """`since` as a JQL date: minute precision, in the API user's zone, floored so nothing is skipped."""
    try:
        tz = ZoneInfo(zone) if zone else None
    except (ZoneInfoNotFoundError, ValueError):
        tz = None
    local = since.astimezone(tz) if tz else (since - WESTMOST).astimezone(UTC)
    return local.strftime("%Y-%m-%d %H:%M")


def incremental_jqls(jql: str, since_text: str, issue_ids: Iterable[str]) -> list[str]:
    """The searches of an incremental read: issues updated since, and issues whose worklogs changed."""
    order = _ORDER_BY.search(jql)
    base, suffix = (jql[: order.start()], order.group(0)) if order else (jql, "")
    ids = sorted(set(issue_ids), key=lambda i: (len(i), i))
    chunks = [ids[i : i + IDS_PER_JQL] for i in range(0, len(ids), IDS_PER_JQL)] or [[]]
    out = []
    for n, chunk in enumerate(chunks):
        terms = [f'updated >= "{since_text}"'] if n == 0 else []
        if chunk:
            terms.append(f"id in ({', '.join(chunk)})")
        out.append(f"({base.strip()}) AND ({' OR '.join(terms)}){suffix}")
    return out


class JiraSource:
    """Jira Cloud through REST v3. `read` maps exactly the pages `fetch_pages` yields, as the replay source does."""

    def __init__(
        self, cfg: JiraSourceConfig, settings: Config, where: str = "sources", policy: RetryPolicy | None = None,
        **_: Any,
    ):
        self.name, self.cfg, self.settings, self.where = cfg.name, cfg, settings, where
        self.policy = policy or RetryPolicy()
        self.client: JiraClient | None = None
        self.warnings: list[str] = []
        # issue id -> its worklog ids as of the last run: /worklog/deleted names only the worklog.
        self.worklog_ids: dict[str, list[str]] | None = None

    @property
    def requests(self) -> int:
        return self.client.requests if self.client else 0

    def replay_meta(self) -> dict[str, Any]:
        """What `syncer fetch` records so the replay source maps the pages like this source."""
        return {"api": "jira", "base_url": self.cfg.url}

    def load_checkpoint(self, data: dict[str, Any] | None) -> None:
        """Restore what the last successful run saved (the worklog index)."""
        index = (data or {}).get("worklogs")
        self.worklog_ids = {str(k): list(v) for k, v in index.items()} if isinstance(index, dict) else None

    def checkpoint(self) -> dict[str, Any] | None:
        """What the next incremental run needs; the pipeline saves it with the cursor."""
        return None if self.worklog_ids is None else {"worklogs": self.worklog_ids}

    def read(self, since: datetime | None, now: datetime) -> FetchResult:
        """Fetch the pages and map them with the shared `tasks_from_pages`; complete when `since` is None."""
        pages = list(self.fetch_pages(since, now))
        tasks, warnings = tasks_from_pages(
            pages, self.name, self.cfg.url, self.cfg.fields, self.cfg.stages, self.settings.tz, self.where
        )
        return FetchResult(tasks=tasks, complete=since is None, requests=self.requests,
                           warnings=[*self.warnings, *warnings])

    def fetch_pages(self, since: datetime | None, now: datetime | None = None) -> Iterator[Page]:
        """Every raw page of a full (`since` None) or incremental read, in fetch order."""
        if not self.cfg.jql.strip():
            raise ConfigError(f"{self.where}.jql: set a query such as 'project = MKT' "
                              "(Jira Cloud refuses unbounded searches)")
        self.warnings = []
        client = self.client = JiraClient(self.cfg, self.where, self.policy)
        client.connect()
        fields = client.fields()
        yield Page(f"GET {FIELD_PATH}", {}, fields)
        field_ids = resolve_fields(self.cfg.fields, fields, self.where)
        yield Page(f"GET {STATUS_PATH}", {}, client.statuses())
        index: dict[str, list[str]] | None = {}
        if since is None:
            jqls = [self.cfg.jql]
        else:
            changed = yield from self._worklog_changes(client, since)
            jqls = incremental_jqls(self.cfg.jql, jql_time(since, client.time_zone()), changed)
            # Without last run's index, a partial one would hide the issues it lacks: wait for a full run.
            index = dict(self.worklog_ids) if self.worklog_ids is not None else None
        wanted = list(dict.fromkeys([*BASE_FIELDS, *field_ids.values()]))
        history = ["status", *(field_ids[c] for c in AMOUNT_HISTORY if c in field_ids)]
        issues: dict[str, dict] = {}
        batch: list[str] = []
        for jql in jqls:
            for page in self._search(client, jql, wanted):
                yield page
                # An issue can come twice (several searches, or it moved mid-paging): its history is fetched once.
                for issue in page.body.get("issues") or []:
                    issue_id = str(issue.get("id"))
                    batch += [] if issue_id in issues else [issue_id]
                    issues[issue_id] = issue
                while len(batch) >= CHANGELOG_ISSUES:
                    yield from self._changelogs(client, batch[:CHANGELOG_ISSUES], history)
                    batch = batch[CHANGELOG_ISSUES:]
        if batch:
            yield from self._changelogs(client, batch, history)
        for issue_id, issue in issues.items():
            embedded = (issue.get("fields") or {}).get("worklog") or {}
            logs = embedded.get("worklogs") or []
            if (embedded.get("total") or 0) > len(logs):  # the issue carries at most 20: page the rest
                logs = yield from self._worklogs(client, str(issue.get("key")))
            if index is not None:
                index[issue_id] = [str(w.get("id")) for w in logs]
        self.worklog_ids = index

    def _search(self, client: JiraClient, jql: str, fields: list[str]) -> Iterator[Page]:
        size = self.cfg.page_size
        for token, body in token_pages(lambda t: client.search(jql, fields, size, t), f"{client.site} search"):
            params: dict[str, Any] = {"jql": jql, "maxResults": size, "fields": ",".join(fields)}
            if token:
                params["nextPageToken"] = token
            yield Page(f"GET {SEARCH_PATH}", params, body)

    def _changelogs(self, client: JiraClient, issue_ids: list[str], field_ids: list[str]) -> Iterator[Page]:
        # The changelog embedded by `expand=changelog` is truncated; the bulk endpoint pages through all of it.
        # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-changelog-bulkfetch-post
        request = {"issueIdsOrKeys": issue_ids, "fieldIds": field_ids, "maxResults": CHANGELOG_PAGE}

        def body_for(token: str | None) -> dict[str, Any]:
            return {**request, "nextPageToken": token} if token else request

        pages = token_pages(lambda t: client.post(BULK_CHANGELOG_PATH, body_for(t)), f"{client.site} changelogs")
        for token, body in pages:
            yield Page(f"POST {BULK_CHANGELOG_PATH}", body_for(token), body)

    def _worklogs(self, client: JiraClient, key: str) -> PageGen:
        path, start, logs = ISSUE_WORKLOG_PATH.format(key=key), 0, []
        while True:
            params = {"startAt": start, "maxResults": WORKLOG_PAGE}
            body = client.get(path, params)
            yield Page(f"GET {path}", params, body)
            got = body.get("worklogs") or []
            logs.extend(got)
            start += len(got)
            if not got or start >= int(body.get("total") or 0):
                return logs

    def _worklog_changes(self, client: JiraClient, since: datetime) -> PageGen:
        """Ids of issues whose worklogs were added, edited (even back-dated) or deleted since `since`."""
        # These endpoints list worklogs changed in the whole site (the last minute excluded); an issue's `updated`
        # need not move when only a worklog changes.
        # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-worklogs/#api-rest-api-3-worklog-updated-get
        since_ms = int(since.timestamp() * 1000)
        updated = yield from self._since(client, WORKLOG_UPDATED_PATH, since_ms)
        deleted = yield from self._since(client, WORKLOG_DELETED_PATH, since_ms)
        changed: set[str] = set()
        for i in range(0, len(updated), WORKLOG_IDS):
            body = {"ids": updated[i : i + WORKLOG_IDS]}
            logs = client.post(WORKLOG_LIST_PATH, body)
            yield Page(f"POST {WORKLOG_LIST_PATH}", body, logs)
            changed |= {str(w.get("issueId")) for w in logs or []}
        known = self.worklog_ids
        if known is None:
            if deleted:
                self.warnings.append(f"{self.name}: {len(deleted)} deleted worklog(s) since the last run cannot be "
                                     "traced to their issues yet; the next full run corrects the hours")
            return changed
        owner = {w: issue for issue, ids in known.items() for w in ids}
        # Worklogs of other projects show up too; only issues this source has seen (or updated ones) matter.
        return (changed & known.keys()) | {owner[str(w)] for w in deleted if str(w) in owner}

    def _since(self, client: JiraClient, path: str, since_ms: int) -> PageGen:
        ids: list[int] = []
        for since, body in since_pages(lambda s: client.get(path, {"since": s}), since_ms, f"{client.site} {path}"):
            yield Page(f"GET {path}", {"since": since}, body)
            ids.extend(v.get("worklogId") for v in body.get("values") or [])
        return ids
