"""Reading raw pages defensively: every part of the wrong shape is named (page, JSON path) instead of crashing.

A page whose body is not what the API documents (a list where an object belongs, `"issues": null`) may hide
records, so what it notes is an anomaly: the read is then not complete, and nothing is inferred from what it lacks.
A record the read saw but could not map is `kept` (the state keeps its last good version).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import msgspec

from syncer.model import Problem, Task
from syncer.sources import Page
from syncer.sources.fields import parse_ts


def kind_of(value: Any) -> str:
    """How a JSON value is named in messages."""
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a text", bool: "true/false"}
    return names.get(type(value), f"the number {value!r}"[:40] if isinstance(value, int | float) else "?")


@dataclass(slots=True)
class Mapped:
    """What mapping one read's pages gave: the tasks, warnings, anomalies and the records kept unmapped."""

    tasks: list[Task] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    anomalies: list[str] = field(default_factory=list)  # the read may lack records: no deletions from it
    kept: dict[str, Problem] = field(default_factory=dict)  # key -> why the record could not be mapped

    def wrong(self, page: Page, path: str, expected: str, found: Any) -> None:
        """Note a part of a page that is not of the shape the API documents."""
        self.anomalies.append(f"{where(page)}: {path}: expected {expected}, found {kind_of(found)}")

    def objects(self, page: Page, value: Any, path: str) -> list[tuple[str, dict[str, Any]]]:
        """(JSON path, object) of each item of the list `value` found at `path`; anything else is noted."""
        if not isinstance(value, list):
            self.wrong(page, path, "a list", value)
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append((f"{path}[{i}]", item))
            else:
                self.wrong(page, f"{path}[{i}]", "an object", item)
        return out

    def listed(self, page: Page, key: str) -> list[tuple[str, dict[str, Any]]]:
        """The objects of the list `body[key]` of a page whose body must be an object."""
        if not isinstance(page.body, dict):
            self.wrong(page, "$", "an object", page.body)
            return []
        return self.objects(page, page.body.get(key), f"$.{key}")

    def keep(self, key: str, field_name: str, problem: str) -> None:
        """A record with this key was read but cannot be mapped: its last good version stays."""
        self.kept[key] = Problem("record_unreadable", field_name, problem)


def obj(value: Any) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (the mapping names what was wrong; fetching goes on)."""
    return value if isinstance(value, dict) else {}


def dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON list (nothing when it is not one), for fetching code that pages on through them."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def where(page: Page) -> str:
    """The page as a user finds it: its saved file, else its request."""
    if page.origin:
        return page.origin
    return f"{page.endpoint}" + (f" ({', '.join(f'{k}={v}' for k, v in _short(page.params))})" if page.params else "")


def _short(params: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(k, str(v)[:40]) for k, v in params.items() if k in ("nextPageToken", "offset", "startAt", "project")]


def record_id(value: Any) -> str | None:
    """A record id or key as text (APIs send text; a whole number is taken too), or None when there is none or
    it is of another shape (never the text 'None', never a float or an object turned into text)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value.strip() else None


def unique_key(value: Any, page_index: int, position: int) -> str:
    """The key a record is de-duplicated by: its id, else its place in the read (records without an id are never
    merged into one another: each one counts)."""
    found = record_id(value)
    return found if found is not None else f"#{page_index}.{position}"


def newest_per_key(copies: Iterable[dict[str, Any]], out: Mapped, source: str, key: str,
                   stamp: Callable[[dict[str, Any]], Any]) -> dict[str, dict[str, Any]]:
    """key -> the newest copy of each record (by the timestamp `stamp` reads, later in the read on a tie). A key
    read in differing versions is reported; a record without a key cannot be matched to a stored task, so it is
    an anomaly (no deletions from this read)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for rec in copies:
        found = rec.get(key) if isinstance(rec.get(key), str) and rec[key].strip() else None
        if found is None:
            out.anomalies.append(f"{source}: a record without a {key} was read ({key} {kind_of(rec.get(key))}, id "
                                 f"{str(rec.get('id'))[:40]!r}); it cannot be matched to a stored task")
            continue
        groups.setdefault(found, []).append(rec)
    chosen = {}
    for found, recs in groups.items():
        if len(recs) == 1:  # read once (nearly every record): nothing to rank
            chosen[found] = recs[0]
            continue
        ranked = sorted(enumerate(recs), key=lambda ir: (_moment(stamp(ir[1])), ir[0]))
        chosen[found] = newest = ranked[-1][1]
        if any(r != newest for r in recs):
            out.warnings.append(f"{source} {found}: read {len(recs)} times in this run, in different versions; the "
                                f"newest (changed {_moment(stamp(newest)) or 'at an unknown time'}) is kept")
    return chosen


def _moment(value: Any) -> str:
    """A record's change time as sortable UTC text ('' when unreadable: oldest)."""
    try:
        return parse_ts(value).astimezone(UTC).isoformat() if value else ""
    except (ValueError, TypeError, OverflowError):
        return ""


def orphans(source: str, what: str, owners: Iterable[str], known: set[str]) -> list[str]:
    """Anomalies for per-record pages (histories, worklogs, stories) whose record the read does not list: the read
    is inconsistent (a listing page was lost), so nothing may be inferred from what it lacks."""
    lost = sorted({o for o in owners if o not in known})
    return [f"{source}: the read holds {what} of {', '.join(lost[:5])}{' and more' if len(lost) > 5 else ''}, which "
            "no listing page holds: a listing page is missing or damaged"] if lost else []


def decoded_slim(decoder: msgspec.json.Decoder | None, data: bytes) -> Any | None:
    """A saved page decoded by its typed `decoder` (Structs declaring only what a mapping reads) into the dicts the
    mapping reads; None where there is no decoder or the page does not fit it (decode it whole: the mapping's
    checks then see it exactly as the API sent it)."""
    if decoder is None:
        return None
    # msgspec skips an undeclared field without checking its bytes: a page whole decoding refuses (bad UTF-8 in a
    # comment) must not pass slim. A DecodeError is a ValidationError too: not the documented shape, or not JSON.
    try:
        if not data.isascii():
            data.decode("utf-8")
        return msgspec.to_builtins(decoder.decode(data))
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
