"""The tabs of SPEC §6: headers, and pure `to_rows` for Tasks and the Sync log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

Cell = str | int | float | bool | None
Row = list[Cell]
Table = list[Row]  # row 0 is the header

TASKS = "Tasks"
BUDGET_ROLLUP = "Budget rollup"
FLOW_METRICS = "Flow metrics"
CAPACITY = "Capacity"
INTAKE = "Intake"
SYNC_LOG = "Sync log"
CAMPAIGNS = "Campaigns"
ATTENTION = "Attention"
WEEKLY_REVIEW = "Weekly review"
DASHBOARD = "Dashboard"
CLOSED_PERIODS = "Closed periods"

HEADERS: dict[str, list[str]] = {
    TASKS: [
        "Source", "Key", "Title", "Type", "Stage", "Status", "Owner", "Campaign", "Activity", "Category",
        "G/L account", "Created", "Started", "Completed", "Due", "Estimate h", "Logged h", "Labour cost",
        "Planned", "Committed", "Invoiced", "Cycle days", "Review days", "Blocked days", "Reworked", "Late",
        "Intake OK", "URL",
    ],
    BUDGET_ROLLUP: [
        "Campaign", "Activity", "G/L account", "Period", "Budgeted", "Planned", "Committed", "Invoiced", "Labour",
        "Open commitments", "Remaining", "Used %", "Flag", "Adjusts",
    ],
    FLOW_METRICS: [
        "Period", "Source", "Category", "Throughput", "WIP", "Cycle p50", "Cycle p85", "Review p50", "Rework rate",
        "Blocked share", "Late rate", "Reliability", "Estimate ratio", "Intake complete",
    ],
    CAPACITY: ["Week", "Team", "Person", "Category", "Logged h", "Capacity h", "Utilization", "Overloaded"],
    INTAKE: ["Source", "Key", "Title", "Stage", "Owner", "Rule", "Field", "Problem", "Since", "URL"],
    CAMPAIGNS: [
        "Campaign", "Tasks", "Done", "Open", "Blocked", "Overdue", "Due next", "Last due", "Forecast p50",
        "Forecast p85", "Schedule", "Budgeted", "Planned", "Spent", "Open commitments", "Remaining", "Used %",
        "Budget flag",
    ],
    ATTENTION: [
        "Reason", "Source", "Key", "Title", "Campaign", "Owner", "Stage", "Since", "Days", "Due", "Detail", "URL",
    ],
    WEEKLY_REVIEW: [
        "Week", "Team", "Completed", "Started", "Created", "Newly blocked", "Reworked", "Review rounds",
        "First-pass yield", "Late", "Overdue at end", "Over estimate", "Intake gaps", "Logged h", "Utilization",
        "Notes",
    ],
    CLOSED_PERIODS: [
        "Period", "Action", "At", "By", "Reason", "Campaign", "Activity", "G/L account", "Budgeted", "Planned",
        "Committed", "Invoiced", "Labour", "Open commitments", "Remaining",
    ],
    DASHBOARD: ["Figure", "Value"],  # the headline pairs; the charts' small tables follow below them (SPEC §13)
    SYNC_LOG: [
        "Run at", "Mode", "Duration s", "Fetched", "Changed", "Deleted", "Rows written", "API requests", "Warnings",
        "Version",
    ],
}
# Tabs whose rows are replaced by each run (the Sync log is appended to instead). A new tab joins this tuple
# when the domain produces it. Closed periods is only ever appended to: a run writes back the rows it read with
# the new ones after them, so the diff writes just those. The order is the tab order of a new workbook: the
# readable tabs first.
OWNED_TABS = (DASHBOARD, CAMPAIGNS, ATTENTION, TASKS, BUDGET_ROLLUP, FLOW_METRICS, CAPACITY, INTAKE, WEEKLY_REVIEW,
              CLOSED_PERIODS)
SYNC_LOG_KEEP = 1000
# The columns that identify a row (for diffs: a row whose key survives is "changed", not removed + added).
KEY_COLUMNS: dict[str, tuple[int, ...]] = {
    TASKS: (0, 1), BUDGET_ROLLUP: (0, 1, 2, 3, 13), FLOW_METRICS: (0, 1, 2), CAPACITY: (0, 1, 2, 3),
    INTAKE: (0, 1, 5, 6),
    CAMPAIGNS: (0,), ATTENTION: (0, 1, 2), DASHBOARD: (0,), WEEKLY_REVIEW: (0, 1), CLOSED_PERIODS: (0, 1, 2, 5, 6, 7),
}
# Every header an earlier version of syncer wrote on a tab, per tab (SPEC §6): a tab found with one of these is
# migrated (rewritten once with the current header, said in the Sync log); any other header is refused. When a
# release changes a tab's header, the header it replaces is added here, so every older one stays known.
EARLIER_HEADERS: dict[str, tuple[tuple[str, ...], ...]] = {
    BUDGET_ROLLUP: (tuple(HEADERS[BUDGET_ROLLUP][:-1]),),  # 0.1: before adjustment rows (`Adjusts`, SPEC §11)
}


class HeaderStatus(Enum):
    """What a tab's row 1 says about who wrote it."""

    CURRENT = "current"  # this version's header
    EARLIER = "earlier"  # a header an older syncer version wrote: migrate the tab
    FOREIGN = "foreign"  # a header syncer never wrote: refuse the tab


