"""The official `asana` client, set up for syncer: no retries of its own, a timeout, paging, error wording."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import asana
import urllib3

from syncer.config import AsanaSourceConfig
from syncer.errors import ConfigError, SourceError
from syncer.log import clip
from syncer.retry import Verdict, classify, status_of
from syncer.sources import Page
from syncer.sources.paging import follow
from syncer.sources.shapes import obj

Getter = Callable[[dict[str, Any]], dict[str, Any]]


def paginate(get: Getter, endpoint: str, params: Mapping[str, Any], where: str) -> Iterator[Page]:
    """Every page of an Asana listing: `next_page.offset` is the next page's token until it is null."""
    def sent(offset: str | None) -> dict[str, Any]:
        return {**params, "offset": offset} if offset else dict(params)

    pages = follow(lambda offset: get(sent(offset)), lambda body: obj(obj(body).get("next_page")).get("offset") or None,
                   f"{where}: Asana {endpoint}", word="page offset")
    for offset, body in pages:
        yield Page(endpoint, sent(offset), body)


def asana_message(exc: BaseException, secrets: Sequence[str] = ()) -> str:
    """Asana's own explanation from an error body (`{"errors": [{"message": ...}]}`), or ''; `secrets` are masked
    before it is cut to length."""
    try:
        errors = json.loads(getattr(exc, "body", None) or b"{}").get("errors") or []
        said = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message"))
    except (ValueError, TypeError, AttributeError, RecursionError):
        return ""
    return clip(said, secrets, 300)


def error_detail(exc: BaseException, secrets: Sequence[str] = ()) -> str:
    """`HTTP {status}`, with Asana's own explanation after a colon when it gave one: for error messages."""
    said = asana_message(exc, secrets)
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
    conf.connection_pool_maxsize = cfg.max_in_flight  # one kept-alive connection per request in flight
    return asana.ApiClient(conf)


@contextmanager
def open_client(cfg: AsanaSourceConfig) -> Iterator[asana.ApiClient]:
    """`build_api_client` for the duration of a block. The client starts a thread pool it only stops in `__del__`,
    which at interpreter exit prints 'Exception ignored in ApiClient.__del__'; asana 5.x has no close(), so the pool
    is stopped here and removed (its `__del__` then does nothing)."""
    client = build_api_client(cfg)
    try:
        yield client
    finally:
        pool = client.__dict__.pop("pool", None)
        if pool is not None:
            pool.close()
            pool.join()


class TaskGone(Exception):
    """A task listed a moment ago answers 404: it was deleted (or made private) during the sync."""


class NoTimeTracking(Exception):
    """402: the workspace's plan has no time tracking."""


@dataclass(frozen=True, slots=True)
class AsanaErrors:
    """The one wording of Asana's failures, for the sync and `syncer doctor` alike (never the token: it is only
    ever in a request header)."""

    cfg: AsanaSourceConfig
    where: str
    attempts: int

    def describe(self, e: BaseException, endpoint: str, paging: bool = False, project: int | None = None,
                 task: str | None = None) -> Exception:
        """Our error for a failed request (or TaskGone / NoTimeTracking, which the source handles)."""
        status, detail = status_of(e), error_detail(e, [self.cfg.token.get_secret_value()])
        if not status:
            return SourceError(f"{self.where}: cannot reach Asana at {self.cfg.base_url} after {self.attempts} "
                               f"attempts ({type(e).__name__}: {getattr(e, 'reason', e)})")
        if classify(e) is Verdict.CONFIG:
            seen = f" and that its user can see project {self.cfg.projects[project]}" if project is not None else ""
            scopes = "; a token limited to scopes needs tasks:read, projects:read and custom_fields:read"
            return ConfigError(f"{self.where}.token: Asana refused {endpoint} ({detail}); check the ASANA token "
                               f"(personal access token or service account token){seen}" + scopes * (status == 403))
        if status == 404 and project is not None:
            return ConfigError(f"{self.where}.projects[{project}]: Asana has no project {self.cfg.projects[project]} "
                               f"that this token can see ({detail}); the gid is the long number in the project's URL")
        if status == 404 and task is not None:
            return TaskGone(task)
        if status == 402 and task is not None and "time_tracking" in endpoint:
            return NoTimeTracking()
        if status == 400 and paging:
            return SourceError(f"{self.where}: Asana no longer accepts the page offset for {endpoint} ({detail}); "
                               "offsets expire when the data changes or paging takes long: run the sync again")
        if classify(e) is Verdict.RETRY:
            return SourceError(f"{self.where}: Asana kept failing on {endpoint} ({detail}) after {self.attempts} "
                               "attempts; try again later")
        return SourceError(f"{self.where}: Asana rejected {endpoint} ({detail})")
