"""The one retry policy and the one error table, shared by every adapter (tenacity underneath).

Retry 408/429/5xx and connection errors, honouring `Retry-After` (seconds or HTTP date), capped and jittered,
bounded in attempts; 401/403 are config errors; 400/404/410 and anything else are fatal. `sleep` and `now`
are injectable so tests assert the waits without waiting.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
CONFIG_STATUSES = frozenset({401, 403})
FATAL_STATUSES = frozenset({400, 404, 410})
MAX_ATTEMPTS = 6
MAX_WAIT_S = 60.0
BASE_WAIT_S = 1.0


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind an exception from requests, jira, gspread, asana or urllib3, if any."""
    for attr in ("status_code", "status"):
        v = getattr(exc, attr, None)
        if isinstance(v, int):
            return v
    resp = getattr(exc, "response", None)
    v = getattr(resp, "status_code", None) or getattr(resp, "status", None)
    return v if isinstance(v, int) else None


def _headers_of(exc: BaseException) -> Mapping[str, str]:
    # The response's headers first: a JIRAError's own `headers` are the request's (no Retry-After there).
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        headers = getattr(exc, "headers", None)  # asana ApiException
    return headers or {}


def retry_after_of(exc: BaseException, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """Seconds the server asked us to wait (`Retry-After` as seconds or an HTTP date), or None."""
    headers = _headers_of(exc)
    try:
        value = headers.get("Retry-After") or headers.get("retry-after")
    except AttributeError:
        return None
    if not value:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def is_connection_error(exc: BaseException) -> bool:
    """True for network-level failures (no HTTP answer at all)."""
    import requests
    import urllib3
    from google.auth.exceptions import TransportError  # google-auth wraps the token request's network errors

    return isinstance(
        exc,
        requests.ConnectionError | requests.Timeout | urllib3.exceptions.HTTPError | ConnectionError | TimeoutError
        | TransportError,
    ) and status_of(exc) is None


class Verdict(Enum):
    """What to do about a failed request."""

    RETRY = "retry"  # 408/429/5xx or no answer at all: wait and try again
    CONFIG = "config"  # 401/403: the credentials or permissions are wrong; the user must act
    FATAL = "fatal"  # anything else: report and stop


def classify(exc: BaseException) -> Verdict:
    """The project's one error table."""
    status = status_of(exc)
    if status is None:
        return Verdict.RETRY if is_connection_error(exc) else Verdict.FATAL
    if status in RETRY_STATUSES or 500 <= status < 600:
        return Verdict.RETRY
    if status in CONFIG_STATUSES:
        return Verdict.CONFIG
    return Verdict.FATAL


class RetryPolicy:
    """Bounded, capped, jittered exponential backoff that honours Retry-After."""

    def __init__(
        self,
        *,
        attempts: int = MAX_ATTEMPTS,
        base: float = BASE_WAIT_S,
        cap: float = MAX_WAIT_S,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
        on_attempt: Callable[[], None] | None = None,
        on_wait: Callable[[float], None] | None = None,
    ):
        self.attempts, self.base, self.cap = attempts, base, cap
        self.sleep, self.now = sleep, now
        # Told of each attempt (one request) and each wait before it starts: the run's progress display.
        self.on_attempt, self.on_wait = on_attempt, on_wait
        self.rng = rng or random.Random()
        self.retries = 0  # how many times we waited, for the run summary
        self._count = threading.Lock()  # a source's workers share the policy

    def wait_for(self, state: RetryCallState) -> float:
        """Seconds to wait before the next attempt."""
        exc = state.outcome.exception() if state.outcome else None
        asked = retry_after_of(exc, self.now) if exc else None
        if asked is not None:
            return min(asked, self.cap)
        backoff = min(self.cap, self.base * 2 ** (state.attempt_number - 1))
        return backoff / 2 + self.rng.uniform(0, backoff / 2)  # "equal jitter": never zero, never over cap

    def _before(self, state: RetryCallState) -> None:
        if self.on_attempt is not None:
            self.on_attempt()

    def _before_sleep(self, state: RetryCallState) -> None:
        with self._count:
            self.retries += 1
        if self.on_wait is not None:
            self.on_wait(state.upcoming_sleep)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call fn, retrying what the error table says to retry; re-raise the last error otherwise."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self.wait_for,
            retry=retry_if_exception(lambda e: classify(e) is Verdict.RETRY),
            sleep=self.sleep,
            before=self._before,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        return retrying(fn, *args, **kwargs)
