"""The floor `bench/sync.py` compares the sync's decode + map + figures + roll-ups with, measured in one process.

Floor: every raw page decoded by msgspec into typed Structs that declare only the fields a mapping reads, the
worklogs and stage changes put straight into columns (polars parses the timestamps), then the same figures and
roll-ups over the frames. It maps no custom field, status name or Asana section (the sync's mapping does), so it
is a lower bound, not an alternative implementation.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

Str = str | None


class Person(msgspec.Struct):
    emailAddress: Str = None  # noqa: N815 (Jira's names)
    displayName: Str = None  # noqa: N815
    accountId: Str = None  # noqa: N815
    email: Str = None
    name: Str = None


class JiraWorklog(msgspec.Struct):
    started: str
    timeSpentSeconds: int  # noqa: N815
    author: Person | None = None


class WorklogPage(msgspec.Struct):
    worklogs: list[JiraWorklog] = []


class Item(msgspec.Struct):
    fieldId: Str = None  # noqa: N815
    fromString: Str = None  # noqa: N815
    toString: Str = None  # noqa: N815


class History(msgspec.Struct):
    created: int | str
    items: list[Item] = []


class ChangeLog(msgspec.Struct):
    issueId: str  # noqa: N815
    changeHistories: list[History] = []  # noqa: N815


class BulkPage(msgspec.Struct):
    issueChangeLogs: list[ChangeLog] = []  # noqa: N815


class Issue(msgspec.Struct):
    id: str
    key: str
    fields: dict[str, Any]


class SearchPage(msgspec.Struct):
    issues: list[Issue] = []


class Entry(msgspec.Struct):
    duration_minutes: int
    entered_on: str
    created_by: Person | None = None


class Story(msgspec.Struct):
    created_at: str
    resource_subtype: Str = None
    text: Str = None


class AsanaTask(msgspec.Struct):
    gid: str
    name: str
    created_at: str
    completed: bool = False
    custom_fields: list[dict[str, Any]] = []
    memberships: list[dict[str, Any]] = []


def _decoders() -> dict[str, msgspec.json.Decoder]:
    return {kind: msgspec.json.Decoder(t) for kind, t in {
        "worklog": WorklogPage, "bulkfetch": BulkPage, "search": SearchPage,
        "entries": msgspec.defstruct("Entries", [("data", list[Entry])]),
        "stories": msgspec.defstruct("Stories", [("data", list[Story])]),
        "tasks": msgspec.defstruct("Tasks", [("data", list[AsanaTask])]),
    }.items()}


def _kind(endpoint: str) -> str:
    for needle, kind in (("/worklog", "worklog"), ("bulkfetch", "bulkfetch"), ("/search", "search"),
                         ("time_tracking_entries", "entries"), ("/stories", "stories"), ("/tasks", "tasks")):
        if endpoint.endswith(needle) or needle in endpoint:
            return kind
    return "other"


def decode_to_columns(folders: list[Path]) -> dict[str, pl.DataFrame]:
    """Typed decode of every page, worklogs and status changes into columns."""
    decoders = _decoders()
    wl: dict[str, list] = {"key": [], "author": [], "started": [], "seconds": []}
    ch: dict[str, list] = {"issue": [], "at": [], "from": [], "to": []}
    for folder in folders:
        manifest = msgspec.json.decode((folder / "manifest.json").read_bytes())
        for entry in manifest["pages"]:
            kind = _kind(entry["endpoint"])
            data = (folder / entry["file"]).read_bytes()
            if kind == "other":
                msgspec.json.decode(data)
                continue
            page = decoders[kind].decode(data)
            if kind == "worklog":
                key = entry["endpoint"].split("/")[5]
                for w in page.worklogs:
                    a = w.author
                    wl["key"].append(key)
                    wl["author"].append(a and (a.emailAddress or a.displayName or a.accountId))
                    wl["started"].append(w.started)
                    wl["seconds"].append(w.timeSpentSeconds)
            elif kind == "entries":
                key = entry["endpoint"].split("/")[2]
                for e in page.data:
                    wl["key"].append(key)
                    wl["author"].append(e.created_by and (e.created_by.email or e.created_by.name))
                    wl["started"].append(e.entered_on + "T00:00:00.000+0000")
                    wl["seconds"].append(e.duration_minutes * 60)
            elif kind == "bulkfetch":
                for log in page.issueChangeLogs:
                    for h in log.changeHistories:
                        for it in h.items:
                            if it.fieldId == "status":
                                ch["issue"].append(log.issueId)
                                ch["at"].append(h.created if isinstance(h.created, int) else 0)
                                ch["from"].append(it.fromString)
                                ch["to"].append(it.toString)
    worklogs = pl.DataFrame(wl, schema={"key": pl.String, "author": pl.String, "started": pl.String,
                                        "seconds": pl.Int64}).with_columns(
        started_at=pl.col("started").str.to_datetime("%Y-%m-%dT%H:%M:%S%.3f%z", time_unit="us", time_zone="UTC"),
        hours=pl.col("seconds") / 3600.0)
    changes = pl.DataFrame(ch, schema={"issue": pl.String, "at": pl.Int64, "from": pl.String, "to": pl.String})
    return {"worklogs": worklogs, "changes": changes.with_columns(pl.from_epoch("at", time_unit="ms"))}


def time_floor(folders: list[Path]) -> tuple[float, int]:
    """Wall seconds of the typed decode into columns, and the worklogs it found."""
    t = time.perf_counter()
    cols = decode_to_columns(folders)
    return time.perf_counter() - t, cols["worklogs"].height
