"""A thin Jira Cloud REST v3 client: the `jira` package where it has the call, its own session where it has not."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from jira import JIRA, JIRAError
from requests.adapters import HTTPAdapter

from syncer.config import JiraSourceConfig
from syncer.errors import ConfigError, SourceError, SyncerError
from syncer.log import basic_auth, clip
from syncer.retry import RetryPolicy, Verdict, classify, is_connection_error, status_of
from syncer.sources.inflight import Gate
from syncer.sources.jira.settings import (
    API,
    FIELD_PATH,
    MYSELF_PATH,
    PROJECT_SEARCH_PATH,
    SEARCH_PATH,
    SERVER_INFO_PATH,
    STATUS_PATH,
    TIMEOUT_S,
)

API_TOKENS_URL = "https://id.atlassian.com/manage-profile/security/api-tokens"
SEARCH_DOCS_URL = "https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/"
DETAIL_CHARS = 300

T = TypeVar("T")


class SearchRejected(SourceError):
    """HTTP 400 from /search/jql. Whose fault it is (the user's JQL, the clause syncer added, an expired page
    token) only the caller knows, so it decides what the user is told; `text` is Jira's full message."""

    def __init__(self, site: str, text: str):  # `text` already redacted (see JiraClient.error)
        self.text, self.detail = text, text[:DETAIL_CHARS] or "HTTP 400"
        super().__init__(f"Jira at {site} rejected a search: {self.detail}")


class NotFound(SourceError):
    """HTTP 404: for an issue's own endpoint, the issue was deleted (or hidden from this account) a moment ago."""


def site_url(cfg: JiraSourceConfig) -> str:
    """The site's base URL as syncer names it (no trailing slash)."""
    return cfg.url.rstrip("/")


