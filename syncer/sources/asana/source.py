"""Live Asana source: the official `asana` client pages projects' tasks, stories and time entries."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asana
import urllib3
from asana.rest import ApiException

from syncer.config import AsanaSourceConfig, Config
from syncer.errors import ConfigError, SourceError
from syncer.retry import RetryPolicy, classify, status_of
from syncer.sources import FetchResult, Page
from syncer.sources.asana.mapping import (
    MODIFIED_TASKS_PATH,
    PAGE_LIMIT,
    STORIES_PATH,
    STORY_OPT_FIELDS,
    TASK_OPT_FIELDS,
    TASKS_PATH,
    TIME_ENTRIES_PATH,
    TIME_ENTRY_OPT_FIELDS,
    tasks_from_pages,
)

REQUEST_TIMEOUT = (10, 60)  # (connect, read) seconds; the client's default is to wait forever
Getter = Callable[[dict[str, Any]], dict[str, Any]]


class _TaskGone(Exception):
    """A task listed a moment ago answers 404: it was deleted (or made private) during the sync."""


class _NoTimeTracking(Exception):
    """402: the workspace's plan has no time tracking."""


def paginate(get: Getter, endpoint: str, params: Mapping[str, Any], where: str) -> Iterator[Page]:
    """Follow `next_page.offset` until it is null; an offset seen twice would loop forever, so it is an error."""
    seen: set[str] = set()
    offset: str | None = None
    while True:
        sent = {**params, "offset": offset} if offset else dict(params)
        body = get(sent)
        yield Page(endpoint, sent, body)
        offset = (body.get("next_page") or {}).get("offset")
        if not offset:
            return
        if offset in seen:
            raise SourceError(f"{where}: Asana handed out the same page offset twice for {endpoint}; stopped paging "
                              "instead of looping (try again later; report it to Asana support if it persists)")
        seen.add(offset)


def asana_message(exc: BaseException) -> str:
    """Asana's own explanation from an error body (`{"errors": [{"message": ...}]}`), or ''."""
    try:
        errors = json.loads(getattr(exc, "body", None) or b"{}").get("errors") or []
        return "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message"))[:300]
    except (ValueError, TypeError, AttributeError):
        return ""


def error_detail(exc: BaseException) -> str:
    """`HTTP {status}`, with Asana's own explanation after a colon when it gave one: for error messages."""
    said = asana_message(exc)
    return f"HTTP {status_of(exc)}" + (f": {said}" if said else "")


def change_notices(headers: Mapping[str, str] | None) -> list[tuple[str, str]]:
    """(name, info) of every `Asana-Change` header that says it affects this request (breaking-change notices)."""
    out = []
    for notice in ((headers or {}).get("Asana-Change") or "").split(","):  # repeated headers arrive comma-joined
        fields = dict(part.strip().partition("=")[::2] for part in notice.split(";"))
        if fields.get("affected") == "true":
            out.append((fields.get("name") or "?", fields.get("info") or ""))
    return out


