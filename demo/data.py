"""Seeded, deterministic demo data: Jira and Asana raw-page folders plus a budget CSV (seed -> bytes)."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from random import Random

from demo.asana import BASE_URL as ASANA_URL
from demo.asana import PROJECT_GID, render_asana
from demo.finance import drop_a_po, late_edits
from demo.jira import BASE_URL as JIRA_URL
from demo.jira import render_jira
from demo.scenario import (
    ASANA_STATUSES,
    CAMPAIGNS,
    CATEGORIES,
    DAY,
    GL_ACCOUNTS,
    JIRA_STATUSES,
    LABELS,
    LAST_CREATED_TS,
    NOW,
    NOW_TS,
    REQUESTERS,
    SHORT_BRIEFS,
    START_TS,
    TEAM,
    WORK,
    Plan,
    brief_text,
    format_amount,
    local_date,
    pick,
    roll,
    scripted,
    walk,
    work_time,
    worklogs_for,
)
from demo.visibility import EXTRA_BUDGET, extra_plans, link_and_flag
from syncer.perf import paused_gc
from syncer.sources import Page
from syncer.sources.replay import write_pages

DEMO_SEED = 20261120
DEMO_TASKS = 220
DEMO_WORKLOGS = 3
JIRA_FOLDER, ASANA_FOLDER, BUDGET_FILE = "jira-web", "asana-content", "budget.csv"
JIRA_BEFORE_CLOSE_FOLDER = "jira-web-before-close"  # the Jira project as it stood when October was closed
ACTIVITIES = tuple(GL_ACCOUNTS)
ESTIMATES = (2, 4, 6, 8, 12, 16, 24, 32, 40)
DONE_PATH = (("To Do", 2), ("In Progress", 5), ("In Review", 1), ("Done", 0))
PATHS = {
    "blocked_twice": (("To Do", 2), ("In Progress", 3), ("Blocked", 4), ("In Progress", 2), ("Blocked", 3),
                      ("In Progress", 2), ("In Review", 1), ("Done", 0)),
    "review_loop": (("To Do", 1), ("In Progress", 3), ("In Review", 1.5), ("In Progress", 2),
                    ("In Review", 1), ("Done", 0)),
    "reopened": (("Request", 0.5), ("To Do", 2), ("In Progress", 4), ("In Review", 1), ("Done", 6),
                 ("In Progress", 1.5), ("In Review", 0.5), ("Done", 0)),
    "skip_to_review": (("To Do", 3), ("In Review", 1), ("Done", 0)),
    "skip_to_done": (("To Do", 5), ("Done", 0)),
    "cancelled": (("Request", 2), ("Cancelled", 0)),
    "ready_for_qa": (("To Do", 1), ("In Progress", 2), ("Ready for QA", 1), ("In Review", 1), ("Done", 0)),
    "in_progress_now": (("To Do", 1), ("In Progress", 0)),
    "in_review_now": (("To Do", 1), ("In Progress", 2), ("In Review", 0)),
    "blocked_now": (("To Do", 1), ("In Progress", 1), ("Blocked", 0)),
    "intake_gaps": (("Request", 0),),
}
# Source-specific cases by task number (1-based); negative numbers count from the end.
JIRA_SPECIALS = {
    5: "formula", 6: "no_campaign_amounts", 7: "heavy", 8: "unparseable", 9: "blocked_twice",
    10: "review_loop", 11: "reopened", 12: "skip_to_review", 13: "skip_to_done", 14: "invoice_over_po",
    15: "partial_invoice", 16: "cancelled", 17: "intake_gaps", 18: "short_brief", 19: "ready_for_qa",
    20: "po_corrected", -1: "in_review_now", -2: "in_progress_now", -3: "blocked_now",
}
ASANA_SPECIALS = {
    1: "review_loop", 2: "reopened", 3: "blocked_twice", 4: "skip_to_done", 5: "many_entries",
    6: "intake_gaps", 7: "short_brief", 8: "invoice_over_po", -1: "in_review_now", -2: "in_progress_now",
    -3: "blocked_now",
}


@dataclass(slots=True)
class DemoData:
    """Everything the generator produces, in memory: raw pages per source and the budget CSV text."""

    jira: list[Page]
    asana: list[Page]
    budget_csv: str
    jira_before_close: list[Page]  # the Jira pages as they stood when October was closed (`demo.finance`)


def split_tasks(n_tasks: int) -> tuple[int, int]:
    """How many of `n_tasks` go to Jira and to Asana (7:4, i.e. 140 + 80 for the demo's 220)."""
    n_jira = n_tasks * 7 // 11
    return n_jira, n_tasks - n_jira


def _done_at(p: Plan) -> int | None:
    return p.path[-1][0] if p.status == "Done" else None


def _amounts(p: Plan, rng: Random) -> None:
    """Planned cost, a purchase order and invoices, as a marketing team would enter them."""
    if rng.random() < 0.6 and p.campaign:  # spend without a campaign is the exception (see _special)
        p.planned = float(roll(rng, 6, 240) * 50)
    if not p.planned or rng.random() >= 0.55 or p.status == "Request":
        return
    po_at = work_time(p.created + roll(rng, 1, 12) * DAY, rng)
    if po_at >= NOW_TS - DAY:
        return
    value = round(p.planned * rng.uniform(0.7, 1.05), pick(rng, (0, 2)))
    p.po_value, p.po_at, p.po_text = value, po_at, format_amount(value, rng)
    p.po_date = local_date(po_at) if rng.random() < 0.8 else None
    done = _done_at(p)
    if done and rng.random() < 0.75:
        inv_at = work_time(max(done, po_at) + roll(rng, 1, 20) * DAY, rng)
        share = 1.0 if rng.random() < 0.7 else rng.uniform(0.4, 0.9)
    elif p.status in ("In Progress", "In Review") and rng.random() < 0.15:
        inv_at, share = work_time(po_at + roll(rng, 2, 15) * DAY, rng), 0.5  # a deposit
    else:
        return
    if inv_at < NOW_TS - 3600:
        p.invoiced = round(value * share, 2)
        p.invoice_at = inv_at
        p.invoice_date = local_date(inv_at) if rng.random() < 0.85 else None


def _set_po(p: Plan, planned: float, po: float, text: str, invoiced: float | None = None) -> None:
    _clear_amounts(p)
    p.planned, p.po_value, p.po_text = planned, po, text
    p.po_at = p.created + 2 * DAY
    p.po_date = local_date(p.po_at)
    p.invoiced = invoiced
    if invoiced is not None:
        p.invoice_at = p.path[-1][0] + 3 * DAY
        p.invoice_date = local_date(p.invoice_at)


DONE_CASES = frozenset({"no_campaign_amounts", "invoice_over_po", "partial_invoice", "po_corrected", "heavy",
                        "many_entries", "unparseable"})


def _clear_amounts(p: Plan) -> None:
    p.planned = p.po_value = p.po_text = p.po_date = p.po_at = p.po_first = None
    p.invoiced = p.invoice_date = p.invoice_at = None


def _special(p: Plan, name: str, rng: Random) -> None:
    """Turn a random plan into one of the hand-picked cases the demo must show."""
    if name in PATHS or name in DONE_CASES:
        if name.endswith("_now"):
            p.created = work_time(NOW_TS - {"in_progress_now": 4, "blocked_now": 5}.get(name, 6) * DAY, rng)
        p.path = scripted(p.created, PATHS.get(name, DONE_PATH), rng)
        _clear_amounts(p)  # amounts were drawn for the old history: draw them again for this one
        _amounts(p, rng)
    if name == "formula":
        p.title = '=HYPERLINK("http://x","click")'
    elif name == "no_campaign_amounts":
        p.campaign, p.title = None, WORK[p.activity or "Design"][0]
        _set_po(p, 750.0, 1200.5, "€1,200.50")
    elif name == "unparseable":
        _set_po(p, 2000.0, 2000.0, "about 2k")
    elif name == "invoice_over_po":
        _set_po(p, 3000.0, 2500.0, "2,500.00", invoiced=2750.0)
    elif name == "partial_invoice":
        _set_po(p, 8000.0, 7800.0, "€7,800", invoiced=3900.0)
    elif name == "po_corrected":
        _set_po(p, 5000.0, 4600.0, "4,600.00")
        p.po_first, p.po_at = (p.po_at, "4,000.00"), p.po_at + 3 * DAY
    elif name == "intake_gaps":
        p.campaign = p.due = p.brief = p.estimate_h = p.owner = None
        _clear_amounts(p)
        p.title = WORK[p.activity or "Content"][1]
    elif name == "short_brief":
        p.brief = SHORT_BRIEFS[0]


def _plan(i: int, count: int, rng: Random, asana: bool, epics: dict[str, int], plans: list[Plan]) -> Plan:
    created = work_time(START_TS + int((i + rng.random()) / count * (LAST_CREATED_TS - START_TS)), rng)
    campaign = pick(rng, tuple(CAMPAIGNS)) if rng.random() > 0.06 else None
    activity = pick(rng, CAMPAIGNS[campaign]) if campaign else pick(rng, ACTIVITIES)
    title = pick(rng, WORK[activity]) + (f" ({campaign})" if campaign else "")
    kind = "Task" if asana else _kind(rng.random())
    start = "Request" if rng.random() < 0.45 else "To Do"
    p = Plan(n=i + 1, title=title, kind=kind, owner=pick(rng, TEAM) if rng.random() > 0.06 else None,
             reporter=pick(rng, TEAM + REQUESTERS), created=created,
             path=walk(created, start, rng, ASANA_STATUSES if asana else JIRA_STATUSES),
             campaign=campaign, activity=activity, gl=GL_ACCOUNTS[activity] if rng.random() < 0.93 else None,
             category=CATEGORIES[activity] if rng.random() < 0.9 else None,
             due=local_date(created + roll(rng, 5, 40) * DAY) if rng.random() > 0.1 else None,
             estimate_h=float(pick(rng, ESTIMATES)) if rng.random() > 0.12 else None,
             labels=sorted({pick(rng, LABELS) for _ in range(roll(rng, 0, 2))}))
    r = rng.random()
    p.brief = None if r < 0.08 else pick(rng, SHORT_BRIEFS) if r < 0.16 else brief_text(rng, title, campaign)
    parent = roll(rng, len(epics), i - 1) if kind == "Sub-task" and i > len(epics) else None
    if parent is not None and plans[parent].kind in ("Task", "Story"):
        p.parent = parent  # a Jira sub-task of an earlier task or story
    else:
        p.kind = "Task" if kind == "Sub-task" else kind
        if asana and i > 0 and rng.random() < 0.05:
            p.parent = roll(rng, 0, i - 1)
        elif campaign in epics and rng.random() < 0.4:
            p.parent = epics[campaign]
    _amounts(p, rng)
    return p


def _kind(r: float) -> str:
    return "Task" if r < 0.7 else "Story" if r < 0.92 else "Sub-task"


def _epic(i: int, campaign: str, rng: Random) -> Plan:
    created = START_TS + i * DAY + 9 * 3600
    return Plan(n=i + 1, title=f"{campaign} campaign", kind="Epic", owner=TEAM[i], reporter=TEAM[3],
                created=created, path=scripted(created, (("To Do", 3), ("In Progress", 0)), rng),
                campaign=campaign, category="Ops", due=local_date(NOW_TS + (30 + 30 * i) * DAY),
                estimate_h=40.0,
                brief=f"Umbrella for everything in {campaign}: goals, budget owner and timeline live here.")


def plan_tasks(count: int, rng: Random, *, asana: bool, worklogs_per_task: int = DEMO_WORKLOGS) -> list[Plan]:
    """`count` source-neutral task plans; Jira gets one epic per campaign first."""
    plans: list[Plan] = []
    epics: dict[str, int] = {}
    if not asana and count >= 40:
        for i, campaign in enumerate(CAMPAIGNS):
            epics[campaign] = i
            plans.append(_epic(i, campaign, rng))
    table = ASANA_SPECIALS if asana else JIRA_SPECIALS
    specials = {(n if n > 0 else count + 1 + n): name for n, name in table.items()} if count >= 40 else {}
    for i in range(len(plans), count):
        p = _plan(i, count, rng, asana, epics, plans)
        name = specials.get(p.n)
        if name:
            _special(p, name, rng)
        heavy = name == "many_entries" or (not asana and p.n % 61 == 7)
        if p.campaign is None and (heavy or (name in DONE_CASES and name != "no_campaign_amounts")):
            p.campaign = next(c for c, acts in CAMPAIGNS.items() if p.activity in acts)
            p.title = f"{p.title} ({p.campaign})"
        if name == "many_entries":
            n_logs = roll(rng, 110, 120)  # more than one page of Asana time tracking entries
        elif heavy:
            n_logs = roll(rng, 21, 45)  # more than the 20 worklogs Jira embeds in an issue
        else:
            n_logs = roll(rng, 0, 2 * worklogs_per_task)
        p.worklogs = worklogs_for(p, rng, n_logs)
        if name == "many_entries":  # many short entries (a daily stand-in), not hundreds of hours
            p.worklogs = [(who, at, 1800) for who, at, _ in p.worklogs]
        plans.append(p)
    return plans


def budget_rows(plans: Iterable[Plan], rng: Random) -> list[list[str]]:
    """Budget lines (Campaign, Activity, G/L account, Period, Amount) sized to the planned spend, in three
    granularities: a fiscal-year line, quarter lines and month lines (fiscal year starts in April)."""
    need: dict[tuple[str, str], float] = defaultdict(float)
    for p in plans:
        if p.campaign and p.activity:
            labour = sum(s for _, _, s in p.worklogs) / 3600 * 85
            need[p.campaign, p.activity] += max(p.planned or 0, p.po_value or 0) + labour
    rows = []
    for campaign, activities in CAMPAIGNS.items():
        for j, activity in enumerate(activities):
            base = need.get((campaign, activity), 0) * pick(rng, (0.8, 1.0, 1.15, 1.3))
            line = [campaign, activity, GL_ACCOUNTS[activity]]
            if j == 1:
                for q, share in (("Q1", 0.3), ("Q2", 0.4), ("Q3", 0.3)):
                    rows.append([*line, f"FY2027-{q}", f"{round(base * share, -2):.0f}"])
            elif j == 2:
                for month in range(5, 12):
                    rows.append([*line, f"2026-{month:02d}", f"{round(base / 7, -2):.0f}"])
            else:
                rows.append([*line, "FY2027", f"{round(base * 12 / 7, -3):.0f}"])
    return rows + [list(r) for r in EXTRA_BUDGET]


def budget_csv(plans: Iterable[Plan], rng: Random) -> str:
    """The budget file's text (header + `budget_rows`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["Campaign", "Activity", "G/L account", "Period", "Amount"])
    writer.writerows(budget_rows(plans, rng))
    return out.getvalue()


def _with_visibility(plans: list[Plan], seed: int, asana: bool) -> list[Plan]:
    """Dependencies and flags on the plans, then the small campaigns of `demo.visibility` after them."""
    side = "asana" if asana else "jira"
    link_and_flag(plans, Random(f"links-{side}-{seed}"), flags=not asana)
    if len(plans) < 40:  # like the special cases: only a demo of some size shows them
        return plans
    return plans + extra_plans(len(plans) + 1, Random(f"extra-{side}-{seed}"), asana=asana)


def jira_plan_versions(n_issues: int, seed: int = DEMO_SEED,
                       worklogs_per_task: int = DEMO_WORKLOGS) -> tuple[list[Plan], list[Plan]]:
    """The Jira side's task plans as they stood when October was closed, and now (`demo.finance`); the same
    plans when there are too few issues for the scripted cases."""
    plans = plan_tasks(n_issues, Random(f"jira-{seed}"), asana=False, worklogs_per_task=worklogs_per_task)
    plans = _with_visibility(plans, seed, asana=False)
    if n_issues < 40:
        return plans, plans
    scripted = {n if n > 0 else n_issues + 1 + n for n in JIRA_SPECIALS}
    drop_a_po(plans, scripted)
    now, _ = late_edits(plans, scripted)
    return plans, now


def jira_plans(n_issues: int, seed: int = DEMO_SEED, worklogs_per_task: int = DEMO_WORKLOGS) -> list[Plan]:
    """The Jira side's task plans now (source-neutral; `render_jira` turns them into pages)."""
    return jira_plan_versions(n_issues, seed, worklogs_per_task)[1]


def asana_plans(n_tasks: int, seed: int = DEMO_SEED, worklogs_per_task: int = DEMO_WORKLOGS) -> list[Plan]:
    """The Asana side's task plans."""
    plans = plan_tasks(n_tasks, Random(f"asana-{seed}"), asana=True, worklogs_per_task=worklogs_per_task)
    return _with_visibility(plans, seed, asana=True)


def jira_pages(n_issues: int, seed: int = DEMO_SEED, worklogs_per_task: int = DEMO_WORKLOGS) -> list[Page]:
    """Only the Jira raw pages for `n_issues` issues (equal to `generate(...).jira` for the same split)."""
    with paused_gc():
        return render_jira(jira_plans(n_issues, seed, worklogs_per_task), Random(f"jira-pages-{seed}"))


def asana_pages(n_tasks: int, seed: int = DEMO_SEED, worklogs_per_task: int = DEMO_WORKLOGS) -> list[Page]:
    """Only the Asana raw pages for `n_tasks` tasks (equal to `generate(...).asana`, same split)."""
    with paused_gc():
        return render_asana(asana_plans(n_tasks, seed, worklogs_per_task), Random(f"asana-pages-{seed}"))


def generate(n_tasks: int = DEMO_TASKS, seed: int = DEMO_SEED,
             worklogs_per_task: int = DEMO_WORKLOGS) -> DemoData:
    """Build the demo in memory: Jira and Asana raw pages (endpoint, params, body) and the budget CSV.

    Tasks are split 7:4 between Jira and Asana (`split_tasks`); from 40 tasks a side, the small campaigns of
    `demo.visibility` come on top (17 tasks: 240 in the bundled demo). `worklogs_per_task` is the mean number
    of worklogs on a started task (0..2x, uniformly); a few tasks always get more than the 20 Jira embeds
    (and one Asana task more than a page of time entries), so every size of 40+ tasks has extra pages.
    """
    n_jira, n_asana = split_tasks(n_tasks)
    with paused_gc():
        before, jira = jira_plan_versions(n_jira, seed, worklogs_per_task)
        asana = asana_plans(n_asana, seed, worklogs_per_task)
        return DemoData(jira=render_jira(jira, Random(f"jira-pages-{seed}")),
                        asana=render_asana(asana, Random(f"asana-pages-{seed}")),
                        budget_csv=budget_csv(jira + asana, Random(f"budget-{seed}")),
                        jira_before_close=render_jira(before, Random(f"jira-pages-{seed}")))


def write_demo(out: Path | str, n_tasks: int = DEMO_TASKS, seed: int = DEMO_SEED,
               worklogs_per_task: int = DEMO_WORKLOGS) -> DemoData:
    """Generate and write `out/jira-web/`, `out/jira-web-before-close/`, `out/asana-content/` and
    `out/budget.csv`."""
    out = Path(out)
    data = generate(n_tasks, seed, worklogs_per_task)
    stamp = NOW.isoformat()
    for folder, pages in ((JIRA_FOLDER, data.jira), (JIRA_BEFORE_CLOSE_FOLDER, data.jira_before_close)):
        write_pages(out / folder, "jira", pages, base_url=JIRA_URL, source="web", fetched_at=stamp, projects=[])
    write_pages(out / ASANA_FOLDER, "asana", data.asana, base_url=ASANA_URL, source="content", fetched_at=stamp,
                projects=[PROJECT_GID])
    (out / BUDGET_FILE).write_text(data.budget_csv, encoding="utf-8")
    return data
