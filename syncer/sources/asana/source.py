"""Live Asana source: the official `asana` client pages projects' tasks, stories and time entries."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asana
import urllib3
from asana.rest import ApiException

from syncer.checks import Inspection
from syncer.config import AsanaSourceConfig, Config
from syncer.errors import SourceError
from syncer.progress import NO_PROGRESS, Progress
from syncer.retry import RetryPolicy
from syncer.sources import Checkpoint, FetchOutcome, FetchResult, MapContext, Page, PageStream, drain, reported
from syncer.sources.asana.client import (
    AsanaErrors,
    Getter,
    NoTimeTracking,
    TaskGone,
    change_notices,
    open_client,
    paginate,
)
from syncer.sources.asana.inspect import inspect_projects
from syncer.sources.asana.mapping import map_pages, tasks_on
from syncer.sources.asana.settings import (
    MODIFIED_TASKS_PATH,
    PAGE_LIMIT,
    REQUEST_TIMEOUT,
    STORIES_PATH,
    STORY_OPT_FIELDS,
    TASK_OPT_FIELDS,
    TASKS_PATH,
    TIME_ENTRIES_PATH,
    TIME_ENTRY_OPT_FIELDS,
)
from syncer.sources.asana.writeback import AsanaWriter
from syncer.sources.inflight import Fanout, Gate, in_order
from syncer.sources.shapes import dicts


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(slots=True)
class _Run:
    """One fetch's client, request count and findings (the source keeps no state between reads)."""

    client: asana.ApiClient
    gate: Gate  # at most max_in_flight requests at once; a 429 pauses them all
    requests: int = 0  # HTTP requests, retries included
    warnings: list[str] = field(default_factory=list)
    time_tracking: bool = True  # false once the workspace answered 402: no time entries to ask for
    lock: threading.Lock = field(default_factory=threading.Lock)  # the fetch's workers share the counts

    def warn(self, note: str) -> None:
        with self.lock:
            if note not in self.warnings:
                self.warnings.append(note)

    def count(self) -> None:
        with self.lock:
            self.requests += 1


