"""Typed decoding of saved Asana pages: only the parts the mapping reads are built.

A replay of 100k tasks is two pages per task (its stories and its time entries) besides the task listings. A
story carries its text, its author and the full section objects; a time entry its author's gid and kind. The
mapping reads a handful of those fields (`mapping.history_from_stories`, `mapping.to_worklog`), so a replay decodes
these pages with msgspec Structs that declare only them and hands the mapping the same dicts it would get, less
the parts it never reads; the stories of every task are held until the tasks are mapped, so this is most of what a
read keeps in memory. Task listings are decoded whole: a config may map a canonical field to any attribute.

As in `jira.slim`: leaf values are left untyped (`Any`), so a wrong value is the mapping's to name per record; a
page whose *shape* does not fit (a story that is not an object, a section given as text) is decoded whole instead
(`None` from `decode_page`), so the mapping's checks see it exactly as the API sent it.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from syncer.sources.shapes import decoded_slim

Opt = Any | UnsetType  # a key the page leaves out stays out of the dicts handed on; a null stays a null


class _Gid(msgspec.Struct):  # a section's project
    gid: Opt = UNSET


class _Section(msgspec.Struct):
    name: Opt = UNSET
    project: _Gid | None | UnsetType = UNSET


class _Story(msgspec.Struct):
    gid: Opt = UNSET
    created_at: Opt = UNSET
    resource_subtype: Opt = UNSET
    old_section: _Section | None | UnsetType = UNSET
    new_section: _Section | None | UnsetType = UNSET


class _Person(msgspec.Struct):
    email: Opt = UNSET
    name: Opt = UNSET


class _Entry(msgspec.Struct):  # a time-tracking entry
    gid: Opt = UNSET
    created_by: _Person | None | UnsetType = UNSET
    entered_on: Opt = UNSET
    duration_minutes: Opt = UNSET
    created_at: Opt = UNSET


class _Stories(msgspec.Struct):
    data: list[_Story] | None | UnsetType = UNSET
    next_page: Opt = UNSET


class _Entries(msgspec.Struct):
    data: list[_Entry] | None | UnsetType = UNSET
    next_page: Opt = UNSET


_DECODERS = {"stories": msgspec.json.Decoder(_Stories | None),
             "time_tracking_entries": msgspec.json.Decoder(_Entries | None)}


def decode_page(endpoint: str, params: dict[str, Any], data: bytes) -> Any | None:
    """The page's body as the mapping reads it, or None where it cannot be decoded slim (decode it in full)."""
    parts = endpoint.partition(" ")[2].strip("/").split("/")
    return decoded_slim(_DECODERS.get(parts[2]) if len(parts) == 3 and parts[0] == "tasks" else None, data)
