"""Hypothesis over corrupted Jira and Asana page sets: whatever a page holds, a sync ends with an expected error or
a result, never an unexpected exception; and a task of the last good state is never deleted by a read that still
holds it in any form (its key or id anywhere in the pages or their requests)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from page_sets import good_pages, save, setup, stored_tasks, sync

from syncer.config import parse_config
from syncer.errors import SyncerError
from syncer.pipeline.reads import Reads, merge_read
from syncer.sources import FetchResult, MapContext, Page
from syncer.sources.asana.mapping import map_pages as map_asana
from syncer.sources.jira.mapping import map_pages as map_jira
from syncer.sources.replay import mark_of, missing_pages

JUNK = [None, [], {}, "", "garbage", -3600, 0, 1e308, math.inf, True, [1, "two"], {"type": "doc"}, [[[]]]]
GOOD = good_pages()
MAPPERS = {"jira": map_jira, "asana": map_asana}
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)


@st.composite
def corrupted(draw: st.DrawFn, api: str) -> list[Page]:
    """The page set with one to three corruptions: a value replaced by junk, a key removed, a page dropped."""
    pages = [Page(p.endpoint, copy.deepcopy(p.params), copy.deepcopy(p.body), f"{i + 1:04d}.json")
             for i, p in enumerate(GOOD[api])]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(pages) - 1))
        kind = draw(st.sampled_from(["replace", "replace", "remove", "drop"]))
        if kind == "drop":
            del pages[i]
            continue
        holder, at = _pick(draw, pages[i])
        if holder is None:
            pages[i].body = draw(st.sampled_from(JUNK))
        elif kind == "remove" and isinstance(holder, dict):
            holder.pop(at, None)
        else:
            holder[at] = draw(st.sampled_from(JUNK))
    return pages


def _pick(draw: st.DrawFn, page: Page) -> tuple[Any, Any]:
    """A place in the body: (the object or list holding it, its key or index); (None, None) for the body itself."""
    holder, at, node = None, None, page.body
    for _ in range(draw(st.integers(0, 7))):
        children = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
        if not children:
            break
        holder, at = node, draw(st.sampled_from(children))
        node = node[at]
    return holder, at


def traces(pages: list[Page]) -> str:
    """Everything the read holds, as text: the bodies and the requests (a task's key or id anywhere counts)."""
    return json.dumps([[p.endpoint, p.params, p.body] for p in pages], default=str)


def context(api: str) -> MapContext:
    from page_sets import DEMO

    cfg = parse_config({**DEMO, "budget": None}, env={})
    src = cfg.sources[0 if api == "jira" else 1]
    projects = ("1201234567890123",) if api == "asana" else ()
    return MapContext(src.name, src.fields, src.stages, cfg.tz, currency="EUR", projects=projects)


def ids_of(api: str) -> dict[str, str]:
    """Stored key -> every text by which the good pages name that record (its key, and a Jira issue's id)."""
    if api == "asana":
        return {}
    return {i["key"]: str(i["id"]) for p in GOOD["jira"] if p.endpoint.endswith("/search/jql")
            for i in p.body["issues"]}


def check_read(api: str, pages: list[Page]) -> None:
    mc = context(api)
    stored = {(mc.source, t.key) for t in MAPPERS[api](GOOD[api], mc).tasks}
    try:
        mapped = MAPPERS[api](pages, mc)
    except SyncerError:
        return  # an expected failure (a field list that is not one): the run stops, nothing is changed
    result = FetchResult(mapped.tasks, complete=True, warnings=mapped.warnings, kept=mapped.kept,
                         anomalies=[*missing_pages([mark_of(p) for p in pages]), *mapped.anomalies])
    reads = Reads()
    merge_read(reads, mc.source, result, stored)
    text = traces(pages)
    for _, key in reads.deleted:
        assert not held(api, key, text), (key, result.anomalies)


def held(api: str, key: str, text: str) -> bool:
    """Whether the read still holds the task in any form: its key, or its Jira issue id, anywhere."""
    ids = ids_of(api)
    return f'"{key}"' in text or f"/{key}/" in text or (key in ids and f'"{ids[key]}"' in text)


@SETTINGS
@given(corrupted("jira"))
def test_a_corrupted_jira_read_never_deletes_a_task_it_still_holds(pages: list[Page]):
    check_read("jira", pages)


@SETTINGS
@given(corrupted("asana"))
def test_a_corrupted_asana_read_never_deletes_a_task_it_still_holds(pages: list[Page]):
    check_read("asana", pages)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_sync_of_corrupted_saved_pages_ends_cleanly(tmp_path_factory, data: st.DataObject):
    """The whole run, through the CLI: an exit code of 0, 1 or 2 with a message, never `unexpected error`, and
    no stored task that the corrupted pages still hold is deleted."""
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    config = setup(tmp)
    assert sync(config).exit_code == 0
    before = set(stored_tasks(tmp))
    api = data.draw(st.sampled_from(["jira", "asana"]))
    pages = data.draw(corrupted(api))
    for old in (tmp / api).glob("0*.json"):
        old.unlink()
    save(tmp / api, api, pages)
    done = sync(config, "--full")
    assert done.exit_code in (0, 1, 2), done.output
    assert "unexpected error" not in done.output and "Traceback" not in done.output, done.output
    after, text = set(stored_tasks(tmp)), traces(pages)
    for source, key in before - after:
        assert not held("jira" if source == "web" else "asana", key, text), (key, done.output)
