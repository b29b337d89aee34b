"""The one retry policy and error table, driven through real `requests` calls faked with `responses`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
import responses

from syncer.retry import MAX_ATTEMPTS, RetryPolicy, Verdict, classify, retry_after_of

URL = "https://acme.atlassian.net/rest/api/3/myself"
NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


def get() -> int:
    r = requests.get(URL, timeout=5)
    r.raise_for_status()
    return r.status_code


# (statuses the server answers in turn, expected outcome, expected requests, expected waits)
TABLE = [
    ([200], 200, 1, []),
    ([429, 200], 200, 2, [2.0]),
    ([503, 503, 200], 200, 3, None),
    ([500, 502, 504, 200], 200, 4, None),
    ([408, 200], 200, 2, None),
    ([401], "config", 1, []),
    ([403], "config", 1, []),
    ([400], "fatal", 1, []),
    ([404], "fatal", 1, []),
    ([410], "fatal", 1, []),
    ([503] * 10, "retry", MAX_ATTEMPTS, None),
]


@pytest.mark.parametrize("statuses,outcome,requests_made,waits", TABLE)
@responses.activate
def test_retry_table(statuses, outcome, requests_made, waits):
    for s in statuses:
        headers = {"Retry-After": "2"} if s == 429 else {}
        responses.get(URL, status=s, headers=headers, json={})
    slept: list[float] = []
    policy = RetryPolicy(sleep=slept.append, now=lambda: NOW)
    if isinstance(outcome, int):
        assert policy.call(get) == outcome
    else:
        with pytest.raises(requests.HTTPError) as exc:
            policy.call(get)
        assert classify(exc.value) is Verdict(outcome)
    assert len(responses.calls) == requests_made
    assert len(slept) == requests_made - 1
    if waits is not None:
        assert slept == waits
    assert all(0 < w <= policy.cap for w in slept)


@responses.activate
def test_connection_errors_are_retried():
    responses.get(URL, body=requests.ConnectionError("reset"))
    responses.get(URL, status=200)
    slept: list[float] = []
    assert RetryPolicy(sleep=slept.append).call(get) == 200
    assert len(responses.calls) == 2 and len(slept) == 1


@responses.activate
def test_retry_after_as_http_date_and_capped():
    responses.get(URL, status=503, headers={"Retry-After": "Sun, 22 Nov 2026 12:00:30 GMT"})
    responses.get(URL, status=429, headers={"Retry-After": "3600"})
    responses.get(URL, status=200)
    slept: list[float] = []
    RetryPolicy(sleep=slept.append, now=lambda: NOW, cap=60).call(get)
    assert slept == [30.0, 60.0]  # the date is 30 s ahead; an hour is capped at one minute


def test_backoff_grows_and_is_jittered_within_bounds():
    import random

    policy = RetryPolicy(base=1, cap=8, rng=random.Random(7))

    class State:
        outcome = None

        def __init__(self, n):
            self.attempt_number = n

    waits = [policy.wait_for(State(n)) for n in range(1, 7)]
    for n, w in enumerate(waits, 1):
        backoff = min(8, 2 ** (n - 1))
        assert backoff / 2 <= w <= backoff


def test_retry_after_absent_or_garbage_is_none():
    class E(Exception):
        def __init__(self, headers):
            self.headers = headers

    assert retry_after_of(E({})) is None
    assert retry_after_of(E({"Retry-After": "soon"})) is None
    assert retry_after_of(E({"retry-after": "1.5"})) == 1.5