class JiraClient:
    """One site, one `jira.JIRA`: every request goes through the project's RetryPolicy and is counted."""

    def __init__(self, cfg: JiraSourceConfig, where: str, policy: RetryPolicy, gate: Gate | None = None):
        self.cfg, self.where, self.policy = cfg, where, policy
        self.gate = gate or Gate(1)
        self._count = threading.Lock()  # the source's workers share the client
        self.site = site_url(cfg)
        self.requests = 0
        self._jira: JIRA | None = None

    @property
    def jira(self) -> JIRA:
        if self._jira is None:
            self.connect()
        assert self._jira is not None
        return self._jira

    def connect(self, check_cloud: bool = True) -> None:
        """Make the client (no request). With `check_cloud`, one serverInfo request refuses a site that is not
        Jira Cloud (syncer reads REST v3 only); a caller that already knows the site is Cloud may skip it."""
        self._jira = self._make()
        if check_cloud:
            self.check_cloud()

    def check_cloud(self) -> None:
        """`GET /serverInfo`: a Jira Server or Data Center site is a config error."""
        info = self.get(SERVER_INFO_PATH)
        if not isinstance(info, dict) or not info:
            raise SourceError(f"Jira at {self.site}: GET {SERVER_INFO_PATH} answered with nothing; try again later")
        kind = info.get("deploymentType")
        if kind != "Cloud":
            raise ConfigError(f"{self.where}.url: {self.site} is not a Jira Cloud site (serverInfo says {kind!r}); "
                              "syncer reads Jira Cloud only, not Jira Server or Data Center")
        self.jira.deploymentType = kind

    def _make(self) -> JIRA:
        # get_server_info=False: the constructor then sends nothing (check_cloud asks, counted, when it matters).
        # max_retries=0: the package would retry 429/503 on its own, sleeping up to a minute each time, under our
        # RetryPolicy (https://github.com/pycontribs/jira/blob/3.10.5/jira/resilientsession.py).
        jira = JIRA(
            self.site, basic_auth=(self.cfg.email, self.cfg.token.get_secret_value()),
            options={"rest_api_version": "3"}, max_retries=0, timeout=TIMEOUT_S, get_server_info=False,
        )
        # One kept-alive connection per request in flight (requests' default pool keeps 10 per host).
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.gate.limit, max_retries=0)
        jira._session.mount(self.site + "/", adapter)
        return jira

    def call(self, endpoint: str, fn: Callable[..., T], *args: Any,
             errors: Callable[[str, BaseException], SyncerError] | None = None, **kwargs: Any) -> T:
        """Run one request under the retry policy (every attempt counted); HTTP failures become syncer errors,
        worded by `errors(endpoint, exc)` when given, else by `error`."""

        def attempt() -> T:
            with self._count:
                self.requests += 1
            return fn(*args, **kwargs)

        try:
            return self.gate.call(self.policy, attempt)  # at most max_in_flight at once; a 429 pauses the source
        except (JIRAError, requests.RequestException) as e:
            raise (errors or self.error)(endpoint, e) from None
        except RecursionError:  # JSON nested deeper than any API page: the decoder gives up
            raise SourceError(f"Jira at {self.site}: {endpoint} answered with JSON nested too deeply to read") from None

    def error(self, endpoint: str, exc: BaseException) -> SyncerError:
        """The message a user sees for a failed request: names the site and the key to fix, never a secret."""
        status, where, site = status_of(exc), self.where, self.site
        token = self.cfg.token.get_secret_value()
        # Jira may echo the request (its headers too) in an error body: secrets are masked before anything is cut.
        text = clip(str(getattr(exc, "text", "") or ""), [token, basic_auth(self.cfg.email, token)])
        detail = text[:DETAIL_CHARS]
        if status == 401:
            return ConfigError(
                f"{where}: Jira at {site} rejected the credentials (HTTP 401). Check {where}.email "
                f"({self.cfg.email}) and {where}.token: it must be an API token of that Atlassian account "
                f"({API_TOKENS_URL}), not its password"
            )
        if status == 403:
            reason = f" ({detail})" if detail else ""
            return ConfigError(
                f"{where}: Jira at {site} refused {endpoint} (HTTP 403{reason}). Check that {self.cfg.email} may "
                f"browse the projects of {where}.jql and that {where}.token is a current API token of that account"
            )
        if status == 410:
            return SourceError(
                f"Jira at {site}: {endpoint} answered 410 Gone: Atlassian has removed this endpoint "
                f"(see {SEARCH_DOCS_URL}); upgrade syncer"
            )
        if status == 400 and endpoint.endswith(SEARCH_PATH):
            return SearchRejected(site, text)
        if status == 404:
            return NotFound(f"Jira at {site}: {endpoint} answered HTTP 404" + (f": {detail}" if detail else ""))
        if status is None and is_connection_error(exc):
            return SourceError(f"Jira at {site}: no answer to {endpoint} after {self.policy.attempts} attempts "
                               f"({type(exc).__name__})")
        if status is None:
            return SourceError(f"Jira at {site}: {endpoint} gave an answer syncer cannot read ({type(exc).__name__})")
        if classify(exc) is Verdict.RETRY:
            return SourceError(f"Jira at {site}: {endpoint} still answered HTTP {status} after {self.policy.attempts} "
                               "attempts; try again later")
        return SourceError(f"Jira at {site}: {endpoint} answered HTTP {status}" + (f": {detail}" if detail else ""))

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """GET a REST v3 path through the package's own session (for endpoints the package has no method for)."""
        return self.call(f"GET {path}", self.jira._get_json, path.removeprefix(API + "/"), params=params)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST a JSON body to a REST v3 path through the package's own session."""
        return self.call(f"POST {path}", self.jira._get_json, path.removeprefix(API + "/"), params=body,
                         use_post=True)

    def fields(self) -> list[dict[str, Any]]:
        """Every issue field (`GET /field`)."""
        return self.call(f"GET {FIELD_PATH}", self.jira.fields)

    def statuses(self) -> list[dict[str, Any]]:
        """Every workflow status with its category (`GET /status`), as returned."""
        return [s.raw for s in self.call(f"GET {STATUS_PATH}", self.jira.statuses)]

    def time_zone(self) -> str | None:
        """The API user's time zone: JQL reads dates in it."""
        return self.call(f"GET {MYSELF_PATH}", self.jira.myself).get("timeZone")

    def projects(self, limit: int = 50) -> tuple[list[dict[str, Any]], int]:
        """The first `limit` projects this account may browse, by key, and how many there are in all."""
        # Not JIRA.projects(): it calls GET /project, which Atlassian deprecated for this paged endpoint.
        body = self.get(PROJECT_SEARCH_PATH, {"maxResults": limit, "orderBy": "key"})
        return list(body.get("values") or []), int(body.get("total") or 0)

    def search(self, params: dict[str, Any]) -> dict[str, Any]:
        """One page of `GET /search/jql` with exactly these parameters (`jql`, `fields`, `maxResults`, ...)."""
        # Not JIRA.enhanced_search_issues: it renames every requested field through the package's field cache
        # (clause name -> id), which it fills with its own GET /field, outside our count and RetryPolicy, whenever
        # the cache is empty (a /field answer without clauseNames); and a field whose clause name equals an id we
        # ask for would be swapped for another field, since json_result=True skips the renaming back.
        return self.get(SEARCH_PATH, params)
