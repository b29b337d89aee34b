"""The live Jira Cloud source: search, full changelogs and worklogs fetched as raw pages, mapped like a replay."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncer.checks import Inspection
from syncer.config import Config, JiraSourceConfig
from syncer.errors import ConfigError, SourceError, SyncerError
from syncer.progress import NO_PROGRESS, Progress
from syncer.retry import RetryPolicy
from syncer.sources import Checkpoint, FetchOutcome, FetchResult, MapContext, Page, PageStream, drain, reported
from syncer.sources.inflight import Fanout, Gate, in_order
from syncer.sources.jira.client import JiraClient, NotFound, SearchRejected, site_url
from syncer.sources.jira.feeds import NUMBER, FeedStalled, incremental_jql, jql_time, since_pages, token_pages
from syncer.sources.jira.inspect import inspect_site
from syncer.sources.jira.mapping import map_pages, resolve_fields, status_entry, tasks_on
from syncer.sources.jira.settings import (
    BASE_FIELDS,
    BULK_CHANGELOG_PATH,
    CHANGELOG_ISSUES,
    CHANGELOG_PAGE,
    FIELD_PATH,
    IDS_PER_JQL,
    ISSUE_WORKLOG_PATH,
    SEARCH_PATH,
    STATUS_PATH,
    WORKLOG_DELETED_PATH,
    WORKLOG_IDS,
    WORKLOG_LIST_PATH,
    WORKLOG_PAGE,
    WORKLOG_UPDATED_PATH,
)
from syncer.sources.jira.writeback import JiraWriter
from syncer.sources.shapes import dicts, obj

AMOUNT_HISTORY = ("committed_amount", "invoiced_amount")  # fields whose first value dates an amount (SPEC §8)
PageGen = Generator[Page, None, Any]
# The fetch yields pages, and futures of the pages of jobs running beside it, in the order of a sequential read.
Pending = Page | Future[list[Page]]
Jobs = dict[str, Future[tuple[list[Page], list]]]  # issue id -> its worklog pages and worklogs, being fetched


def _more_worklogs(issue: dict) -> bool:
    """Whether the issue has more worklogs than its search result embeds (at most 20)."""
    embedded = obj(obj(issue.get("fields")).get("worklog"))
    return _count(embedded.get("total")) > len(dicts(embedded.get("worklogs")))


@dataclass(slots=True)
class _Run:
    """One fetch's findings, built up while its pages are yielded and handed back as its FetchOutcome."""

    client: JiraClient
    full: bool  # reads everything (an incremental read can turn full)
    site: dict[str, Any]  # look-ups: "cloud", "fields", "statuses", "time_zone" (the last full run's, or fresh)
    index: dict[str, list[str]] | None  # issue id -> its worklog ids (None: unknown, wait for a full run)
    keys: dict[str, str]  # issue id -> key, for the same issues
    warnings: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # keys of issues that vanished from Jira during or since the last run

    def forget(self, issue_id: str) -> str | None:
        """Drop an issue from the index; its key if it was known."""
        if self.index is not None:
            self.index.pop(issue_id, None)
        return self.keys.pop(issue_id, None)

    def outcome(self, url: str, email: str) -> FetchOutcome:
        checkpoint: dict[str, Any] = {"site": {**self.site, "url": url, "email": email, "cloud": True}}
        if self.index is not None:
            checkpoint.update(worklogs=self.index, keys=self.keys)
        return FetchOutcome(complete=self.full, requests=self.client.requests, warnings=self.warnings,
                            deleted_keys=sorted(set(self.gone)), checkpoint=checkpoint)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class JiraSource:
    """Jira Cloud through REST v3. `read` maps exactly the pages `fetch_pages` yields, as the replay source does."""

    def __init__(
        self, cfg: JiraSourceConfig, settings: Config, where: str = "sources", policy: RetryPolicy | None = None,
        progress: Progress = NO_PROGRESS,
    ):
        self.name, self.cfg, self.settings, self.where = cfg.name, cfg, settings, where
        self.policy = policy or RetryPolicy()
        self.progress = progress  # told of every page as it arrives

    def replay_meta(self) -> dict[str, Any]:
        return {"api": "jira", "base_url": self.cfg.url}

    def map_context(self) -> MapContext:
        return MapContext(self.name, self.cfg.fields, self.cfg.stages, self.settings.tz, self.where,
                          self.settings.currency, base_url=self.cfg.url)

    def intake_writer(self) -> JiraWriter:
        return JiraWriter(self.cfg, self.where, self.policy)

    def inspect(self) -> Inspection:
        return inspect_site(JiraClient(self.cfg, self.where, self.policy), self.cfg, self.where)

    def read(self, since: datetime | None, now: datetime, checkpoint: Checkpoint | None = None) -> FetchResult:
        """Fetch the pages and map them with the shared `map_pages`; complete when everything was read."""
        pages, out = drain(reported(self.fetch_pages(since, now, checkpoint), self.progress, tasks_on))
        fetched, site = {p.endpoint for p in pages}, (out.checkpoint or {}).get("site", {})
        # Look-ups this run took from the checkpoint instead of asking Jira: mapped as if fetched, first.
        cached = [Page(f"GET {path}", {}, site[name]) for path, name in ((FIELD_PATH, "fields"),
                  (STATUS_PATH, "statuses")) if f"GET {path}" not in fetched and name in site]
        mapped = map_pages([*cached, *pages], self.map_context())
        # An issue that vanished mid-sync may sit on a search page: it is dropped, with its warnings.
        gone = set(out.deleted_keys)
        prefixes = tuple(f"{self.name} {key}:" for key in gone)
        return FetchResult(tasks=[t for t in mapped.tasks if t.key not in gone], complete=out.complete,
                           requests=out.requests,
                           warnings=[*out.warnings, *(w for w in mapped.warnings if not w.startswith(prefixes))],
                           deleted_keys=out.deleted_keys, checkpoint=out.checkpoint, anomalies=mapped.anomalies,
                           kept={k: v for k, v in mapped.kept.items() if k not in gone})

    def fetch_pages(self, since: datetime | None, now: datetime, checkpoint: Checkpoint | None = None) -> PageStream:
        """Every raw page of a full (`since` None) or incremental read, in the order a sequential read yields them;
        returns the outcome. Token chains (searches, a batch's changelog pages, the worklog feeds) go one request
        after another; changelog batches and per-issue worklog pages run beside them, `max_in_flight` requests
        at most (SPEC §9)."""
        return (yield from in_order(self._fetch(since, checkpoint)))

    def _fetch(self, since: datetime | None, checkpoint: Checkpoint | None) -> Generator[Pending, None, FetchOutcome]:
        if not self.cfg.jql.strip():
            raise ConfigError(f"{self.where}.jql: set a query such as 'project = MKT' "
                              "(Jira Cloud refuses unbounded searches)")
        run = self._start(since, checkpoint or {})
        changed: set[str] = set()
        if since is not None:
            try:
                changed = yield from self._worklog_changes(run, since)
            except FeedStalled as e:
                run.warnings.append(f"{self.name}: {e} cannot page past a moment with more than 1000 worklog "
                                    "changes (a bulk import?), so this run reads every issue instead")
                run.full, run.index, run.keys = True, {}, {}
                if run.site.get("cloud"):  # a full run after all: it checks and refreshes what full runs do
                    run.client.check_cloud()
                run.site = {}
        field_ids = yield from self._look_up(run)
        wanted = list(dict.fromkeys([*BASE_FIELDS, *field_ids.values()]))
        vanished: set[str] = set()  # ids Jira no longer knows (filled while the searches run)
        if run.full:
            searches = self._search_own(run.client, wanted)
        else:
            assert since is not None
            searches = self._search_changed(run.client, jql_time(since, run.site["time_zone"]), changed, wanted,
                                            vanished)
        history = ["status", *(field_ids[c] for c in (*AMOUNT_HISTORY, "flagged") if c in field_ids)]
        with Fanout(run.client.gate, self.name).running() as fan:
            with run.client.gate.leading():
                issues, jobs = yield from self._issues_with_history(run.client, fan, searches, history)
            for issue_id in sorted(vanished, key=int):
                if known := run.forget(issue_id):
                    run.gone.append(known)
                else:
                    run.warnings.append(f"{self.name}: issue id {issue_id} no longer exists in Jira (or this "
                                        "account cannot see it); if it was synced before, the next full run removes it")
            yield from self._all_worklogs(run, fan, issues, jobs)
        return run.outcome(site_url(self.cfg), self.cfg.email)

    def _start(self, since: datetime | None, checkpoint: Checkpoint) -> _Run:
        """Connect, and take what an incremental read may reuse from the last run's checkpoint."""
        full = since is None
        # An incremental run uses the look-ups of the last full run (Cloud or not, fields, statuses, time zone).
        site = {} if full else self._usable_site(checkpoint.get("site"))
        index, keys = checkpoint.get("worklogs"), checkpoint.get("keys")
        index = {str(k): list(v) for k, v in index.items()} if isinstance(index, dict) and not full else None
        keys = {str(k): str(v) for k, v in keys.items()} if isinstance(keys, dict) and index is not None else {}
        client = JiraClient(self.cfg, self.where, self.policy, Gate(self.cfg.max_in_flight))
        client.connect(check_cloud=not site.get("cloud"))
        # Without last run's index, a partial one would hide the issues it lacks: wait for a full run.
        return _Run(client, full, site, {} if full else index, keys)

    def _usable_site(self, site: Any) -> dict[str, Any]:
        """The saved look-ups when they are of this site and this account (a config may point elsewhere since)."""
        if not isinstance(site, dict) or (site.get("url"), site.get("email")) != (site_url(self.cfg), self.cfg.email):
            return {}
        out: dict[str, Any] = {}
        if site.get("cloud") is True:
            out["cloud"] = True
        for name in ("fields", "statuses"):
            if isinstance(site.get(name), list) and all(isinstance(x, dict) for x in site[name]):
                out[name] = site[name]
        if "time_zone" in site and isinstance(site["time_zone"], str | None):
            out["time_zone"] = site["time_zone"]
        return out

    def _issues_with_history(self, client: JiraClient, fan: Fanout, searches: Iterator[Page],
                             history: list[str]) -> Generator[Pending, None, tuple[dict[str, dict], Jobs]]:
        """Yield the search pages, each batch of issues' changelogs (a job) after them; returns the issues by id
        and, when jobs run beside the searches, a worklog job per issue with more worklogs than it embeds."""
        issues: dict[str, dict] = {}
        jobs: Jobs = {}
        batch: list[str] = []
        for page in searches:
            yield page
            # An issue can come twice (several searches, or it moved mid-paging): its history is fetched once.
            for issue in dicts(obj(page.body).get("issues")):
                issue_id = str(issue.get("id"))
                batch += [] if issue_id in issues else [issue_id]
                issues[issue_id] = issue
                if fan.beside and issue_id not in jobs and _more_worklogs(issue):
                    jobs[issue_id] = fan.submit(self._worklog_job, client, str(issue.get("key")))
            while len(batch) >= CHANGELOG_ISSUES:
                yield fan.submit(self._changelog_job, client, batch[:CHANGELOG_ISSUES], history)
                batch = batch[CHANGELOG_ISSUES:]
        if batch:
            # An issue deleted since its search page is simply absent from the changelogs (kept without history).
            yield fan.submit(self._changelog_job, client, batch, history)
        return issues, jobs

    def _all_worklogs(self, run: _Run, fan: Fanout, issues: dict[str, dict], jobs: Jobs) -> PageGen:
        """Page the worklogs an issue does not carry (search embeds 20 at most); index every issue's worklog ids."""
        for issue_id, issue in issues.items():
            key = str(issue.get("key"))
            logs = dicts(obj(obj(issue.get("fields")).get("worklog")).get("worklogs"))
            if _more_worklogs(issue):
                job = jobs.pop(issue_id, None) or fan.submit(self._worklog_job, run.client, key)
                try:
                    pages, logs = job.result()
                except NotFound:
                    run.warnings.append(f"{self.name} {key}: dropped from this run: the issue was deleted in Jira "
                                        "(or hidden from this account) during the sync (HTTP 404 on its worklogs)")
                    run.gone.append(key)
                    run.forget(issue_id)
                    continue
                yield from pages
            if run.index is not None:
                run.index[issue_id] = [str(w.get("id")) for w in logs]
                run.keys[issue_id] = key

    def _changelog_job(self, client: JiraClient, issue_ids: list[str], field_ids: list[str]) -> list[Page]:
        return list(self._changelogs(client, issue_ids, field_ids))

    def _worklog_job(self, client: JiraClient, key: str) -> tuple[list[Page], list]:
        """An issue's worklog pages, and its worklogs."""
        return drain(self._worklogs(client, key))

    def _look_up(self, run: _Run) -> PageGen:
        """Field ids of the config (returned), statuses and the API user's time zone: from `run.site` (the
        checkpoint's, on an incremental run) where it has them, else from Jira; `run.site` then holds them all.

        A configured field name the cached list cannot resolve (the config changed since) is looked up afresh, so a
        field renamed in Jira is still a ConfigError rather than an empty column."""
        client, cache = run.client, run.site
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

        for token, body in token_pages(fetch, f"{self.where}: Jira at {client.site}, search"):
            if not isinstance(body, dict):
                raise SourceError(f"{self.where}: Jira at {client.site} answered a search with no JSON object")
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
                    missing = set(NUMBER.findall(e.text)) & set(chunk)
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

        pages = token_pages(lambda t: client.post(BULK_CHANGELOG_PATH, body_for(t)),
                            f"{self.where}: Jira at {client.site}, changelogs")
        for token, body in pages:
            yield Page(f"POST {BULK_CHANGELOG_PATH}", body_for(token), body)

    def _worklogs(self, client: JiraClient, key: str) -> PageGen:
        path, start, logs = ISSUE_WORKLOG_PATH.format(key=key), 0, []
        while True:
            params = {"startAt": start, "maxResults": WORKLOG_PAGE}
            body = client.get(path, params)
            yield Page(f"GET {path}", params, body)
            got = dicts(obj(body).get("worklogs"))
            logs.extend(got)
            start += len(got)
            if not got or start >= _count(obj(body).get("total")):
                return logs

    def _worklog_changes(self, run: _Run, since: datetime) -> PageGen:
        """Ids of issues whose worklogs were added, edited (even back-dated) or deleted since `since`."""
        # These endpoints list worklogs changed in the whole site (the last minute excluded); an issue's `updated`
        # need not move when only a worklog changes.
        # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-worklogs/#api-rest-api-3-worklog-updated-get
        client, since_ms = run.client, int(since.timestamp() * 1000)
        updated = yield from self._since(client, WORKLOG_UPDATED_PATH, since_ms)
        deleted = yield from self._since(client, WORKLOG_DELETED_PATH, since_ms)
        changed: set[str] = set()
        for i in range(0, len(updated), WORKLOG_IDS):
            body = {"ids": updated[i : i + WORKLOG_IDS]}
            logs = client.post(WORKLOG_LIST_PATH, body)
            yield Page(f"POST {WORKLOG_LIST_PATH}", body, logs)
            changed |= {str(w.get("issueId")) for w in dicts(logs)}
        if run.index is None:
            if deleted:
                run.warnings.append(f"{self.name}: {len(deleted)} deleted worklog(s) since the last run cannot be "
                                    "traced to their issues yet; the next full run corrects the hours")
            return changed
        owner = {w: issue for issue, ids in run.index.items() for w in ids}
        # Worklogs of other projects show up too; only issues this source has seen (or updated ones) matter.
        return (changed & run.index.keys()) | {owner[str(w)] for w in deleted if str(w) in owner}

    def _since(self, client: JiraClient, path: str, since_ms: int) -> PageGen:
        ids: dict[int, None] = {}  # in order, once: consecutive pages share their boundary millisecond
        for since, body in since_pages(lambda s: client.get(path, {"since": s}), since_ms, f"Jira's {path}"):
            yield Page(f"GET {path}", {"since": since}, body)
            ids.update(dict.fromkeys(v.get("worklogId") for v in dicts(obj(body).get("values"))))
        return list(ids)
