"""Jira's "is blocked by" links and its Flagged impediment (SPEC §4 `depends_on`, flagged spells): read from the
issue's `issuelinks` and flag field and the flag field's changelog, all in the requests a sync makes anyway."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from syncer.model import Spell
from syncer.tables import natural_key

# Jira Software's flag: a checkbox custom field named "Flagged" whose one option is "Impediment".
FLAGGED_FIELD, IMPEDIMENT = "Flagged", "Impediment"
# The link type whose inward side reads "is blocked by":
# https://developer.atlassian.com/cloud/jira/platform/issue-linking-model/
BLOCKS_LINK = "blocks"


def flagged_field(by_name: Mapping[str, list[dict]]) -> str | None:
    """The id of the site's one field named Flagged (None without Jira Software's flag, or with two of that name)."""
    found = [f["id"] for f in by_name.get(FLAGGED_FIELD, []) if "id" in f]
    return found[0] if len(found) == 1 else None


def blocked_by(links: Any) -> tuple[str, ...]:
    """Keys of the issues this one *is blocked by*: links of type Blocks that carry the other issue as inwardIssue."""
    if not isinstance(links, list):
        return ()
    keys = {
        str(link["inwardIssue"]["key"])
        for link in links if isinstance(link, dict) and isinstance(link.get("inwardIssue"), dict)
        and str((link.get("type") or {}).get("name", "")).lower() == BLOCKS_LINK and link["inwardIssue"].get("key")
    }
    return tuple(sorted(keys, key=natural_key))


def is_flagged(value: Any) -> bool:
    """Whether the flag field's value (a list of options) holds Impediment."""
    options = value if isinstance(value, list) else [value]
    return any(isinstance(o, dict) and o.get("value") == IMPEDIMENT for o in options)


FieldChanges = list[tuple[datetime, dict[str, Any]]]  # (time, item) of each change to one field, in changelog order


def flag_spells(changes: FieldChanges, created_at: datetime, flagged_now: bool) -> list[Spell]:
    """The spells the issue was flagged as an impediment, from the flag field's changes (`mapping.by_field`);
    the last one open (end None) when the issue is flagged now. Flagged now with no history: flagged since it was
    created."""
    events = sorted(
        (at, IMPEDIMENT in str(item.get("fromString") or ""), IMPEDIMENT in str(item.get("toString") or ""))
        for at, item in changes
    )
    start: datetime | None = created_at if (events[0][1] if events else flagged_now) else None
    spells: list[Spell] = []
    for at, _, to in events:
        if to and start is None:
            start = at
        elif not to and start is not None:
            if at > start:
                spells.append(Spell(start, at))
            start = None
    if flagged_now:
        spells.append(Spell(start or (events[-1][0] if events else created_at), None))
    return spells


def flags_of(fields: Mapping[str, Any], changes: Mapping[str, FieldChanges], flag_id: str | None,
             created_at: datetime) -> list[Spell]:
    """An issue's flagged spells (`changes`: per field id, as `mapping.by_field` groups them); none on a site
    without the flag field."""
    if not flag_id:
        return []
    return flag_spells(changes.get(flag_id, []), created_at, is_flagged(fields.get(flag_id)))
