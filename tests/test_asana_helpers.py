"""Asana pieces without a server: the paging guard, error text, change notices, multi-project story filtering."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from asana.rest import ApiException

from syncer.errors import SourceError
from syncer.model import Stage
from syncer.sources.asana.client import asana_message, change_notices, paginate
from syncer.sources.asana.mapping import AsanaContext, history_from_stories

CTX = AsanaContext("content", {}, {"Doing": Stage.IN_PROGRESS, "Legal review": Stage.REVIEW}, ("P1",),
                   ZoneInfo("Europe/Berlin"))


def _move(at: str, old: str, new: str, project: str | None) -> dict:
    def section(name: str) -> dict:
        return {"name": name, **({"project": {"gid": project}} if project else {})}

    return {"resource_subtype": "section_changed", "created_at": at, "old_section": section(old),
            "new_section": section(new)}


def test_paginate_follows_offsets_and_records_what_was_sent():
    bodies = {None: {"data": [1], "next_page": {"offset": "a"}}, "a": {"data": [2], "next_page": None}}
    pages = list(paginate(lambda p: bodies[p.get("offset")], "GET /x", {"limit": 1}, "sources[0]"))
    assert [p.params for p in pages] == [{"limit": 1}, {"limit": 1, "offset": "a"}]
    assert [p.body["data"] for p in pages] == [[1], [2]]


def test_paginate_refuses_to_loop_on_a_repeated_offset():
    with pytest.raises(SourceError, match=r"sources\[0\]: Asana GET /x: .*same page offset twice"):
        list(paginate(lambda p: {"data": [], "next_page": {"offset": "same"}}, "GET /x", {}, "sources[0]"))


def test_asana_message_reads_the_error_body_and_tolerates_junk():
    e = ApiException(status=400)
    e.body = b'{"errors": [{"message": "offset: Invalid"}, {"message": "limit: too big"}]}'
    assert asana_message(e) == "offset: Invalid; limit: too big"
    e.body = b"<html>bad gateway</html>"
    assert asana_message(e) == ""
    assert asana_message(ValueError("x")) == ""


def test_change_notices_keep_only_those_affecting_us():
    assert change_notices({"Asana-Change": "name=a;info=https://x/a, name=b;info=https://x/b;affected=true"}) == [
        ("b", "https://x/b")]
    assert change_notices({}) == [] and change_notices(None) == []


def test_section_moves_on_another_projects_board_are_not_stage_changes():
    stories = [_move("2026-03-02T08:00:00Z", "Requests", "Doing", "P1"),
               _move("2026-03-03T08:00:00Z", "To do", "Shipped", "P2"),
               _move("2026-03-04T08:00:00Z", "Doing", "Legal review", "P1")]
    history, created = history_from_stories(stories, {}, CTX, {})
    assert created is Stage.INTAKE
    assert [(h.at, h.to_stage) for h in history] == [
        (datetime(2026, 3, 2, 8, tzinfo=UTC), Stage.IN_PROGRESS), (datetime(2026, 3, 4, 8, tzinfo=UTC), Stage.REVIEW)]


def test_pages_saved_without_section_projects_keep_every_move():
    stories = [_move("2026-03-02T08:00:00Z", "Requests", "Doing", None),
               _move("2026-03-04T08:00:00Z", "Doing", "Legal review", None)]
    history, _ = history_from_stories(stories, {}, CTX, {})
    assert [h.to_stage for h in history] == [Stage.IN_PROGRESS, Stage.REVIEW]
