"""The Weekly review's Notes (SPEC §10): fixed rules, checked in order of importance; at most three findings.

A rule looks at one row's figures (a week and a team) and either says one short sentence naming up to three task
keys, or nothing. A week where no rule fires has no note. The rules and thresholds are documented in
docs/metrics.md ("Weekly review tab"); change them there and here together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

MAX_NOTES = 3
REWORK_SHARE = 0.25  # of the week's completed tasks that went back at least once
LATE_SHARE = 0.25  # of the week's completed tasks that had a due date
OVER_ESTIMATE_SHARE = 0.25  # of the week's completed tasks that had an estimate
REVIEW_ROUNDS = 2.0  # mean review rounds of the week's completed tasks that were reviewed
INTAKE_GAP_SHARE = 0.5  # of the week's new requests
SEPARATOR = "; "

Row = Mapping[str, Any]


def _tasks(n: int) -> str:
    return f"{n} task{'s' * (n != 1)}"


def _keys(keys: Sequence[str] | None) -> str:
    return f" ({', '.join(keys)})" if keys else ""


def _share(part: int, whole: int, at_least: float) -> bool:
    return part > 0 and whole > 0 and part / whole >= at_least


def _overdue(r: Row, _: float) -> str | None:
    n = r["newly_overdue"]
    if not n:
        return None
    verb = "was" if n == 1 else "were"
    return f"Overdue: {_tasks(n)} due this week {verb} not done by its end{_keys(r['overdue_keys'])}"


def _blocked(r: Row, _: float) -> str | None:
    n = r["newly_blocked"]
    return f"Blocked: {_tasks(n)} got blocked or flagged{_keys(r['blocked_keys'])}" if n else None


def _rework(r: Row, _: float) -> str | None:
    n, done = r["reworked_done"], r["completed"]
    if not _share(n, done, REWORK_SHARE):
        return None
    origin = " or ".join(stage for stage, went in (("review", r["from_review"]), ("done", r["from_done"])) if went)
    return f"Rework: {n} of {done} completed went back from {origin}{_keys(r['rework_keys'])}"


def _late(r: Row, _: float) -> str | None:
    n, due = r["late"], r["with_due"]
    if not _share(n, due, LATE_SHARE):
        return None
    return f"Late: {n} of {due} completed with a due date finished after it{_keys(r['late_keys'])}"


def _over_estimate(r: Row, ratio: float) -> str | None:
    n, estimated = r["over_estimate"], r["estimated"]
    if not _share(n, estimated, OVER_ESTIMATE_SHARE):
        return None
    return f"Estimates: {n} of {estimated} estimated tasks logged over {ratio:g}× their estimate{_keys(r['over_keys'])}"


def _review_rounds(r: Row, _: float) -> str | None:
    mean = r["review_rounds"]
    if mean is None or mean < REVIEW_ROUNDS:
        return None
    return f"Review: {mean:.2f} rounds per reviewed task completed{_keys(r['rounds_keys'])}"


def _intake(r: Row, _: float) -> str | None:
    n, created = r["intake_gaps"], r["created"]
    if not _share(n, created, INTAKE_GAP_SHARE):
        return None
    return f"Intake: {n} of {created} new requests break an intake rule{_keys(r['gap_keys'])}"


def _capacity(r: Row, _: float) -> str | None:
    util = r["utilization"]
    if util is None or util <= 1:
        return None
    return f"Capacity: {r['logged_h']:.2f} h logged against {r['capacity_h']:.2f} h ({util:.0%})"


# In order of importance: work that missed its date or cannot move, then quality, estimates, intake, load.
RULES: tuple[Callable[[Row, float], str | None], ...] = (
    _overdue, _blocked, _rework, _late, _over_estimate, _review_rounds, _intake, _capacity,
)


def findings(row: Row, over_estimate_ratio: float) -> list[str]:
    """Every rule that fires for one Weekly review row, most important first."""
    return [note for rule in RULES if (note := rule(row, over_estimate_ratio))]


def notes_of(row: Row, over_estimate_ratio: float) -> str | None:
    """The Notes cell: the first three findings, or None (a blank cell) when nothing is remarkable."""
    found = findings(row, over_estimate_ratio)[:MAX_NOTES]
    return SEPARATOR.join(found) or None
