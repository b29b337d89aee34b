"""The live Jira Cloud source: search, full changelogs and worklogs fetched as raw pages, mapped like a replay."""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syncer.config import Config, JiraSourceConfig
from syncer.errors import ConfigError, SourceError, SyncerError
from syncer.retry import RetryPolicy
from syncer.sources import FetchResult, Page
from syncer.sources.jira.client import JiraClient, NotFound, SearchRejected, site_url
from syncer.sources.jira.mapping import (
    BASE_FIELDS,
    BULK_CHANGELOG_PATH,
    FIELD_PATH,
    ISSUE_WORKLOG_PATH,
    SEARCH_PATH,
    STATUS_PATH,
    resolve_fields,
    status_entry,
    tasks_from_pages,
)

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
# Jira refuses `id in (...)` naming an issue that was deleted or hidden from this account, with one message per id:
# "A value with ID '10001' does not exist for the field 'id'." (in the API user's language): the ids are what counts.
_NUMBER = re.compile(r"\d+")

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


class _FeedStalled(Exception):
    """A /worklog/updated-style feed cannot move on: more than a page of changes share one millisecond."""


def since_pages(fetch: Callable[[int], dict], since: int, what: str) -> Iterator[tuple[int, dict]]:
    """(since sent, body) of /worklog/updated-style paging: `until` is the next `since` until `lastPage`."""
    while True:
        body = fetch(since)
        yield since, body
        until = body.get("until")
        if body.get("lastPage", True) or not body.get("values"):
            return
        if not isinstance(until, int) or until <= since:
            # The next page would start where this one did (the feed pages by time, 1000 values at most).
            raise _FeedStalled(what)
        since = until


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
        self.full = False  # whether the last fetch read everything (an incremental one can turn full)
        self.gone: list[str] = []  # keys of issues that vanished from Jira during or since the last run
        # issue id -> its worklog ids as of the last run: /worklog/deleted names only the worklog.
        self.worklog_ids: dict[str, list[str]] | None = None
        self.issue_keys: dict[str, str] = {}  # issue id -> key, for the same issues
        # The site look-ups of the last full run, for incremental runs: "cloud", "fields", "statuses" (trimmed to what
        # the mapping reads), "time_zone", and the "url" and "email" they hold for (see `_look_up`).
        self.site: dict[str, Any] = {}

    @property
    def requests(self) -> int:
        return self.client.requests if self.client else 0

    def replay_meta(self) -> dict[str, Any]:
        """What `syncer fetch` records so the replay source maps the pages like this source."""
        return {"api": "jira", "base_url": self.cfg.url}

    def load_checkpoint(self, data: dict[str, Any] | None) -> None:
        """Restore what the last successful run saved: the worklog index, the issues' keys and the site look-ups."""
        index, keys = (data or {}).get("worklogs"), (data or {}).get("keys")
        self.worklog_ids = {str(k): list(v) for k, v in index.items()} if isinstance(index, dict) else None
        self.issue_keys = {str(k): str(v) for k, v in keys.items()} if isinstance(keys, dict) else {}
        self.site = self._usable_site((data or {}).get("site"))

    def checkpoint(self) -> dict[str, Any] | None:
        """What the next incremental run needs; the pipeline saves it with the cursor."""
        data: dict[str, Any] = {}
        if self.worklog_ids is not None:
            data.update(worklogs=self.worklog_ids, keys=self.issue_keys)
        if self.site:
            data["site"] = self.site
        return data or None

    def _usable_site(self, site: Any) -> dict[str, Any]:
        """The saved look-ups when they are of this site and this account (a config may point elsewhere since)."""
        if not isinstance(site, dict) or (site.get("url"), site.get("email")) != (self._site_url, self.cfg.email):
            return {}
        out: dict[str, Any] = {"url": self._site_url, "email": self.cfg.email}
        if site.get("cloud") is True:
            out["cloud"] = True
        for name in ("fields", "statuses"):
            if isinstance(site.get(name), list) and all(isinstance(x, dict) for x in site[name]):
                out[name] = site[name]
        if "time_zone" in site and isinstance(site["time_zone"], str | None):
            out["time_zone"] = site["time_zone"]
        return out

    @property
    def _site_url(self) -> str:
        return site_url(self.cfg)

    def read(self, since: datetime | None, now: datetime) -> FetchResult:
        """Fetch the pages and map them with the shared `tasks_from_pages`; complete when everything was read."""
        pages = list(self.fetch_pages(since, now))
        fetched = {p.endpoint for p in pages}
        # Look-ups this run took from the checkpoint instead of asking Jira: mapped as if fetched, first.
        cached = [Page(f"GET {path}", {}, self.site[name]) for path, name in ((FIELD_PATH, "fields"),
                  (STATUS_PATH, "statuses")) if f"GET {path}" not in fetched and name in self.site]
        pages = [*cached, *pages]
        tasks, warnings = tasks_from_pages(
            pages, self.name, self.cfg.url, self.cfg.fields, self.cfg.stages, self.settings.tz, self.where,
            self.settings.currency,
        )
        # An issue that vanished mid-sync may sit on a search page: it is dropped, with its warnings.
        gone = set(self.gone)
        prefixes = tuple(f"{self.name} {key}:" for key in gone)
        return FetchResult(tasks=[t for t in tasks if t.key not in gone], complete=self.full, requests=self.requests,
                           warnings=[*self.warnings, *(w for w in warnings if not w.startswith(prefixes))],
                           deleted_keys=sorted(gone))

    def fetch_pages(self, since: datetime | None, now: datetime | None = None) -> Iterator[Page]:
        """Every raw page of a full (`since` None) or incremental read, in fetch order."""
        if not self.cfg.jql.strip():
            raise ConfigError(f"{self.where}.jql: set a query such as 'project = MKT' "
                              "(Jira Cloud refuses unbounded searches)")
        self.warnings, self.gone, self.full = [], [], since is None
        # An incremental run uses the look-ups of the last full run (Cloud or not, fields, statuses, time zone).
        cache = {} if self.full else dict(self.site)
        client = self.client = JiraClient(self.cfg, self.where, self.policy)
        client.connect(check_cloud=not cache.get("cloud"))
        changed: set[str] = set()
        if since is not None:
            try:
                changed = yield from self._worklog_changes(client, since)
            except _FeedStalled as e:
                self.warnings.append(f"{self.name}: {e} cannot page past a moment with more than 1000 worklog "
                                     "changes (a bulk import?), so this run reads every issue instead")
                self.full = True
                if cache.get("cloud"):  # a full run after all: it checks and refreshes what full runs do
                    client.check_cloud()
                cache = {}
        field_ids = yield from self._look_up(client, cache)
        wanted = list(dict.fromkeys([*BASE_FIELDS, *field_ids.values()]))
        index: dict[str, list[str]] | None = {}
        keys: dict[str, str] = {}
        vanished: set[str] = set()  # ids Jira no longer knows (filled while the searches run)
        if self.full:
            searches = self._search_own(client, wanted)
        else:
            assert since is not None
            searches = self._search_changed(client, jql_time(since, self.site["time_zone"]), changed, wanted, vanished)
            # Without last run's index, a partial one would hide the issues it lacks: wait for a full run.
            index = dict(self.worklog_ids) if self.worklog_ids is not None else None
            keys = dict(self.issue_keys)
        history = ["status", *(field_ids[c] for c in AMOUNT_HISTORY if c in field_ids)]
        issues: dict[str, dict] = {}
        batch: list[str] = []
        for page in searches:
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
            # An issue deleted since its search page is simply absent from the changelogs (kept without history).
            yield from self._changelogs(client, batch, history)
        for issue_id in sorted(vanished, key=int):
            known = keys.pop(issue_id, None)
            if index is not None:
                index.pop(issue_id, None)
            if known:
                self.gone.append(known)
            else:
                self.warnings.append(f"{self.name}: issue id {issue_id} no longer exists in Jira (or this account "
                                     "cannot see it); if it was synced before, the next full run removes it")
        for issue_id, issue in issues.items():
            key = str(issue.get("key"))
            embedded = (issue.get("fields") or {}).get("worklog") or {}
            logs = embedded.get("worklogs") or []
            if (embedded.get("total") or 0) > len(logs):  # the issue carries at most 20: page the rest
                try:
                    logs = yield from self._worklogs(client, key)
                except NotFound:
                    self.warnings.append(f"{self.name} {key}: dropped from this run: the issue was deleted in Jira "
                                         "(or hidden from this account) during the sync (HTTP 404 on its worklogs)")
                    self.gone.append(key)
                    keys.pop(issue_id, None)
                    if index is not None:
                        index.pop(issue_id, None)
                    continue
            if index is not None:
                index[issue_id] = [str(w.get("id")) for w in logs]
                keys[issue_id] = key
        self.worklog_ids, self.issue_keys = index, keys if index is not None else {}

    def _look_up(self, client: JiraClient, cache: dict[str, Any]) -> PageGen:
        """Field ids of the config (returned), statuses and the API user's time zone: from `cache` (the checkpoint's,
        on an incremental run) where it has them, else from Jira; `self.site` then holds them for the next run.

        A configured field name the cached list cannot resolve (the config changed since) is looked up afresh, so a
        field renamed in Jira is still a ConfigError rather than an empty column."""
        fields, field_ids = cache.get("fields"), None
        if fields is not None:
            try:
                field_ids = resolve_fields(self.cfg.fields, fields, self.where)
            except ConfigError:
                field_ids = None
        if field_ids is None:
            fields = client.fields()
            yield Page(f"GET {FIELD_PATH}", {}, fields)
            field_ids = resolve_fields(self.cfg.fields, fields, self.where)
            cache["fields"] = [{k: f[k] for k in ("id", "name") if k in f} for f in fields if isinstance(f, dict)]
        if "statuses" not in cache:
            statuses = client.statuses()
            yield Page(f"GET {STATUS_PATH}", {}, statuses)
            cache["statuses"] = [
                {"id": s.get("id"), "name": name, "statusCategory": {"key": category}}
                for s in statuses if isinstance(s, dict) for name, category in [status_entry(s)]
            ]
        if "time_zone" not in cache:  # incremental runs' JQL dates are read in it (a full run asks for them)
            cache["time_zone"] = client.time_zone()
        self.site = {**cache, "url": self._site_url, "email": self.cfg.email, "cloud": True}
        return field_ids

    def _search(self, client: JiraClient, jql: str, fields: list[str]) -> Iterator[Page]:
        """The pages of one search. A 400 on the first page raises SearchRejected for the caller to judge."""
        base: dict[str, Any] = {"jql": jql, "maxResults": self.cfg.page_size, "fields": ",".join(fields)}

        def fetch(token: str | None) -> dict[str, Any]:
            try:
                return client.search({**base, "nextPageToken": token} if token else base)
            except SearchRejected as e:
                if token is None:
                    raise
                raise SourceError(f"{self.where}: Jira at {client.site} no longer accepts the search's page token "
                                  f"({e.detail}); tokens expire when paging takes long: run the sync again") from None

        for token, body in token_pages(fetch, f"{client.site} search"):
            yield Page(f"GET {SEARCH_PATH}", {**base, "nextPageToken": token} if token else base, body)

    def _search_own(self, client: JiraClient, fields: list[str]) -> Iterator[Page]:
        """A full read: the configured JQL as it stands, so a 400 on its first page is the query's fault."""
        try:
            yield from self._search(client, self.cfg.jql, fields)
        except SearchRejected as e:
            raise ConfigError(f"{self.where}.jql: Jira at {client.site} rejected the query: {e.detail}") from None

    def _search_changed(self, client: JiraClient, since_text: str, issue_ids: Iterable[str], fields: list[str],
                        vanished: set[str]) -> Iterator[Page]:
        """An incremental read: issues updated since, and issues whose worklogs changed (by id, in chunks)."""
        ids = sorted(set(issue_ids), key=lambda i: (len(i), i))
        chunks = [ids[i : i + IDS_PER_JQL] for i in range(0, len(ids), IDS_PER_JQL)] or [[]]
        for n, chunk in enumerate(chunks):
            when = since_text if n == 0 else None
            while when or chunk:  # every retry has fewer ids, so this ends
                try:
                    yield from self._search(client, incremental_jql(self.cfg.jql, when, chunk), fields)
                    break
                except SearchRejected as e:
                    # An issue deleted (or hidden) since it was indexed: Jira refuses the whole query, naming it.
                    missing = set(_NUMBER.findall(e.text)) & set(chunk)
                    if not missing:
                        raise self._rejected(client, e) from None
                    vanished |= missing
                    chunk = [i for i in chunk if i not in missing]

    def _rejected(self, client: JiraClient, e: SearchRejected) -> SyncerError:
        """Whose fault a 400 on an incremental search is: one search of the configured JQL alone tells."""
        try:
            client.search({"jql": self.cfg.jql, "maxResults": 1, "fields": "id"})
        except SearchRejected as own:
            return ConfigError(f"{self.where}.jql: Jira at {client.site} rejected the query: {own.detail}")
        return SourceError(f"{self.where}: Jira at {client.site} rejected the incremental search syncer built from "
                           f"the query ({e.detail}); run the sync again, or with --full if this persists")

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
        ids: dict[int, None] = {}  # in order, once: consecutive pages share their boundary millisecond
        for since, body in since_pages(lambda s: client.get(path, {"since": s}), since_ms, f"Jira's {path}"):
            yield Page(f"GET {path}", {"since": since}, body)
            ids.update(dict.fromkeys(v.get("worklogId") for v in body.get("values") or []))
        return list(ids)
