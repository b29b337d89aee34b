"""Independent requests of a source run `max_in_flight` at a time (SPEC §9): same pages, same order, same counts
as one at a time; a 429 pauses the whole source."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses
from fake_asana import FIELDS, PROJECT, STAGES, TOKEN, FakeAsana, populate
from fake_jira import FakeJira, source_config

from syncer.config import Config, parse_config
from syncer.retry import RetryPolicy
from syncer.sources import drain
from syncer.sources.asana.source import AsanaSource
from syncer.sources.inflight import Fanout, Gate, in_order
from syncer.sources.jira.source import JiraSource

NOW = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)


def jira_settings(fake: FakeJira, max_in_flight: int, **overrides) -> Config:
    return parse_config({"sources": [source_config(fake, max_in_flight=max_in_flight, **overrides)],
                         "sink": {"kind": "xlsx", "path": str(Path("/nonexistent/out.xlsx"))}}, env={})


def make_site() -> FakeJira:
    fake = FakeJira()
    fake.populate(2500, seed=3, many_worklogs=60)  # 3 changelog batches, 60 issues with paged worklogs
    return fake


@pytest.fixture
def site():
    fake = make_site()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield fake.install(rsps)


def fetch_jira(fake: FakeJira, max_in_flight: int, sleep=lambda s: None) -> tuple[list, dict, JiraSource]:
    fake.calls.clear()
    fake.peak_in_flight = 0
    cfg = jira_settings(fake, max_in_flight)
    src = JiraSource(cfg.sources[0], cfg, where="sources[0]", policy=RetryPolicy(sleep=sleep))
    pages, out = drain(src.fetch_pages(None, fake.now))
    assert out.requests == sum(fake.calls.values())
    return canonical(pages), dict(fake.calls), src


def canonical(pages) -> list:
    """(endpoint, params, body) of each page, page tokens numbered by first appearance (the fake names them by the
    order it hands them out, which differs when chains run side by side; Jira's are opaque anyway)."""
    names: dict[str, str] = {}

    def named(d):
        if isinstance(d, dict) and "nextPageToken" in d:
            return {**d, "nextPageToken": names.setdefault(d["nextPageToken"], f"token-{len(names)}")}
        return d

    return [(p.endpoint, named(p.params), named(p.body)) for p in pages]


def fetch_fresh(max_in_flight: int, latency_s: float = 0.0) -> tuple[list, dict, JiraSource, FakeJira]:
    """A read of a new site (so page tokens are numbered alike)."""
    fake = make_site()
    fake.latency_s = latency_s
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.install(rsps)
        return (*fetch_jira(fake, max_in_flight), fake)


def test_jira_pages_order_and_requests_do_not_depend_on_max_in_flight():
    one, calls_one, _, fake_one = fetch_fresh(1)
    assert fake_one.peak_in_flight == 1
    # Requests overlap, and finish in whatever order the threads get to them.
    four, calls_four, src, fake_four = fetch_fresh(4, latency_s=0.005)
    assert four == one  # the very pages, in the order a sequential read yields them
    assert calls_four == calls_one
    assert calls_one["issue_worklog"] == 60 and calls_one["bulkfetch"] == fake_one.changelog_pages()
    assert fake_four.peak_in_flight == 4  # never more than max_in_flight at once


def test_jira_read_maps_the_same_tasks_at_any_max_in_flight(site):
    def read(n: int):
        cfg = jira_settings(site, n)
        return JiraSource(cfg.sources[0], cfg, where="sources[0]", policy=RetryPolicy(sleep=lambda s: None)).read(
            None, site.now)

    site.latency_s = 0.002
    one, four = read(1), read(4)
    assert [(t.key, t.worklogs, t.history) for t in four.tasks] == [(t.key, t.worklogs, t.history) for t in one.tasks]
    assert four.requests == one.requests and four.complete


def test_a_429_pauses_every_worker_of_the_source(site):
    baseline = sum(fetch_jira(site, 4)[1].values())
    site.fail("issue_worklog", 429, headers={"Retry-After": "30"})  # early: most of the read is still to come
    site.latency_s = 0.002
    during: list[tuple[int, int]] = []

    def sleep(seconds: float) -> None:  # the throttled worker's wait (injected: no real 30 s)
        assert seconds == 30
        while site.in_flight:  # requests already on the wire finish ...
            time.sleep(0.001)
        before = sum(site.calls.values())
        time.sleep(0.2)  # ... and nothing new starts while the source is paused, though searches and worklogs remain
        during.append((before, sum(site.calls.values())))

    cfg = jira_settings(site, 4)
    src = JiraSource(cfg.sources[0], cfg, where="sources[0]", policy=RetryPolicy(sleep=sleep))
    site.calls.clear()
    pages, out = drain(src.fetch_pages(None, site.now))
    assert len(during) == 1 and during[0][0] == during[0][1]
    assert sum(site.calls.values()) == out.requests == baseline + 1  # the one refused request, asked again
    assert len(pages) == len(fetch_jira(site, 1)[0])  # everything was read


def test_a_failed_job_stops_the_fetch_with_its_error(site):
    from syncer.errors import SourceError

    site.fail("issue_worklog", 500, times=None)
    cfg = jira_settings(site, 4)
    src = JiraSource(cfg.sources[0], cfg, where="sources[0]", policy=RetryPolicy(sleep=lambda s: None, attempts=2))
    with pytest.raises(SourceError, match="HTTP 500"):
        drain(src.fetch_pages(None, site.now))
    assert site.in_flight == 0  # nothing left running behind the error


def asana_source(fake: FakeAsana, max_in_flight: int) -> AsanaSource:
    cfg = parse_config({"timezone": "Europe/Berlin", "sink": {"kind": "xlsx", "path": "out/test.xlsx"},
                        "sources": [{"name": "content", "kind": "asana", "token": TOKEN, "projects": [PROJECT],
                                     "base_url": fake.base_url, "page_size": 5, "fields": FIELDS, "stages": STAGES,
                                     "max_in_flight": max_in_flight}]}, env={})
    return AsanaSource(cfg.sources[0], cfg, where="sources[0]", policy=RetryPolicy(sleep=lambda s: None))


def canonical_asana(pages) -> list:
    """(endpoint, params, body) of each page, page offsets numbered by first appearance (see `canonical`)."""
    names: dict[str, str] = {}

    def name(token: str) -> str:
        return names.setdefault(token, f"offset-{len(names)}")

    out = []
    for p in pages:
        params = {**p.params, "offset": name(p.params["offset"])} if "offset" in p.params else p.params
        nxt = p.body.get("next_page")
        body = {**p.body, "next_page": nxt and {"offset": name(nxt["offset"])}}
        out.append((p.endpoint, params, body))
    return out


def test_asana_pages_and_requests_do_not_depend_on_max_in_flight(httpserver):
    fake = FakeAsana(httpserver)
    populate(fake, 23)
    pages, out_one = drain(asana_source(fake, 1).fetch_pages(None, NOW))
    one, calls_one = canonical_asana(pages), len(fake.calls)
    pages, out_four = drain(asana_source(fake, 4).fetch_pages(None, NOW))
    assert canonical_asana(pages) == one
    assert len(fake.calls) - calls_one == calls_one == out_one.requests == out_four.requests


def test_asana_without_time_tracking_asks_for_time_entries_once(httpserver):
    fake = FakeAsana(httpserver)
    populate(fake, 23)
    fake.time_tracking = False
    src = asana_source(fake, 4)
    result = src.read(None, NOW)
    assert fake.count(r"/tasks/\d+/time_tracking_entries") == 1  # the first answer (402) tells for all
    assert len(result.tasks) == 23 and all(not t.worklogs for t in result.tasks)
    assert sum("no time tracking" in w for w in result.warnings) == 1


def test_gate_never_lets_more_than_its_limit_through():
    gate, policy = Gate(3), RetryPolicy(sleep=lambda s: None)
    on_wire, peak, lock = [0], [0], threading.Lock()

    def request() -> None:
        with lock:
            on_wire[0] += 1
            peak[0] = max(peak[0], on_wire[0])
        time.sleep(0.002)
        with lock:
            on_wire[0] -= 1

    fan = Fanout(gate, "test")
    with fan.running():
        jobs = [fan.submit(lambda: gate.call(policy, request)) for _ in range(40)]
    assert all(j.done() for j in jobs) and peak[0] == gate.peak <= 3


def test_in_order_keeps_the_producers_order_whatever_finishes_first():
    gate = Gate(4)
    fan = Fanout(gate, "test")
    release = threading.Event()

    def slow() -> list[str]:
        release.wait(5)
        return ["b1", "b2"]

    def produce():
        with fan.running():
            yield "a"
            yield fan.submit(slow)
            yield fan.submit(lambda: ["c"])
            yield "d"
            release.set()

    assert list(in_order(produce())) == ["a", "b1", "b2", "c", "d"]