class AsanaSource:
    """Asana projects read live through the official client; `read` maps exactly what `fetch_pages` yields."""

    def __init__(
        self, cfg: AsanaSourceConfig, settings: Config, where: str = "sources", policy: RetryPolicy | None = None,
        progress: Progress = NO_PROGRESS,
    ):
        self.name, self.cfg, self.settings, self.where = cfg.name, cfg, settings, where
        self.policy = policy or RetryPolicy()
        self.progress = progress  # told of every page as it arrives
        self.errors = AsanaErrors(cfg, where, self.policy.attempts)

    def replay_meta(self) -> dict[str, Any]:
        return {"api": "asana", "base_url": self.cfg.base_url, "projects": list(self.cfg.projects)}

    def map_context(self) -> MapContext:
        return MapContext(self.name, self.cfg.fields, self.cfg.stages, self.settings.tz, self.where,
                          self.settings.currency, projects=tuple(self.cfg.projects))

    def intake_writer(self) -> AsanaWriter:
        return AsanaWriter(self.cfg, self.where, self.policy)

    def inspect(self) -> Inspection:
        return inspect_projects(self.cfg, self.errors, self.policy)

    def read(self, since: datetime | None, now: datetime, checkpoint: Checkpoint | None = None) -> FetchResult:
        """Fetch and map; the very pages `syncer fetch` would save go through the replay mapping."""
        pages, out = drain(reported(self.fetch_pages(since, now, checkpoint), self.progress, tasks_on))
        mapped = map_pages(pages, self.map_context())
        return FetchResult(mapped.tasks, complete=out.complete, requests=out.requests,
                           warnings=out.warnings + mapped.warnings, anomalies=mapped.anomalies, kept=mapped.kept)

    def fetch_pages(self, since: datetime | None, now: datetime, checkpoint: Checkpoint | None = None) -> PageStream:
        """The projects' task pages (all, or modified since `since`), then each task's stories and time entries:
        tasks `max_in_flight` requests at a time (SPEC §9), their pages in task order all the same."""
        return (yield from in_order(self._fetch(since)))

    def _fetch(self, since: datetime | None) -> Generator[Page | Future[list[Page]], None, FetchOutcome]:
        with open_client(self.cfg) as client:
            run = _Run(client, Gate(self.cfg.max_in_flight))
            listed = yield from self._listings(run, since)
            with Fanout(run.gate, self.name).running() as fan:
                probe, jobs = True, []
                for gid, minutes in listed.items():
                    # actual_time_minutes is the sum of the task's entries: 0 means there is nothing to ask for.
                    entries = run.time_tracking and minutes != 0
                    job = fan.submit(self._task_detail, run, gid, entries)
                    if entries and probe:  # the first answer tells whether the plan has time tracking at all
                        stop = job.result()[1]
                        run.time_tracking = not isinstance(stop, NoTimeTracking)
                        probe = isinstance(stop, TaskGone)  # gone before its entries answered: ask the next one
                    jobs.append((gid, job))
                    yield fan.then(job, lambda done: done[0])
            for gid, job in jobs:  # warnings in task order, as a sequential read gives them
                self._stopped(run, gid, job.result()[1])
        return FetchOutcome(complete=since is None, requests=run.requests, warnings=run.warnings)

    def _task_detail(self, run: _Run, gid: str, entries: bool) -> tuple[list[Page], Exception | None]:
        """One task's story pages, then (`entries`) its time entry pages; a 404 or 402 ends them early (returned)."""
        stories_api, entries_api = asana.StoriesApi(run.client), asana.TimeTrackingEntriesApi(run.client)
        pages: list[Page] = []
        try:
            pages += self._task_pages(run, stories_api.get_stories_for_task, STORIES_PATH, gid, STORY_OPT_FIELDS)
            if entries:
                pages += self._task_pages(run, entries_api.get_time_tracking_entries_for_task, TIME_ENTRIES_PATH,
                                          gid, TIME_ENTRY_OPT_FIELDS)
        except (TaskGone, NoTimeTracking) as stop:
            return pages, stop
        return pages, None

    def _stopped(self, run: _Run, gid: str, stop: Exception | None) -> None:
        if isinstance(stop, TaskGone):
            run.warn(f"{self.name} {gid}: the task disappeared during the sync (HTTP 404); "
                     "its history and worklogs may be incomplete until the next sync")
        elif isinstance(stop, NoTimeTracking):
            run.warn(f"{self.name}: this Asana workspace's plan has no time tracking (HTTP 402); "
                     "tasks have no worklogs")

    def _listings(self, run: _Run, since: datetime | None) -> Generator[Page, None, dict[str, Any]]:
        """Every project's task listing, paged to its end before any per-task request (offsets expire, and a
        listing left open while hundreds of story requests run is how they do); returns gid -> logged minutes."""
        tasks_api = asana.TasksApi(run.client)
        listed: dict[str, Any] = {}  # task gid -> actual_time_minutes, first-seen order
        for i, project in enumerate(self.cfg.projects):
            params: dict[str, Any] = {"opt_fields": TASK_OPT_FIELDS, "limit": self._limit}
            if since is None:
                endpoint = f"GET {TASKS_PATH.format(project=project)}"
                call = partial(tasks_api.get_tasks_for_project, project)
            else:
                endpoint, call = f"GET {MODIFIED_TASKS_PATH}", tasks_api.get_tasks
                params = {"project": project, "modified_since": _iso(since), **params}
            for page in paginate(self._getter(run, call, endpoint, project=i), endpoint, params, self.where):
                for task in dicts(page.body["data"]):
                    if task.get("gid"):
                        listed.setdefault(str(task["gid"]), task.get("actual_time_minutes"))
                yield page
        return listed

    @property
    def _limit(self) -> int:
        return min(self.cfg.page_size, PAGE_LIMIT)

    def _task_pages(self, run: _Run, method: Callable[..., Any], path: str, gid: str, fields: str) -> Iterator[Page]:
        endpoint = f"GET {path.format(task=gid)}"
        params = {"opt_fields": fields, "limit": self._limit}
        return paginate(self._getter(run, partial(method, gid), endpoint, task=gid), endpoint, params, self.where)

    def _getter(self, run: _Run, call: Callable[..., Any], endpoint: str, project: int | None = None,
                task: str | None = None) -> Getter:
        """One page request through the RetryPolicy, counted, with Asana's errors turned into ours."""
        def once(opts: dict[str, Any]) -> Any:
            run.count()
            # full_payload: the raw body with `next_page` (not the client's item iterator);
            # _return_http_data_only=False: the headers too, for Asana-Change notices.
            return call(dict(opts), full_payload=True, _return_http_data_only=False, _request_timeout=REQUEST_TIMEOUT)

        def get(opts: dict[str, Any]) -> dict[str, Any]:
            try:
                body, _, headers = run.gate.call(self.policy, lambda: once(opts))
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as e:
                raise self.errors.describe(e, endpoint, "offset" in opts, project, task) from e
            for name, info in change_notices(headers):
                run.warn(f"{self.name}: Asana announces a breaking API change {name!r} that affects this sync ({info})")
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                raise SourceError(f"{self.where}: Asana answered {endpoint} without a `data` list; is base_url "
                                  f"{self.cfg.base_url} the Asana API?")
            return body

        return get