def header_status(title: str, header: tuple | list) -> HeaderStatus:
    """The status of a tab's row 1 as read back (trailing blanks dropped)."""
    found = tuple(header)
    if list(found) == HEADERS[title]:
        return HeaderStatus.CURRENT
    return HeaderStatus.EARLIER if found in EARLIER_HEADERS.get(title, ()) else HeaderStatus.FOREIGN


def migration_note(title: str, header: tuple | list) -> str:
    """The Sync log's words for a migrated tab: which columns it gained and lost."""
    added = [h for h in HEADERS[title] if h not in header]
    removed = [str(h) for h in header if h not in HEADERS[title]]
    parts = [f"added {', '.join(added)}"] * bool(added) + [f"removed {', '.join(removed)}"] * bool(removed)
    detail = "; ".join(parts) or "columns reordered"
    return f"tab {title!r} had an earlier syncer version's header and was rewritten with the current one ({detail})"


# Number formats sinks apply to the columns that hold money, hours, days or ratios (by header).
MONEY_COLUMNS = frozenset(
    {"Labour cost", "Planned", "Committed", "Invoiced", "Budgeted", "Labour", "Open commitments", "Remaining", "Spent"}
)
RATIO_COLUMNS = frozenset(
    {"Used %", "Rework rate", "Blocked share", "Late rate", "Reliability", "Intake complete", "Utilization",
     "First-pass yield"}
)


def iso_date(d: date | None) -> str | None:
    """`YYYY-MM-DD` or None."""
    return d.isoformat() if d else None


def iso_local(when: datetime | None, tz: tzinfo) -> str | None:
    """An ISO timestamp in the configured zone, to the second, or None."""
    return when.astimezone(tz).replace(microsecond=0).isoformat() if when else None


def to_cents(x: float) -> int:
    """An amount in integer cents, halves rounded away from zero as written in decimal (1.005 -> 101)."""
    c = x * 100.0
    r = round(c)
    if abs(abs(c - r) - 0.5) < 1e-6 or abs(c) > 1e12:  # (near) a half cent: decide on the decimal digits
        return int(Decimal(repr(x)).scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return r


def money(x: float | None) -> float | None:
    """Round an amount to cents, at write time only (the ledger's rounding: halves away from zero)."""
    return None if x is None else to_cents(x) / 100 + 0.0


def num(x: float | None, places: int = 2) -> float | None:
    """Round hours, days and ratios for display."""
    return None if x is None else round(x + 0.0, places)


def natural_key(key: str) -> tuple:
    """`MKT-9` before `MKT-10`: the text before the last `-`, then the ASCII number after it compared as a number
    of any length (shorter digits without leading zeros first), then, for a key without one, the key itself. The
    same order as `domain.cells.natural_sorted` gives in columns."""
    prefix, _, number = key.rpartition("-")
    if number.isascii() and number.isdigit():
        digits = number.lstrip("0")
        return prefix, len(digits), digits, ""
    return key, 0, "", key


@dataclass(slots=True)
class RunRecord:
    """What one sync did, for the Sync log tab and the state store."""

    run_at: datetime
    mode: str  # full | incremental | dry-run
    duration_s: float = 0.0
    fetched: int = 0
    changed: int = 0
    deleted: int = 0
    rows_written: int = 0
    api_requests: int = 0
    warnings: tuple[str, ...] = ()
    version: str = ""


def sync_log_row(run: RunRecord, tz: tzinfo) -> list[Cell]:
    """One Sync log row; warnings joined with `; ` and capped so a cell stays readable."""
    warnings = "; ".join(run.warnings)
    if len(warnings) > 2000:
        warnings = warnings[:1990] + " …(more)"
    return [
        iso_local(run.run_at, tz), run.mode, round(run.duration_s, 2), run.fetched, run.changed, run.deleted,
        run.rows_written, run.api_requests, warnings or None, run.version,
    ]
