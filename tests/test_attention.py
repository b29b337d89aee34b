"""The Attention tab (SPEC §12): each reason computed by hand on 2026-11-20 09:00 Berlin."""

from __future__ import annotations

from datetime import timedelta

from frame_builders import AS_OF, CLOCK, TODAY, at, frames, task

from syncer.domain.attention import attention_counts, attention_table
from syncer.model import Spell, Stage, StageChange
from syncer.tables import ATTENTION, HEADERS

H = timedelta(hours=1)
D = timedelta(days=1)


def scenario() -> list:
    # team web's cycle times over the last 90 days: 2, 4, 6, 8, 10 days and MKT-5's 1.08 (26 hours); p85 of the
    # six sorted values: index 0.85 x 5 = 4.25, so 8 + 0.25 x (10 - 8) = 8.5
    done_recently = [
        task(f"MKT-{70 + c}", "Alpha", Stage.DONE, done=TODAY - timedelta(days=10),
             started=at(TODAY - timedelta(days=10)) - c * D)
        for c in (2, 4, 6, 8, 10)
    ]
    long_ago = task("MKT-60", "Alpha", Stage.DONE, done=TODAY - timedelta(days=100),
                    started=at(TODAY - timedelta(days=100)) - 50 * D)  # outside the 90 days: not in the p85
    blocked = task("MKT-1", "Alpha", Stage.BLOCKED, history=[
        StageChange(AS_OF - 5 * D, Stage.BACKLOG, Stage.IN_PROGRESS, "To Do", "In Progress"),
        StageChange(AS_OF - 3 * D, Stage.IN_PROGRESS, Stage.BLOCKED, "In Progress", "Blocked")])
    flagged = task("MKT-2", "Alpha", Stage.IN_PROGRESS, started=AS_OF - 2 * D,
                   flagged=[Spell(AS_OF - 6 * D, AS_OF - 4 * D), Spell(AS_OF - 1.5 * D, None)])
    waiting = task("MKT-3", "Alpha", depends_on=("MKT-4", "MKT-5", "MKT-99"))
    overdue = task("MKT-4", "Beta", due=TODAY - 2 * D)
    done_dep = task("MKT-5", "Beta", Stage.DONE, done=TODAY - 2 * D, started=AS_OF - 3 * D, due=TODAY - 9 * D)
    soon = task("MKT-6", "Beta", due=TODAY + 3 * D)
    later = task("MKT-7", "Beta", due=TODAY + 8 * D)
    stale = task("MKT-8", "Beta", Stage.IN_PROGRESS, started=AS_OF - 12 * D)
    fresh_review = task("MKT-9", "Beta", Stage.REVIEW, history=[
        StageChange(AS_OF - 9.5 * D, Stage.BACKLOG, Stage.IN_PROGRESS, "To Do", "In Progress"),
        StageChange(AS_OF - 9 * D, Stage.IN_PROGRESS, Stage.REVIEW, "In Progress", "In Review")])
    unowned = task("MKT-10", None, Stage.IN_PROGRESS, started=AS_OF - D, owner=None)
    cancelled = task("MKT-11", "Beta", Stage.CANCELLED, due=TODAY - 30 * D, owner=None)
    asana_old = task("1201", "Alpha", Stage.IN_PROGRESS, started=AS_OF - 9 * D, source="content")
    return [*done_recently, long_ago, blocked, flagged, waiting, overdue, done_dep, soon, later, stale,
            fresh_review, unowned, cancelled, asana_old]


def table():
    t = attention_table(frames(scenario()), CLOCK, due_soon_days=7, stale_days=10)
    assert t[0] == HEADERS[ATTENTION]
    return [dict(zip(HEADERS[ATTENTION], r, strict=True)) for r in t[1:]], t


def test_each_reason_by_hand_in_order():
    rows, _ = table()
    got = [(r["Reason"], r["Key"], r["Days"], r["Detail"]) for r in rows]
    assert got == [
        ("blocked", "MKT-1", 3.0, "status 'blocked'"),
        ("blocked", "MKT-2", 1.5, "flagged as impediment"),
        ("waiting on", "MKT-3", None, "MKT-4"),  # MKT-5 is done; MKT-99 is not a task syncer knows
        ("overdue", "MKT-4", 2.0, None),
        ("due soon", "MKT-6", 3.0, None),  # MKT-7 is due in 8 days, past the 7
        ("stale", "MKT-8", 12.0, None),  # MKT-9 changed 9 days ago, within the 10
        ("aging", "MKT-8", 12.0, "age 12.0 d, team p85 8.5 d"),
        ("aging", "MKT-9", 9.5, "age 9.5 d, team p85 8.5 d"),
        ("unowned", "MKT-10", 1.0, None),
    ]
    # the Asana task is 9 days in progress, but its team completed nothing in 90 days: no p85 to age against


def test_since_due_and_task_columns():
    rows, _ = table()
    by = {(r["Reason"], r["Key"]): r for r in rows}
    b = by[("blocked", "MKT-1")]
    assert b["Since"] == "2026-11-17T09:00:00+01:00" and b["Stage"] == "blocked" and b["Source"] == "web"
    assert b["Campaign"] == "Alpha" and b["Owner"] == "ana@acme.com" and b["URL"] == "https://x/MKT-1"
    assert by[("blocked", "MKT-2")]["Since"] == "2026-11-18T21:00:00+01:00"  # the flag still set
    assert by[("overdue", "MKT-4")]["Due"] == "2026-11-18" and by[("overdue", "MKT-4")]["Since"] is None
    assert by[("stale", "MKT-8")]["Since"] == "2026-11-08T09:00:00+01:00"
    assert by[("aging", "MKT-9")]["Since"] == "2026-11-10T21:00:00+01:00"  # when it started
    assert by[("unowned", "MKT-10")]["Owner"] is None and by[("unowned", "MKT-10")]["Campaign"] is None


def test_blocked_and_flagged_at_once_is_one_row_since_the_earlier():
    t = task("MKT-1", "Alpha", Stage.BLOCKED, flagged=[Spell(AS_OF - 4 * D, None)], history=[
        StageChange(AS_OF - 2 * D, Stage.IN_PROGRESS, Stage.BLOCKED, "In Progress", "Blocked")])
    rows = attention_table(frames([t]), CLOCK, 7, 10)[1:]
    blocked = [r for r in rows if r[0] == "blocked"]
    assert len(blocked) == 1 and blocked[0][8] == 4.0 and blocked[0][10] == "status 'blocked', flagged as impediment"


def test_counts_by_reason():
    _, t = table()
    assert attention_counts(t) == {"blocked": 2, "waiting on": 1, "overdue": 1, "due soon": 1, "stale": 1,
                                   "aging": 2, "unowned": 1}


def test_nothing_to_look_at_is_just_the_header():
    assert attention_table(frames([task("MKT-1", "A", Stage.DONE, done=TODAY)]), CLOCK, 7, 10) == [HEADERS[ATTENTION]]
