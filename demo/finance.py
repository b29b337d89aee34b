"""The demo's finance cases: an invoice without a PO, and the two edits that reach October after it was closed.

October 2026 is closed on the Jira project as it stood before two late edits (`config/demo/jira-web-before-close`);
the snapshot of 20 November (`config/demo/jira-web`) has them: an invoice corrected upwards on 10 November and
3 hours logged on 12 November for work done on 28 October. Both are picked by rule from the generated plans, with
no random draw, so the rest of the demo is the same with or without them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

from demo.scenario import DAY, NOW_TS, TEAM, Plan, local_date, midnight

CLOSED_MONTH = "2026-10"
INVOICE_CORRECTION = 350.0  # the agency's corrected invoice is this much higher
INVOICE_EDITED_AT = NOW_TS - 10 * DAY  # 2026-11-10
LATE_WORKLOG_DAY = 20754  # days since 1970-01-01: 2026-10-28
LATE_WORKLOG = (midnight(LATE_WORKLOG_DAY) + 14 * 3600, 3 * 3600)  # 14:00 Berlin, 3 h


@dataclass(frozen=True, slots=True)
class LateEdits:
    """Which Jira tasks (1-based numbers, `MKT-n`) the two late edits touch."""

    invoice: int
    worklog: int


def _month(ts: int) -> str:
    return local_date(ts)[:7]


def drop_a_po(plans: list[Plan], skip: set[int]) -> int | None:
    """Turn the first finished, invoiced task with a PO (not a scripted case) into one invoiced without a PO."""
    for p in plans:
        if p.n not in skip and p.status == "Done" and p.campaign and p.invoiced and p.po_value and not p.po_first:
            p.po_value = p.po_text = p.po_date = p.po_at = None
            return p.n
    return None


def late_edits(plans: list[Plan], skip: set[int]) -> tuple[list[Plan], LateEdits]:
    """The plans as they stand on 20 November: `plans` (which stay as on the day October was closed) with one
    October invoice corrected and one back-dated worklog added, on tasks of two different accounts; only those
    two plans are copied."""
    now = list(plans)
    i = _first(plans, lambda p: p.n not in skip and p.status == "Done" and bool(p.campaign and p.invoiced)
               and (p.invoice_date or "").startswith(CLOSED_MONTH) and p.invoice_at is not None, "an October invoice")
    invoiced = now[i] = copy.deepcopy(plans[i])
    invoiced.invoice_first = (invoiced.invoice_at, invoiced.invoiced)
    invoiced.invoiced = round(invoiced.invoiced + INVOICE_CORRECTION, 2)
    invoiced.invoice_at = INVOICE_EDITED_AT
    j = _first(plans, lambda p: p.n not in skip and bool(p.campaign and p.worklogs)
               and (p.activity, p.gl) != (invoiced.activity, invoiced.gl)
               and any(_month(at) == CLOSED_MONTH for _, at, _ in p.worklogs), "October work on another account")
    worked = now[j] = copy.deepcopy(plans[j])
    started, seconds = LATE_WORKLOG
    worked.worklogs = sorted([*worked.worklogs, (worked.owner or TEAM[0], started, seconds)], key=lambda w: w[1])
    return now, LateEdits(invoiced.n, worked.n)


def _first(plans: list[Plan], wanted: Callable[[Plan], bool], what: str) -> int:
    """The index of the first plan that is `wanted`; the demo is built so that one is (else a clear error)."""
    found = next((i for i, p in enumerate(plans) if wanted(p)), None)
    if found is None:
        raise ValueError(f"the demo plans have no task with {what} for the late edits")
    return found
