"""Whether syncer may write a tab: its header must be one syncer wrote (or the tab empty)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from syncer.checks import Inspection, Level
from syncer.sinks.diff import normalise_row
from syncer.tables import CLOSED_PERIODS, HEADERS, OWNED_TABS, SYNC_LOG, HeaderStatus, Table, header_status

MINE = (*OWNED_TABS, SYNC_LOG)


def header_findings(out: Inspection, first_rows: Mapping[str, Sequence[Any] | None]) -> None:
    """syncer's tabs that exist must carry syncer's header (or be empty): the run refuses to overwrite others."""
    present = [t for t in MINE if t in first_rows]
    missing = [t for t in MINE if t not in first_rows and t != CLOSED_PERIODS]  # that one comes with a close
    out.add(Level.OK, "tabs", (f"syncer's {', '.join(present)} present" if present else "no syncer tab yet")
            + (f"; {', '.join(missing)} will be created" if missing else ""))
    for title in present:
        row = first_rows[title]
        status = header_status(title, normalise_row(row)) if row else HeaderStatus.CURRENT
        if status is HeaderStatus.EARLIER and title != SYNC_LOG:
            out.add(Level.OK, f"tab {title!r}", "has an earlier syncer version's header: the next run rewrites it once")
        elif status is not HeaderStatus.CURRENT:
            out.add(Level.FAIL, f"tab {title!r}", "has a header syncer did not write, so a run would refuse to "
                                                  "overwrite it: rename that tab")


def owned_titles(tables: Mapping[str, Table], kind: str) -> list[str]:
    """The given tabs in SPEC §6 order, each checked to be syncer's and to start with its header."""
    foreign = sorted(set(tables) - set(OWNED_TABS))
    if foreign:
        raise ValueError(f"the {kind} sink writes only syncer's tabs, not {foreign}")
    titles = [t for t in OWNED_TABS if t in tables]
    for title in titles:
        if not tables[title] or list(tables[title][0]) != HEADERS[title]:
            raise ValueError(f"table {title!r} must start with its SPEC header")
    return titles
