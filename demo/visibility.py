"""What the Campaigns and Attention tabs need to show in the demo: dependencies, Jira flags, and three small
campaigns that end `done`, `on track` and `at risk` (the four big ones run late). Drawn from their own seeded
random streams after the main plans, so the rest of the demo stays as it was."""

from __future__ import annotations

from random import Random

from demo.scenario import (
    DAY,
    NOW_TS,
    REQUESTERS,
    TEAM,
    Plan,
    brief_text,
    local_date,
    pick,
    roll,
    scripted,
    work_time,
    worklogs_for,
)

OPEN = frozenset({"Request", "To Do", "In Progress", "Ready for QA", "In Review", "Waiting for approval", "Blocked"})
DONE_STEPS = (("To Do", 2), ("In Progress", 4), ("In Review", 1), ("Done", 0))
EXTRA_CAMPAIGNS = {  # campaign -> (activity, G/L account, category)
    "Customer Stories": ("Content", "6300 Content production", "Content"),
    "Holiday Promo": ("Paid social", "6100 Advertising", "Paid media"),
    "Analyst Day": ("Events", "6200 Events", "Events"),
}
EXTRA_BUDGET = [  # a fiscal-year, a quarter and a month line each, as finance writes them for the big campaigns
    ["Customer Stories", "Content", "6300 Content production", "FY2027", "4000"],
    ["Customer Stories", "Content", "6300 Content production", "FY2027-Q2", "4000"],
    ["Customer Stories", "Content", "6300 Content production", "2026-08", "1000"],
    ["Holiday Promo", "Paid social", "6100 Advertising", "FY2027", "24000"],
    ["Holiday Promo", "Paid social", "6100 Advertising", "FY2027-Q3", "9000"],
    ["Holiday Promo", "Paid social", "6100 Advertising", "2026-12", "3000"],
    ["Analyst Day", "Events", "6200 Events", "FY2027", "6000"],
    ["Analyst Day", "Events", "6200 Events", "FY2027-Q4", "9000"],
    ["Analyst Day", "Events", "6200 Events", "2027-02", "3000"],
]
# Monday 2026-08-24 00:00 Berlin: the first of the 12 complete ISO weeks before the demo's "now" (W47)
FIRST_WEEK_TS = 1787522400


def link_and_flag(plans: list[Plan], rng: Random, *, flags: bool) -> None:
    """Some open tasks wait on an earlier task (Jira "is blocked by", Asana dependencies); with `flags` (Jira),
    some tasks in progress or review carry the Flagged impediment now, and some finished ones did for a while."""
    open_idx = [i for i, p in enumerate(plans) if p.status in OPEN]
    for n, i in enumerate(open_idx):
        if i and (n == 0 or rng.random() < 0.12):  # the first open task always waits on its open predecessor
            earlier = [j for j in open_idx if j < i] if n == 0 else list(range(i))
            if earlier:
                plans[i].blocked_by = sorted({pick(rng, earlier) for _ in range(roll(rng, 1, 2))})
    if not flags:
        return
    for p in plans:
        spells = [(a, b) for (a, status), (b, _) in zip(p.path, p.path[1:], strict=False) if status == "In Progress"]
        if p.status in ("In Progress", "In Review") and rng.random() < 0.12:
            p.flags = [(work_time(max(p.path[-1][0], NOW_TS - roll(rng, 2, 6) * DAY), rng), None)]
        elif spells and p.status == "Done" and rng.random() < 0.06:
            a, b = spells[0]
            p.flags = [(a + (b - a) // 4, a + (b - a) * 3 // 4)]
    current = [p for p in plans if p.status == "In Progress"]
    if current and not any(p.flags and p.flags[-1][1] is None for p in plans):
        current[-1].flags = [(NOW_TS - 2 * DAY, None)]


def _plan(n: int, campaign: str, title: str, created: int, path: list[tuple[int, str]], rng: Random,
          due: int) -> Plan:
    activity, gl, category = EXTRA_CAMPAIGNS[campaign]
    p = Plan(n=n, title=f"{title} ({campaign})", kind="Task", owner=pick(rng, TEAM), reporter=pick(rng, REQUESTERS),
             created=created, path=path, campaign=campaign, activity=activity, gl=gl, category=category,
             due=local_date(due), estimate_h=float(pick(rng, (4, 8, 12, 16))), labels=["evergreen"])
    p.brief = brief_text(rng, p.title, campaign)
    p.planned = float(roll(rng, 4, 30) * 100)
    p.worklogs = worklogs_for(p, rng, roll(rng, 1, 4))
    return p


def extra_plans(first_n: int, rng: Random, *, asana: bool) -> list[Plan]:
    """The small campaigns: Jira gets Customer Stories (all done) and Holiday Promo (steady weekly throughput, due
    dates well ahead: on track); Asana gets Analyst Day (nothing finished yet: no forecast, at risk)."""
    out: list[Plan] = []
    if asana:
        for k, title in enumerate(("Book analyst venue", "Draft analyst briefing", "Invite analysts")):
            created = work_time(NOW_TS - (6 + k) * DAY, rng)
            path = scripted(created, (("To Do", 2), ("In Progress", 0)) if k == 1 else (("To Do", 0),), rng)
            out.append(_plan(first_n + k, "Analyst Day", title, created, path, rng, NOW_TS + (110 + 7 * k) * DAY))
        return out
    for k, title in enumerate(("Interview a customer", "Write case study", "Record testimonial video",
                               "Publish story page")):
        created = work_time(NOW_TS - (130 - 9 * k) * DAY, rng)
        path = scripted(created, DONE_STEPS, rng)
        out.append(_plan(first_n + k, "Customer Stories", title, created, path, rng, path[-1][0] + 2 * DAY))
    weeks = [w for w in range(12) if w not in (3, 8)]  # ten of the twelve weeks finish one task each
    for w in weeks:
        done = work_time(FIRST_WEEK_TS + (7 * w + 2) * DAY, rng)
        created = done - 9 * DAY
        path = scripted(created, DONE_STEPS, rng)
        path[-1] = (done, "Done")  # finished in that week, whatever the walk took
        out.append(_plan(first_n + len(out), "Holiday Promo", "Set up holiday ad set", created, path, rng,
                         done + 3 * DAY))
    for k, title in enumerate(("Design holiday banners", "Launch gift-guide ads", "Report holiday results")):
        created = work_time(NOW_TS - (3 + k) * DAY, rng)
        path = scripted(created, (("To Do", 1), ("In Progress", 0)) if k == 0 else (("To Do", 0),), rng)
        p = _plan(first_n + len(out), "Holiday Promo", title, created, path, rng, NOW_TS + (60 + 21 * k) * DAY)
        if k == 0:
            p.owner = None  # started, and nobody took it: the demo's `unowned` row
        out.append(p)
    return out