def build_api_client(cfg: AsanaSourceConfig) -> asana.ApiClient:
    """An asana.ApiClient for the source's token and base_url that retries nothing itself; no request yet.

    RetryPolicy is the one place that waits. The client's default urllib3 Retry (5 tries, honouring Retry-After)
    would run inside every policy attempt and multiply the waits, so urllib3 retries nothing: each failure comes
    straight back as ApiException (a status) or MaxRetryError (no answer). The client has no default timeout:
    pass `_request_timeout=REQUEST_TIMEOUT` with every request.
    """
    conf = asana.Configuration()
    conf.access_token = cfg.token.get_secret_value()
    conf.host = cfg.base_url.rstrip("/")
    conf.retry_strategy = urllib3.Retry(total=0, redirect=False, raise_on_status=False)
    return asana.ApiClient(conf)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class AsanaSource:
    """Asana projects read live through the official client; `read` maps exactly what `fetch_pages` yields."""

    def __init__(
        self, cfg: AsanaSourceConfig, settings: Config, where: str = "sources", policy: RetryPolicy | None = None,
        **_: Any,
    ):
        self.name, self.cfg, self.settings, self.where = cfg.name, cfg, settings, where
        self.policy = policy or RetryPolicy()
        self.requests = 0  # HTTP requests of the last fetch, retries included
        self.warnings: list[str] = []
        self._client: asana.ApiClient | None = None
        self._time_tracking = True

    def replay_meta(self) -> dict[str, Any]:
        """What `syncer fetch` records so the replay source maps the pages like this source does."""
        return {"api": "asana", "base_url": self.cfg.base_url, "projects": list(self.cfg.projects)}

    def read(self, since: datetime | None, now: datetime) -> FetchResult:
        """Fetch and map; the very pages `syncer fetch` would save go through the replay mapping."""
        tasks, warnings = tasks_from_pages(
            self.fetch_pages(since, now), self.name, self.cfg.fields, self.cfg.stages, self.settings.tz,
            self.cfg.projects, self.settings.currency,
        )
        return FetchResult(tasks, complete=since is None, requests=self.requests, warnings=self.warnings + warnings)

    def fetch_pages(self, since: datetime | None, now: datetime | None = None) -> Iterator[Page]:
        """The projects' task pages (all, or modified since `since`), then each task's stories and time entries."""
        self.requests, self.warnings, self._time_tracking = 0, [], True
        client = self.api_client()
        tasks_api, stories_api = asana.TasksApi(client), asana.StoriesApi(client)
        entries_api = asana.TimeTrackingEntriesApi(client)
        limit = min(self.cfg.page_size, PAGE_LIMIT)
        listed: dict[str, Any] = {}  # task gid -> actual_time_minutes, first-seen order
        # Every listing is paged to its end before any per-task request: offsets expire, and a listing left
        # open while hundreds of story requests run is how they do.
        for i, project in enumerate(self.cfg.projects):
            params: dict[str, Any] = {"opt_fields": TASK_OPT_FIELDS, "limit": limit}
            if since is None:
                endpoint, call = f"GET {TASKS_PATH.format(project=project)}", partial(
                    tasks_api.get_tasks_for_project, project)
            else:
                endpoint, call = f"GET {MODIFIED_TASKS_PATH}", tasks_api.get_tasks
                params = {"project": project, "modified_since": _iso(since), **params}
            for page in paginate(self._getter(call, endpoint, project=i), endpoint, params, self.where):
                for task in page.body["data"]:
                    if task.get("gid"):
                        listed.setdefault(str(task["gid"]), task.get("actual_time_minutes"))
                yield page
        for gid in listed:
            try:
                yield from self._task_pages(stories_api.get_stories_for_task, STORIES_PATH, gid, STORY_OPT_FIELDS,
                                            limit)
                # actual_time_minutes is the sum of the task's entries: 0 means there is nothing to ask for.
                if self._time_tracking and listed[gid] != 0:
                    yield from self._task_pages(entries_api.get_time_tracking_entries_for_task, TIME_ENTRIES_PATH,
                                                gid, TIME_ENTRY_OPT_FIELDS, limit)
            except _TaskGone:
                self.warnings.append(f"{self.name} {gid}: the task disappeared during the sync (HTTP 404); "
                                     "its history and worklogs may be incomplete until the next sync")
            except _NoTimeTracking:
                self._time_tracking = False
                self.warnings.append(f"{self.name}: this Asana workspace's plan has no time tracking (HTTP 402); "
                                     "tasks have no worklogs")

    def _task_pages(self, method: Callable[..., Any], path: str, gid: str, fields: str, limit: int) -> Iterator[Page]:
        endpoint = f"GET {path.format(task=gid)}"
        params = {"opt_fields": fields, "limit": limit}
        return paginate(self._getter(partial(method, gid), endpoint, task=gid), endpoint, params, self.where)

    def api_client(self) -> asana.ApiClient:
        """This source's client (see `build_api_client`), built once; its requests pass REQUEST_TIMEOUT."""
        if self._client is None:
            self._client = build_api_client(self.cfg)
        return self._client

    def _getter(self, call: Callable[..., Any], endpoint: str, project: int | None = None,
                task: str | None = None) -> Getter:
        """One page request through the RetryPolicy, counted, with Asana's errors turned into ours."""
        def once(opts: dict[str, Any]) -> Any:
            self.requests += 1
            # full_payload: the raw body with `next_page` (not the client's item iterator);
            # _return_http_data_only=False: the headers too, for Asana-Change notices.
            return call(dict(opts), full_payload=True, _return_http_data_only=False, _request_timeout=REQUEST_TIMEOUT)

        def get(opts: dict[str, Any]) -> dict[str, Any]:
            try:
                body, _, headers = self.policy.call(once, opts)
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as e:
                raise self._error(e, endpoint, "offset" in opts, project, task) from e
            for name, info in change_notices(headers):
                note = f"{self.name}: Asana announces a breaking API change {name!r} that affects this sync ({info})"
                if note not in self.warnings:
                    self.warnings.append(note)
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise SourceError(f"{self.where}: Asana answered {endpoint} without a `data` list; is base_url "
                                  f"{self.cfg.base_url} the Asana API?")
            return body

        return get

    def _error(self, e: BaseException, endpoint: str, paging: bool, project: int | None,
               task: str | None) -> Exception:
        """The project's error for an Asana failure (never the token: it is only ever in a request header)."""
        status, detail = status_of(e), error_detail(e)
        if not status:
            return SourceError(f"{self.where}: cannot reach Asana at {self.cfg.base_url} after "
                               f"{self.policy.attempts} attempts ({type(e).__name__}: {getattr(e, 'reason', e)})")
        if classify(e) == "config":
            seen = f" and that its user can see project {self.cfg.projects[project]}" if project is not None else ""
            return ConfigError(f"{self.where}.token: Asana refused {endpoint} ({detail}); check the ASANA token "
                               f"(personal access token or service account token){seen}")
        if status == 404 and project is not None:
            return ConfigError(f"{self.where}.projects[{project}]: Asana has no project {self.cfg.projects[project]} "
                               f"that this token can see ({detail}); the gid is the long number in the project's URL")
        if status == 404 and task is not None:
            return _TaskGone(task)
        if status == 402 and task is not None and "time_tracking" in endpoint:
            return _NoTimeTracking()
        if status == 400 and paging:
            return SourceError(f"{self.where}: Asana no longer accepts the page offset for {endpoint} ({detail}); "
                               "offsets expire when the data changes or paging takes long: run the sync again")
        if classify(e) == "retry":
            return SourceError(f"{self.where}: Asana kept failing on {endpoint} ({detail}) after "
                               f"{self.policy.attempts} attempts; try again later")
        return SourceError(f"{self.where}: Asana rejected {endpoint} ({detail})")
