"""A thin Jira Cloud REST v3 client: the `jira` package where it has the call, its own session where it has not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import requests
from jira import JIRA, JIRAError

from syncer.adapters.jira.mapping import FIELD_PATH, SEARCH_PATH, STATUS_PATH
from syncer.config import JiraSourceConfig
from syncer.errors import ConfigError, SourceError, SyncerError
from syncer.retry import RetryPolicy, classify, is_connection_error, status_of

API = "/rest/api/3"
SERVER_INFO_PATH = f"{API}/serverInfo"
MYSELF_PATH = f"{API}/myself"
TIMEOUT_S = (10.0, 60.0)  # connect, read
API_TOKENS_URL = "https://id.atlassian.com/manage-profile/security/api-tokens"
SEARCH_DOCS_URL = "https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/"
DETAIL_CHARS = 300

T = TypeVar("T")


class JiraClient:
    """One site, one `jira.JIRA`: every request goes through the project's RetryPolicy and is counted."""

    def __init__(self, cfg: JiraSourceConfig, where: str, policy: RetryPolicy):
        self.cfg, self.where, self.policy = cfg, where, policy
        self.site = cfg.url.rstrip("/")
        self.requests = 0
        self._jira: JIRA | None = None

    @property
    def jira(self) -> JIRA:
        if self._jira is None:
            self.connect()
        assert self._jira is not None
        return self._jira

    def connect(self) -> None:
        """Make the client; its serverInfo request tells the package this is Cloud (the v3 search needs that)."""
        self._jira = self.call(f"GET {SERVER_INFO_PATH}", self._make)
        kind = self._jira.deploymentType
        if kind != "Cloud":
            raise ConfigError(f"{self.where}.url: {self.site} is not a Jira Cloud site (serverInfo says {kind!r})")

    def _make(self) -> JIRA:
        # max_retries=0: the package would retry 429/503 on its own, sleeping up to a minute each time, under our
        # RetryPolicy (https://github.com/pycontribs/jira/blob/3.10.5/jira/resilientsession.py).
        return JIRA(
            self.site, basic_auth=(self.cfg.email, self.cfg.token.get_secret_value()),
            options={"rest_api_version": "3"}, max_retries=0, timeout=TIMEOUT_S,
        )

    def call(self, endpoint: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one request under the retry policy (every attempt counted); HTTP failures become syncer errors."""

        def attempt() -> T:
            self.requests += 1
            return fn(*args, **kwargs)

        try:
            return self.policy.call(attempt)
        except (JIRAError, requests.RequestException) as e:
            raise self.error(endpoint, e) from None

    def error(self, endpoint: str, exc: BaseException) -> SyncerError:
        """The message a user sees for a failed request: names the site and the key to fix, never a secret."""
        status, where, site = status_of(exc), self.where, self.site
        detail = str(getattr(exc, "text", "") or "")[:DETAIL_CHARS]
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
            return ConfigError(f"{where}.jql: Jira at {site} rejected the query: {detail or 'HTTP 400'}")
        if status is None and is_connection_error(exc):
            return SourceError(f"Jira at {site}: no answer to {endpoint} after {self.policy.attempts} attempts "
                               f"({type(exc).__name__})")
        if status is None:
            return SourceError(f"Jira at {site}: {endpoint} gave an answer syncer cannot read ({type(exc).__name__})")
        if classify(exc) == "retry":
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
        body = self.call(f"GET {FIELD_PATH}", self.jira.fields)
        # enhanced_search_issues maps `fields` through the package's field cache, which it would fill with a second
        # GET /field; fill it from this answer instead, the way JIRA._update_fields_cache does.
        self.jira._fields_cache_value = {n: f["id"] for f in body if "id" in f for n in f.get("clauseNames") or ()}
        return body

    def statuses(self) -> list[dict[str, Any]]:
        """Every workflow status with its category (`GET /status`), as returned."""
        return [s.raw for s in self.call(f"GET {STATUS_PATH}", self.jira.statuses)]

    def time_zone(self) -> str | None:
        """The API user's time zone: JQL reads dates in it."""
        return self.call(f"GET {MYSELF_PATH}", self.jira.myself).get("timeZone")

    def search(self, jql: str, fields: list[str], page_size: int, token: str | None) -> dict[str, Any]:
        """One page of `GET /search/jql` (the package fetches a single page for a positive maxResults)."""
        return self.call(
            f"GET {SEARCH_PATH}", self.jira.enhanced_search_issues, jql, nextPageToken=token, maxResults=page_size,
            fields=list(fields), json_result=True,
        )
