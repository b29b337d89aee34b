"""`make demo`, recomputed: every figure in the written workbook is checked against an independent recomputation.

The CLI syncs the bundled demo into a temporary workbook, which is read back with openpyxl. Separately, this module
reads the raw pages in config/demo/ with plain `json` (NOT through syncer's mapping), plus config/demo/budget.csv
and config/demo.yaml. Using only the standard library, it recomputes what the contract (docs/SPEC.md §4–§8) says
each number is: every Tasks row (§5), every Flow metrics and Capacity row (§7), every Budget rollup row (§8), and
the Intake tab's findings. Nothing here imports syncer apart from the CLI entry point that produces the workbook.

The figures are exact: money in integer cents, durations, hours and ratios as Fractions. A written number passes when
it is a correct rounding of the exact value to the places the tab uses (2 for days and hours, 4 for ratios).
Where the SPEC leaves a choice open, the choice documented in README "Decisions where the SPEC is silent" and
docs/metrics.md is followed; each such place is marked `Decision:` below.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

from syncer.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = ROOT / "config" / "demo.yaml"

# SPEC §6: row 1 of each tab, copied from the contract (not imported from syncer).
HEADERS = {
    "Tasks": ["Source", "Key", "Title", "Type", "Stage", "Status", "Owner", "Campaign", "Activity", "Category",
              "G/L account", "Created", "Started", "Completed", "Due", "Estimate h", "Logged h", "Labour cost",
              "Planned", "Committed", "Invoiced", "Cycle days", "Review days", "Blocked days", "Reworked", "Late",
              "Intake OK", "URL"],
    "Budget rollup": ["Campaign", "Activity", "G/L account", "Period", "Budgeted", "Planned", "Committed",
                      "Invoiced", "Labour", "Open commitments", "Remaining", "Used %", "Flag", "Adjusts"],
    "Flow metrics": ["Period", "Source", "Category", "Throughput", "WIP", "Cycle p50", "Cycle p85", "Review p50",
                     "Rework rate", "Blocked share", "Late rate", "Reliability", "Estimate ratio", "Intake complete"],
    "Capacity": ["Week", "Team", "Person", "Category", "Logged h", "Capacity h", "Utilization", "Overloaded"],
    "Intake": ["Source", "Key", "Title", "Stage", "Owner", "Rule", "Field", "Problem", "Since", "URL"],
    "Weekly review": ["Week", "Team", "Completed", "Started", "Created", "Newly blocked", "Reworked", "Review rounds",
                      "First-pass yield", "Late", "Overdue at end", "Over estimate", "Intake gaps", "Logged h",
                      "Utilization", "Notes"],
    "Campaigns": ["Campaign", "Tasks", "Done", "Open", "Blocked", "Overdue", "Due next", "Last due", "Forecast p50",
                  "Forecast p85", "Schedule", "Budgeted", "Planned", "Spent", "Open commitments", "Remaining",
                  "Used %", "Budget flag"],
    "Attention": ["Reason", "Source", "Key", "Title", "Campaign", "Owner", "Stage", "Since", "Days", "Due", "Detail",
                  "URL"],
    "Sync log": ["Run at", "Mode", "Duration s", "Fetched", "Changed", "Deleted", "Rows written", "API requests",
                 "Warnings", "Version"],
}

# SPEC §4/§5/§7 stage sets.
STARTED = {"in_progress", "review", "blocked", "done"}
WIP = {"in_progress", "review", "blocked"}
REWORK_FROM, REWORK_TO = {"review", "done"}, {"intake", "backlog", "in_progress"}
# SPEC §4 default stage of an unmapped status or section name: first case-insensitive substring match wins.
NAME_DEFAULTS = [
    (("review", "approval"), "review"),
    (("block", "hold", "waiting"), "blocked"),
    (("cancel", "won't", "rejected", "duplicate"), "cancelled"),
    (("request", "intake", "triage"), "intake"),
]
JIRA_CATEGORY_DEFAULTS = {"new": "backlog", "indeterminate": "in_progress", "done": "done"}
# SPEC §4: the amount forms read strictly (`1200`, `1200.50`, `1,200.50`, `€1,200`); Decision: EUR by symbol or code.
AMOUNT_FORM = r"^\s*(?:(?:€|EUR)\s?)?(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s*(?:€|EUR)?\s*$"

MICROSECONDS_PER_DAY = 86_400 * 10**6
# intake.required names canonical fields (SPEC §4); the RawTask attribute holding each
FIELD_OF = {"owner": "owner", "due_date": "due", "campaign": "campaign", "estimate_hours": "estimate_h",
            "brief": "brief", "planned_cost": "planned", "gl_account": "gl_account", "activity": "activity",
            "category": "category"}
# SPEC §3: the spend controls, all on unless `intake.controls` lists fewer
SPEND_CONTROLS = ("po_over_planned", "invoice_over_po", "invoice_without_po", "po_before_approval")
ALL, TOTAL, UNCATEGORISED, UNALLOCATED = "All", "Total", "Uncategorised", "Unallocated"


# --------------------------------------------------------------------------------------------------------------------
# Exact numbers and how a written cell is compared with them
# --------------------------------------------------------------------------------------------------------------------

def days(a: datetime, b: datetime) -> Fraction:
    """b − a in days, exactly (SPEC §5: calendar time, decimal days)."""
    return Fraction((b - a) // timedelta(microseconds=1), MICROSECONDS_PER_DAY)


def to_cents(amount: Decimal | Fraction) -> int:
    """An amount rounded to the cent, halves away from zero (Decision: docs/metrics.md, 1.005 -> 1.01)."""
    if isinstance(amount, Fraction):
        amount = Decimal(amount.numerator) / Decimal(amount.denominator)
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def written_cents(cell: Any) -> int | None:
    """A written money cell in integer cents; it must hold whole cents."""
    if cell is None:
        return None
    exact = Decimal(repr(cell)) * 100
    assert exact == exact.to_integral_value(), f"{cell!r} is not a whole number of cents"
    return int(exact)


def is_rounding_of(cell: Any, exact: Fraction | int | None, places: int) -> bool:
    """The written cell is `exact` rounded to `places` decimals: at most that many decimals, and within half a unit of
    the last place (at an exact half, either neighbour is a correct rounding). None must be written as a blank."""
    if exact is None or cell is None:
        return cell is None and exact is None
    if isinstance(cell, bool) or round(cell, places) != cell:
        return False
    return abs(Fraction(Decimal(repr(cell))) - Fraction(exact)) <= Fraction(1, 2 * 10**places)


def ratio(a: Fraction | int, b: Fraction | int) -> Fraction | None:
    """a ÷ b; undefined (a blank cell, never 0) when b is 0 (docs/metrics.md)."""
    return Fraction(a) / Fraction(b) if b else None


def p85(xs: list[Fraction]) -> Fraction | None:
    """SPEC §7: `statistics.quantiles(x, n=100, method="inclusive")[84]`; with one value, that value."""
    if len(xs) < 2:
        return xs[0] if xs else None
    return statistics.quantiles(xs, n=100, method="inclusive")[84]


def median(xs: list[Fraction]) -> Fraction | None:
    """SPEC §7: p50 = `statistics.median`; empty -> blank."""
    return statistics.median(xs) if xs else None


# --------------------------------------------------------------------------------------------------------------------
# Calendar (SPEC §3: every date and period in `timezone`; docs/metrics.md "Dates and periods")
# --------------------------------------------------------------------------------------------------------------------

def iso_week(d: date) -> str:
    """ISO week label `2026-W07` (the ISO year)."""
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def month(d: date) -> str:
    """Month label `2026-02`."""
    return f"{d.year}-{d.month:02d}"


def week_end(label: str, tz: ZoneInfo) -> datetime:
    """Decision: a period ends at local midnight; this is the midnight after the week's Sunday."""
    year, week = label.split("-W")
    monday = date.fromisocalendar(int(year), int(week), 1)
    return local_midnight(monday + timedelta(days=7), tz)


def month_end(label: str, tz: ZoneInfo) -> datetime:
    """Decision: a period ends at local midnight; this is the midnight starting the next month."""
    y, m = map(int, label.split("-"))
    return local_midnight(date(y + m // 12, m % 12 + 1, 1), tz)


def local_midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz)


def parse_ts(value: Any) -> datetime:
    """An API timestamp: ISO with an offset (`+0200`, `Z`) or epoch milliseconds (Jira's bulk changelog)."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    return datetime.fromisoformat(value)


def timestamp_cell(when: datetime | None, tz: ZoneInfo) -> str | None:
    """SPEC §6: a timestamp is written ISO in `timezone` (to the second)."""
    return when.astimezone(tz).isoformat(timespec="seconds") if when else None


# --------------------------------------------------------------------------------------------------------------------
# The raw demo pages -> plain task records (SPEC §4), read with json only
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class RawTask:
    """One task as the contract describes it, built straight from the raw pages."""

    source: str
    key: str
    title: str
    created: datetime
    stage: str  # now
    status: str  # now
    timeline: list[tuple[datetime, str]]  # (since, stage): the creation stage first, then each change of stage
    owner: str | None = None
    campaign: str | None = None
    activity: str | None = None
    gl_account: str | None = None
    category: str | None = None
    due: date | None = None
    estimate_h: Fraction | None = None
    brief: str | None = None
    planned: Decimal | None = None
    committed: Decimal | None = None
    invoiced: Decimal | None = None
    po_date: date | None = None
    invoice_date: date | None = None
    first_seen: dict[str, datetime] = field(default_factory=dict)  # amount field -> when it first got a value
    worklogs: list[tuple[str, datetime, Fraction]] = field(default_factory=list)  # (author, started at, hours)
    # SPEC §4: spells of Jira's Flagged field set to Impediment, (from, to), `to` None while still flagged
    flagged: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    problems: set[tuple[str, str]] = field(default_factory=set)  # (rule, field) found while reading the fields


def load_pages(folder: Path) -> tuple[dict, list[tuple[str, Any]]]:
    """The manifest and its pages as (path, body), in the saved order."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    pages = [(p["endpoint"].split(" ", 1)[1], json.loads((folder / p["file"]).read_text(encoding="utf-8")))
             for p in manifest["pages"]]
    return manifest, pages


def stage_by_name(name: str, explicit: dict[str, str]) -> str | None:
    """SPEC §4: the config's map (Decision: names compared case-insensitively), then the name defaults."""
    for status, stage in explicit.items():
        if status.strip().lower() == name.strip().lower():
            return stage
    lowered = name.lower()
    return next((stage for needles, stage in NAME_DEFAULTS if any(n in lowered for n in needles)), None)


def collapse(created: datetime, states: Iterable[tuple[datetime, str]]) -> list[tuple[datetime, str]]:
    """(at, stage) states in time order -> a timeline holding only real stage changes."""
    timeline: list[tuple[datetime, str]] = []
    for at, stage in states:
        if not timeline or stage != timeline[-1][1]:
            timeline.append((at if timeline else created, stage))
    return timeline


def parse_amount(value: Any, field_name: str, problems: set) -> Decimal | None:
    """SPEC §4: numbers as they are; text parsed strictly; anything else is `amount_unparseable`, never zero."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int | float):
        return Decimal(repr(value))
    m = re.match(AMOUNT_FORM, value, re.ASCII)
    if not m:
        problems.add(("amount_unparseable", field_name))
        return None
    return Decimal(m.group(1).replace(",", ""))


def text(value: Any) -> str | None:
    """A text field: stripped, empty -> None; a whole-number float (a G/L code) without `.0`."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return (str(value).strip() or None) if value is not None else None


def adf_text(node: Any) -> str:
    """Plain text of Jira's rich-text description (SPEC §3: `brief: description`, its plain text counts)."""
    if isinstance(node, list):
        return "".join(adf_text(n) for n in node)
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return node.get("text", "")
    inner = adf_text(node.get("content", []))
    return inner + "\n" if node.get("type") in ("paragraph", "heading", "listItem") else inner


def iso_day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def typed(values: dict[str, Any], problems: set) -> dict[str, Any]:
    """A source's raw canonical values -> RawTask fields: text stripped, dates ISO, amounts read strictly."""
    return dict(
        campaign=text(values.get("campaign")), activity=text(values.get("activity")),
        gl_account=text(values.get("gl_account")), category=text(values.get("category")),
        planned=parse_amount(values.get("planned_cost"), "planned_cost", problems),
        committed=parse_amount(values.get("committed_amount"), "committed_amount", problems),
        invoiced=parse_amount(values.get("invoiced_amount"), "invoiced_amount", problems),
        po_date=iso_day(values.get("po_date")), invoice_date=iso_day(values.get("invoice_date")),
        problems=problems,
    )


def jira_option(value: Any) -> Any:
    """A select field's option -> its value; anything else as it is."""
    return value.get("value") if isinstance(value, dict) and "value" in value else value


def jira_first_value_at(histories: Iterable[dict], field_id: str) -> datetime | None:
    """SPEC §8 "when the amount first appeared": the first change that gave the field a value. None when the first
    change already had a `from` value (it had one at creation, so the creation date applies) or there is none."""
    edits = sorted((parse_ts(h["created"]), i) for h in histories for i in h["items"] if i["fieldId"] == field_id)
    if not edits or edits[0][1]["fromString"]:
        return None
    return next((at for at, i in edits if i["toString"]), None)


def jira_tasks(source: dict, tz: ZoneInfo) -> list[RawTask]:
    """Jira pages: fields, statuses, the issue search, the bulk changelog and the per-issue worklog pages."""
    _, pages = load_pages(ROOT / source["path"])
    field_by_name, category_of_status, issues, histories, full_worklogs = {}, {}, {}, defaultdict(dict), {}
    for path, body in pages:
        if path.endswith("/field"):
            field_by_name = {f["name"]: f["id"] for f in body}
        elif path.endswith("/status"):
            category_of_status = {s["id"]: s["statusCategory"]["key"] for s in body}
        elif path.endswith("/search/jql"):
            issues.update({i["id"]: i for i in body["issues"]})
        elif path.endswith("/changelog/bulkfetch"):
            for log in body["issueChangeLogs"]:
                histories[log["issueId"]].update({h["id"]: h for h in log["changeHistories"]})
        elif path.endswith("/worklog"):  # /rest/api/3/issue/{key}/worklog: the complete list for that issue
            full_worklogs.setdefault(path.split("/")[5], {}).update({w["id"]: w for w in body["worklogs"]})
    # the config names fields by name or by id (`brief: description` is an id)
    ids = {canonical: field_by_name.get(ref, ref) for canonical, ref in source["fields"].items()}
    stages = source.get("stages", {})

    def stage(name: str, status_id: str) -> str:
        # SPEC §4: the config's map, then by name, then by the status's category
        return stage_by_name(name, stages) or JIRA_CATEGORY_DEFAULTS[category_of_status[status_id]]

    out = []
    for issue in issues.values():
        f, key, history = issue["fields"], issue["key"], list(histories[issue["id"]].values())
        created = parse_ts(f["created"])
        changes = sorted(((parse_ts(h["created"]), i) for h in history for i in h["items"] if i["fieldId"] == "status"),
                         key=lambda c: c[0])
        now_stage = stage(f["status"]["name"], f["status"]["id"])
        # SPEC §4: the stage before the first change is the creation stage
        first = stage(changes[0][1]["fromString"], changes[0][1]["from"]) if changes else now_stage
        states = [(created, first)] + [(at, stage(i["toString"], i["to"])) for at, i in changes]
        values = {canonical: jira_option(f.get(fid)) for canonical, fid in ids.items()}
        assignee = f.get("assignee") or {}
        worklogs = (full_worklogs.get(key) or {}).values() or f["worklog"]["worklogs"]
        task = RawTask(
            source=source["name"], key=key, title=f["summary"], created=created, stage=now_stage,
            status=f["status"]["name"], timeline=collapse(created, states),
            # Decision (README): the owner is the assignee's email when Jira shows it, else the display name
            owner=assignee.get("emailAddress") or assignee.get("displayName"),
            due=iso_day(f.get("duedate")),
            # SPEC §3: the estimate defaults to Jira's Original estimate, seconds -> hours
            estimate_h=None if f.get("timeoriginalestimate") is None else Fraction(f["timeoriginalestimate"], 3600),
            # SPEC §3: Jira's description is rich text (ADF); its plain text is the brief
            brief=adf_text(f.get("description")).strip() or None,
            first_seen={c: at for c in ("committed_amount", "invoiced_amount")
                        if (at := jira_first_value_at(history, ids[c]))},
            worklogs=[(w["author"].get("emailAddress") or w["author"]["displayName"], parse_ts(w["started"]),
                       Fraction(w["timeSpentSeconds"], 3600)) for w in worklogs],
            flagged=jira_flags(history, field_by_name.get("Flagged"), f),
            **typed(values, set()),
        )
        # Decision (README): the category falls back to the issue type
        task.category = task.category or f["issuetype"]["name"]
        out.append(task)
    return out


def jira_flags(history: list[dict], fid: str | None, f: dict) -> list[tuple[datetime, datetime | None]]:
    """The spells the issue's Flagged field held Impediment, from its changelog; open while it still does."""
    if fid is None:
        return []
    events = sorted((parse_ts(h["created"]), "Impediment" in str(i.get("toString") or ""))
                    for h in history for i in h["items"] if i["fieldId"] == fid)
    spells, since = [], None
    for at, on in events:
        if on and since is None:
            since = at
        elif not on and since is not None:
            spells.append((since, at))
            since = None
    if any(o.get("value") == "Impediment" for o in f.get(fid) or []):
        spells.append((since, None))
    return spells


def asana_value(cf: dict) -> Any:
    """The value of one Asana custom field."""
    if cf["type"] == "enum":
        return (cf.get("enum_value") or {}).get("name")
    if cf["type"] == "date":
        return (cf.get("date_value") or {}).get("date")
    return cf.get("number_value") if cf["type"] == "number" else cf.get("text_value")


def asana_tasks(source: dict, tz: ZoneInfo) -> list[RawTask]:
    """Asana pages: the project's tasks, each task's stories and time-tracking entries."""
    manifest, pages = load_pages(ROOT / source["path"])
    project = manifest["projects"][0]
    tasks, stories, entries = {}, defaultdict(dict), defaultdict(dict)
    for path, body in pages:
        parts = path.strip("/").split("/")
        if parts[-1] == "tasks":
            tasks.update({t["gid"]: t for t in body["data"]})
        elif parts[-1] == "stories":
            stories[parts[1]].update({s["gid"]: s for s in body["data"]})
        elif parts[-1] == "time_tracking_entries":
            entries[parts[1]].update({e["gid"]: e for e in body["data"]})
    explicit = source.get("stages", {})

    def stage(section: str | None, completed: bool) -> str:
        # SPEC §4 (Asana): completed -> done; else the section (config map, then the name defaults); else backlog
        if completed:
            return "done"
        return (stage_by_name(section, explicit) if section else None) or "backlog"

    out = []
    for gid, t in tasks.items():
        created = parse_ts(t["created_at"])
        section = next(m["section"]["name"] for m in t["memberships"] if m["project"]["gid"] == project)
        events = sorted((parse_ts(s["created_at"]), s) for s in stories[gid].values()
                        if s["resource_subtype"] in ("section_changed", "marked_complete", "marked_incomplete"))
        # SPEC §4 (Asana history from stories): replay section moves and (in)completions from the creation state
        moves = [s for _, s in events if s["resource_subtype"] == "section_changed"]
        completions = [s["resource_subtype"] for _, s in events if s["resource_subtype"] != "section_changed"]
        at_section = moves[0]["old_section"]["name"] if moves else section
        at_completed = bool(completions) and completions[0] == "marked_incomplete"
        states = [(created, stage(at_section, at_completed))]
        for at, s in events:
            if s["resource_subtype"] == "section_changed":
                at_section = s["new_section"]["name"]
            else:
                at_completed = s["resource_subtype"] == "marked_complete"
            states.append((at, stage(at_section, at_completed)))
        by_name = {cf["name"]: cf for cf in t["custom_fields"]}
        values = {canonical: asana_value(by_name[name]) for canonical, name in source["fields"].items()
                  if name in by_name}
        minutes = values.pop("estimate_hours", None)  # an Asana duration field holds minutes
        assignee = t.get("assignee") or {}
        out.append(RawTask(
            source=source["name"], key=gid, title=t["name"], created=created,
            stage=stage(section, t["completed"]),
            # Decision (README): a completed task's status is `Completed`, otherwise its section
            status="Completed" if t["completed"] else section,
            timeline=collapse(created, states),
            owner=assignee.get("email") or assignee.get("name"),
            due=iso_day(t.get("due_on")),
            estimate_h=None if minutes is None else Fraction(Decimal(repr(minutes))) / 60,
            brief=text(t.get(source["fields"]["brief"])),  # `brief: notes`, a task attribute
            # Decision (README): a time entry is dated at local midnight of its `entered_on` day
            worklogs=[(e["created_by"].get("email") or e["created_by"]["name"],
                       local_midnight(date.fromisoformat(e["entered_on"]), tz), Fraction(e["duration_minutes"], 60))
                      for e in entries[gid].values()],
            **typed(values, set()),
        ))
    return out


# --------------------------------------------------------------------------------------------------------------------
# SPEC §5: per-task figures
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class Figures:
    started: datetime | None
    completed: datetime | None
    cycle: Fraction | None
    review: Fraction
    blocked: Fraction
    entered_review: bool
    reworked: bool
    late: bool
    logged_h: Fraction
    labour: Fraction


def figures(t: RawTask, now: datetime, tz: ZoneInfo, rate: Callable[[str], int]) -> Figures:
    # started_at: the first time the task entered in_progress, review, blocked or done (at creation if created so)
    started = next((at for at, s in t.timeline if s in STARTED), None)
    # completed_at: when the stage is done now, the time of the LAST entry into done
    completed = next(at for at, s in reversed(t.timeline) if s == "done") if t.stage == "done" else None
    # review_days, blocked_days: total time in that stage, up to the sync time ("now") while still in it
    spells = [(s, at, nxt) for (at, s), (nxt, _) in zip(t.timeline, t.timeline[1:] + [(now, None)], strict=True)]
    stages_in_order = [s for _, s in t.timeline]
    moves = list(zip(stages_in_order, stages_in_order[1:], strict=False))
    return Figures(
        started=started,
        completed=completed,
        # cycle_days = completed_at − (started_at or completed_at). (lead_days is on no tab, so not checked here.)
        cycle=days(started or completed, completed) if completed else None,
        review=sum((days(a, b) for s, a, b in spells if s == "review"), Fraction(0)),
        # SPEC §5: time flagged as an impediment while in progress or review counts as blocked too (never twice)
        blocked=sum((days(a, b) for s, a, b in spells if s == "blocked"), Fraction(0)) + sum(
            (days(max(a, fa), min(b, fb or now)) for s, a, b in spells if s in ("in_progress", "review")
             for fa, fb in t.flagged if min(b, fb or now) > max(a, fa)), Fraction(0)),
        entered_review="review" in stages_in_order,
        # reworked: any move from review or done back to intake, backlog or in_progress
        reworked=any(a in REWORK_FROM and b in REWORK_TO for a, b in moves),
        # late: completed and the local completion date is after the due date
        late=bool(completed and t.due and completed.astimezone(tz).date() > t.due),
        # logged_hours = Σ worklog hours; labour cost = Σ hours × rate (the person's, else the default)
        logged_h=sum((h for _, _, h in t.worklogs), Fraction(0)),
        labour=sum((h * rate(who) for who, _, h in t.worklogs), Fraction(0)),
    )


def stage_just_before(t: RawTask, instant: datetime) -> str | None:
    """The stage held up to `instant` (a change exactly at `instant` belongs to what comes after); None before
    the task existed."""
    held = [s for at, s in t.timeline if at < instant]
    return held[-1] if held else None


# --------------------------------------------------------------------------------------------------------------------
# The whole demo, recomputed
# --------------------------------------------------------------------------------------------------------------------

class Demo:
    """The demo's config, tasks and figures, and every tab recomputed from them."""

    def __init__(self) -> None:
        self.cfg = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
        self.tz = ZoneInfo(self.cfg["timezone"])
        kinds = {"jira": jira_tasks, "asana": asana_tasks}
        self.tasks: list[RawTask] = []
        stamps = []
        for src in self.cfg["sources"]:
            manifest, _ = load_pages(ROOT / src["path"])
            stamps.append(datetime.fromisoformat(manifest["fetched_at"]))
            self.tasks += kinds[manifest["api"]](src, self.tz)
        # Decision (README "A replay is a snapshot"): an all-replay config is computed at the newest `fetched_at`
        self.now = max(stamps)
        self.today = self.day(self.now)
        rates = {p.lower(): r for p, r in self.cfg["rates"]["people"].items()}
        # Decision (README): people in rates and capacity match whatever the case of the email
        self.rate = lambda who: rates.get(who.lower(), self.cfg["rates"]["default"])
        self.fig = {(t.source, t.key): figures(t, self.now, self.tz, self.rate) for t in self.tasks}
        with (ROOT / self.cfg["budget"]["file"]).open(encoding="utf-8", newline="") as fh:
            self.budget = list(csv.DictReader(fh))

    def day(self, when: datetime) -> date:
        return when.astimezone(self.tz).date()

    # ---- Intake (docs/metrics.md "Intake tab": the rules, their fields, the cancelled exemption) ----------------
    @cached_property
    def violations(self) -> set[tuple[str, str, str, str]]:
        required = self.cfg["intake"]["required"]
        min_chars = self.cfg["intake"]["brief_min_chars"]
        campaigns = {b["Campaign"].strip() for b in self.budget}
        accounts = {b["G/L account"].strip() for b in self.budget if b["G/L account"].strip()}
        found = set()
        for t in self.tasks:
            rules = set(t.problems)  # amount_unparseable (SPEC §4)
            # SPEC §3 intake.rules: every rule whose `when` matches adds its fields; the longest brief minimum wins
            extra = [r for r in self.cfg["intake"].get("rules", []) if self.rule_applies(r["when"], t)]
            names = set(required) | {name for r in extra for name in r.get("required", [])}
            least = max([min_chars] + [r["brief_min_chars"] for r in extra if "brief_min_chars" in r])
            field_rules = {("required", name) for name in names if getattr(t, FIELD_OF[name]) in (None, "")}
            if t.brief and len(t.brief) < least:
                field_rules.add(("brief_too_short", "brief"))
            if t.due and t.due < self.day(t.created):
                field_rules.add(("due_before_created", "due_date"))
            if t.estimate_h is not None and t.estimate_h <= 0:
                field_rules.add(("estimate_not_positive", "estimate_hours"))
            # Decision: a cancelled task is exempt from the field rules, not from the money rules
            if t.stage != "cancelled":
                rules |= field_rules
            if t.campaign and t.campaign not in campaigns:
                rules.add(("campaign_unknown", "campaign"))
            if t.gl_account and t.gl_account not in accounts:
                rules.add(("gl_account_unknown", "gl_account"))
            labour = self.fig[(t.source, t.key)].labour if self.cfg["labour_in_budget"] else 0
            if not t.campaign and any([t.planned, t.committed, t.invoiced, labour]):
                rules.add(("amount_without_campaign", "campaign"))
            rules |= self.spend_controls(t)
            found |= {(t.source, t.key, rule, fld) for rule, fld in rules}
        return found

    @staticmethod
    def rule_applies(when: dict, t: RawTask) -> bool:
        """Every key given matches, case and outer spaces aside (the demo's rules name no issue type)."""
        assert "type" not in when
        for key, wanted in when.items():
            values = [wanted] if isinstance(wanted, str) else wanted
            if (getattr(t, key) or "").strip().lower() not in {v.strip().lower() for v in values}:
                return False
        return True

    def spend_controls(self, t: RawTask) -> set[tuple[str, str]]:
        """SPEC §8 spend controls (Field = the amount's field); cancelled tasks too, since money was committed.
        Decision (docs/metrics.md): an amount that could not be read is judged by no control."""
        on = set(self.cfg["intake"].get("controls", SPEND_CONTROLS))
        unread = {fld for _, fld in t.problems}
        planned, po, invoiced = (None if name in unread else v for name, v in (
            ("planned_cost", t.planned), ("committed_amount", t.committed), ("invoiced_amount", t.invoiced)))
        out = set()
        if "po_over_planned" in on and po is not None and planned is not None and po > planned:
            out.add(("po_over_planned", "committed_amount"))
        if "invoice_over_po" in on and invoiced is not None and po is not None and invoiced > po:
            out.add(("invoice_over_po", "invoiced_amount"))
        if "invoice_without_po" in on and invoiced and po is None and "committed_amount" not in unread:
            out.add(("invoice_without_po", "invoiced_amount"))
        if "po_before_approval" in on and t.po_date and t.timeline[0][1] == "intake":
            # Decision: approval is the first entry into a stage other than intake or cancelled
            approved = next((self.day(at) for at, stage in t.timeline[1:] if stage not in ("intake", "cancelled")),
                            None)
            if approved is None or t.po_date < approved:
                out.add(("po_before_approval", "po_date"))
        return out

    @cached_property
    def intake_ok(self) -> dict[tuple[str, str], bool]:
        broken = {(s, k) for s, k, _, _ in self.violations}
        return {(t.source, t.key): (t.source, t.key) not in broken for t in self.tasks}

    # ---- Flow metrics (SPEC §7) ------------------------------------------------------------------------------
    def periods_until_today(self) -> list[tuple[str, datetime]]:
        """Every ISO week and month from the first task's creation to today, with its end instant.
        Decision: periods after "now" are not shown."""
        first = min(self.day(t.created) for t in self.tasks)
        labels = set()
        d = first
        while d <= self.today:
            labels |= {("week", iso_week(d)), ("month", month(d))}
            d += timedelta(days=1)
        return [(lab, week_end(lab, self.tz) if kind == "week" else month_end(lab, self.tz)) for kind, lab in labels]

    @cached_property
    def flow(self) -> dict[tuple[str, str, str], list]:
        now_week, now_month = iso_week(self.today), month(self.today)
        members: dict[tuple[str, str, str], dict[str, list[RawTask]]] = defaultdict(lambda: defaultdict(list))

        def add(kind: str, labels: Iterable[str], t: RawTask) -> None:
            for lab in labels:
                if lab <= (now_week if "W" in lab else now_month):  # Decision: periods after now are not shown
                    for group in ((lab, t.source, t.category or UNCATEGORISED), (lab, ALL, ALL)):
                        members[group][kind].append(t)

        for t in self.tasks:
            f = self.fig[(t.source, t.key)]
            both = lambda d: (iso_week(d), month(d))  # noqa: E731
            if f.completed:
                add("completed", both(self.day(f.completed)), t)
            add("created", both(self.day(t.created)), t)
            if t.due and t.stage != "cancelled":
                add("due", both(t.due), t)
        for label, end in self.periods_until_today():
            for t in self.tasks:
                # WIP: the stage at the end of the period (for the current period: now) is in_progress/review/blocked
                held = t.stage if end > self.now else stage_just_before(t, end)
                if held in WIP:
                    add("wip", [label], t)
        return {group: self.flow_row(m) for group, m in members.items()}

    def flow_row(self, m: dict[str, list[RawTask]]) -> list:
        done = [(t, self.fig[(t.source, t.key)]) for t in m["completed"]]
        cycles = [f.cycle for _, f in done]
        with_due = [(t, f) for t, f in done if t.due]
        estimated = [(t, f) for t, f in done if t.estimate_h and t.estimate_h > 0]
        due = m["due"]
        on_time = [t for t in due if (c := self.fig[(t.source, t.key)].completed) and self.day(c) <= t.due]
        created = m["created"]
        return [
            len(done),  # Throughput: tasks with completed_at in P
            len(m["wip"]),  # WIP: stage at the end of P in progress, review or blocked
            median(cycles), p85(cycles),  # Cycle p50 / p85 over cycle_days of tasks completed in P
            median([f.review for _, f in done if f.entered_review]),  # Review p50: completed in P that entered review
            ratio(sum(f.reworked for _, f in done), len(done)),  # Rework rate: reworked ÷ completed in P
            ratio(sum((f.blocked for _, f in done), Fraction(0)), sum(cycles, Fraction(0))),  # Σ blocked ÷ Σ cycle
            ratio(sum(f.late for _, f in with_due), len(with_due)),  # Late rate: late ÷ completed in P with a due date
            ratio(len(on_time), len(due)),  # Reliability: due in P, done on or before it ÷ due in P (not cancelled)
            # Estimate ratio: Σ logged ÷ Σ estimate over completed in P with an estimate > 0
            ratio(sum((f.logged_h for _, f in estimated), Fraction(0)), sum(t.estimate_h for t, _ in estimated)),
            # Intake complete: created in P that break no intake rule now ÷ created in P
            ratio(sum(self.intake_ok[(t.source, t.key)] for t in created), len(created)),
        ]

    # ---- Capacity (SPEC §7) -----------------------------------------------------------------------------------
    @cached_property
    def capacity(self) -> dict[tuple[str, str, str, str], list]:
        # Decision (docs/metrics.md): team = source; rows per (week, team, category) and (week, team, All); Person
        # is `All` because capacity.per_person is false in the demo.
        assert self.cfg["capacity"]["per_person"] is False
        logged: dict[tuple, Fraction] = defaultdict(Fraction)
        people: dict[tuple, set[str]] = defaultdict(set)
        for t in self.tasks:
            for who, started, hours in t.worklogs:
                week = iso_week(self.day(started))
                for cat in (t.category or UNCATEGORISED, ALL):
                    logged[(week, t.source, ALL, cat)] += hours  # Logged h: Σ hours with started_at in the week
                    people[(week, t.source, ALL, cat)].add(who.lower())
        caps = {p.lower(): h for p, h in self.cfg["capacity"]["people"].items()}
        out = {}
        for key, hours in logged.items():
            # Capacity h = the person's hours_per_week (else the default) × people who logged that week
            capacity = sum(caps.get(p, self.cfg["capacity"]["hours_per_week"]) for p in people[key])
            utilization = ratio(hours, capacity)  # Utilization = Logged ÷ Capacity
            out[key] = [hours, capacity, utilization, utilization > 1]  # Overloaded = Utilization > 1
        return out

    # ---- Weekly review (SPEC §10) -----------------------------------------------------------------------------
    @cached_property
    def weekly(self) -> dict[tuple[str, str], list]:
        """(week, team) -> [Completed .. Utilization]; team = source, plus `All`; weeks up to today's."""
        now_week = iso_week(self.today)
        seen: dict[tuple[str, str], dict[str, list[RawTask]]] = defaultdict(lambda: defaultdict(list))

        def add(kind: str, when: date, t: RawTask) -> None:
            if iso_week(when) <= now_week:
                for team in (t.source, ALL):
                    if t not in seen[(iso_week(when), team)][kind]:  # each task once per week
                        seen[(iso_week(when), team)][kind].append(t)

        weeks = sorted({iso_week(d) for d in (self.day(t.created) for t in self.tasks)} | {now_week})
        first = date.fromisocalendar(int(weeks[0][:4]), int(weeks[0][6:]), 1)
        mondays = [first + timedelta(days=7 * i) for i in range((self.today - first).days // 7 + 1)]
        for t in self.tasks:
            f = self.fig[(t.source, t.key)]
            for kind, when in (("completed", f.completed), ("started", f.started), ("created", t.created)):
                if when:
                    add(kind, self.day(when), t)
            for (_, before), (at, stage) in zip(t.timeline, t.timeline[1:], strict=False):
                if stage == "blocked":  # entered blocked (the timeline holds only real stage changes)
                    add("blocked", self.day(at), t)
                if before in REWORK_FROM and stage in REWORK_TO:  # a rework move (SPEC §5)
                    add("reworked", self.day(at), t)
            if t.timeline[0][1] == "blocked":
                add("blocked", self.day(t.created), t)
            for flagged_at, _ in t.flagged:  # SPEC §10: or flagged as an impediment in the week
                add("blocked", self.day(flagged_at), t)
            for monday in mondays:  # open at the week's end, due by its Sunday (Decision: current week so far)
                sunday, end = monday + timedelta(days=6), week_end(iso_week(monday), self.tz)
                held = t.stage if end > self.now else stage_just_before(t, end)
                due_by = sunday if end <= self.now else self.today - timedelta(days=1)
                if t.due and held not in (None, "done", "cancelled") and t.due <= due_by:
                    add("overdue", monday, t)
        return {key: self.weekly_row(key, m) for key, m in seen.items()}

    def weekly_row(self, key: tuple[str, str], m: dict[str, list[RawTask]]) -> list:
        done = [(t, self.fig[(t.source, t.key)]) for t in m["completed"]]
        rounds = [sum(s == "review" for _, s in t.timeline) for t, f in done if f.entered_review]
        # Over estimate: estimate > 0 and logged > review.over_estimate_ratio (SPEC default 1.25) × estimate
        over = [t for t, f in done if t.estimate_h and t.estimate_h > 0 and f.logged_h > Fraction(5, 4) * t.estimate_h]
        return [
            len(done), len(m["started"]), len(m["created"]), len(m["blocked"]), len(m["reworked"]),
            ratio(sum(rounds), len(rounds)),  # Review rounds: mean over completed that entered review
            ratio(sum(not f.reworked for _, f in done), len(done)),  # First-pass yield
            sum(f.late for _, f in done), len(m["overdue"]), len(over),
            sum(not self.intake_ok[(t.source, t.key)] for t in m["created"]),  # Intake gaps: break a rule now
            *self.week_hours(*key),
        ]

    def week_hours(self, week: str, team: str) -> list:
        """Logged h and Utilization: the Capacity `All` row of the team and week; for `All`, every team at once
        with each person counted once (Decision: docs/metrics.md)."""
        if team != ALL:
            got = self.capacity.get((week, team, ALL, ALL))
            return got[0:1] + got[2:3] if got else [None, None]
        logged, people = Fraction(0), set()
        for t in self.tasks:
            for who, started, hours in t.worklogs:
                if iso_week(self.day(started)) == week:
                    logged += hours
                    people.add(who.lower())
        caps = {p.lower(): h for p, h in self.cfg["capacity"]["people"].items()}
        capacity = sum(caps.get(p, self.cfg["capacity"]["hours_per_week"]) for p in people)
        return [logged, ratio(logged, capacity)] if people else [None, None]

    # ---- Budget rollup (SPEC §8) ------------------------------------------------------------------------------
    @cached_property
    def ledger(self) -> list[tuple[tuple, list[int]]]:
        """[(Campaign, Activity, G/L account, Period), [Budgeted, Planned, Committed, Invoiced, Labour, Open]] in
        cents, detail rows only, sorted as written."""
        assert self.cfg["budget_period"] == "month"
        fy_start = self.cfg["fiscal_year_start_month"]
        cells: dict[tuple, list[int]] = defaultdict(lambda: [0] * 6)
        budgeted, planned, committed, invoiced, labour, open_ = range(6)

        def book(t_key: tuple, d: date, col: int, cents: int) -> None:
            cells[(*t_key, month(d))][col] += cents

        for line in self.budget:
            months = budget_months(line["Period"], fy_start)
            # Budgeted: a quarter or year line spread evenly over its months. Decision (docs/metrics.md): cumulative
            # rounding, so the months add up to the line exactly (1,000.00 a quarter -> 333.33 / 333.34 / 333.33)
            total = to_cents(Decimal(line["Amount"]))
            cum = [to_cents(Fraction(total * i, len(months)) / 100) for i in range(len(months) + 1)]
            key = (line["Campaign"].strip(), line["Activity"].strip() or None, line["G/L account"].strip() or None)
            for d, lo, hi in zip(months, cum[:-1], cum[1:], strict=True):
                book(key, d, budgeted, hi - lo)
        labour_by_account_month: dict[tuple, Fraction] = defaultdict(Fraction)
        for t in self.tasks:
            f = self.fig[(t.source, t.key)]
            # Amounts on tasks with no campaign go to campaign `Unallocated`
            key = (t.campaign or UNALLOCATED, t.activity, t.gl_account)
            created = self.day(t.created)
            seen = {k: self.day(v) for k, v in t.first_seen.items()}
            # Decision (docs/metrics.md): every task amount is rounded to the cent once, where it enters the ledger
            if t.planned is not None:  # Planned: dated by due_date, else created_at
                book(key, t.due or created, planned, to_cents(t.planned))
            inv = to_cents(t.invoiced) if t.invoiced is not None else 0
            if t.invoiced is not None:  # Invoiced: invoice_date, else first appeared, else completed_at, else created
                when = (t.invoice_date or seen.get("invoiced_amount") or (f.completed and self.day(f.completed))
                        or created)
                book(key, when, invoiced, inv)
            if t.committed is not None:  # Committed: po_date, else first appeared, else created_at
                when = t.po_date or seen.get("committed_amount") or created
                book(key, when, committed, to_cents(t.committed))
                # Open commitments: per task max(committed − invoiced, 0), dated as Committed
                book(key, when, open_, max(to_cents(t.committed) - inv, 0))
            for who, started, hours in t.worklogs:  # Labour: Σ hours × rate, dated by the worklog (local day)
                labour_by_account_month[(key, month(self.day(started)))] += hours * self.rate(who)
        # Decision (README "Money"): labour is rounded to the cent once per account and month
        for (key, period), amount in labour_by_account_month.items():
            cells[(*key, period)][labour] += to_cents(amount)
        rows = [(k, v) for k, v in cells.items() if any(v)]  # one row per key and period that has any amount
        return sorted(rows, key=lambda r: tuple(x or "" for x in r[0]))

    def remaining(self, v: list[int]) -> int:
        """Remaining = Budgeted − Invoiced − Open commitments − (Labour if labour_in_budget)."""
        return v[0] - v[3] - v[5] - (v[4] if self.cfg["labour_in_budget"] else 0)

    def flag(self, v: list[int]) -> str:
        """`over` when Remaining < 0; else `at risk` when Planned > Budgeted; else `ok`."""
        return "over" if self.remaining(v) < 0 else "at risk" if v[1] > v[0] else "ok"


def budget_months(period: str, fy_start: int) -> list[date]:
    """SPEC §8: a budget Period is a month `2026-05`, a quarter `FY2027-Q1` or a fiscal year `FY2027` (SPEC §3:
    FY named by the calendar year it ends in); returned as the first day of each month it covers."""
    if not period.startswith("FY"):
        return [date.fromisoformat(period + "-01")]
    fy, _, quarter = period[2:].partition("-Q")
    first_year = int(fy) - (fy_start != 1)
    months = [date(first_year + (fy_start - 1 + i) // 12, (fy_start - 1 + i) % 12 + 1, 1) for i in range(12)]
    return months[3 * (int(quarter) - 1): 3 * int(quarter)] if quarter else months


# --------------------------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, list[dict]]:
    """`make demo` through the CLI into a temporary workbook (sink and state in tmp), read back tab by tab."""
    tmp = tmp_path_factory.mktemp("demo-recompute")
    cfg = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    cfg["sink"]["path"] = str(tmp / "demo.xlsx")
    cfg["state"]["path"] = str(tmp / "state.db")
    path = tmp / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)  # the config's paths are relative to the repository root
        result = CliRunner().invoke(main, ["run", "--config", str(path)])
    assert result.exit_code == 0, result.output
    out = {}
    for ws in load_workbook(tmp / "demo.xlsx").worksheets:
        if ws.title == "Dashboard":  # label/value pairs and the charts' small tables: checked in test_dashboard
            continue
        rows = list(ws.iter_rows(values_only=True))
        assert list(rows[0]) == HEADERS[ws.title], ws.title
        out[ws.title] = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    return out


@pytest.fixture(scope="module")
def demo() -> Demo:
    return Demo()


# --------------------------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------------------------

def test_all_seven_tabs_are_written(written):
    assert set(written) == set(HEADERS)
    assert all(written[tab] for tab in HEADERS), "every tab has rows"


def test_the_recomputation_reads_the_whole_demo(demo):
    # Guards the reader itself: both sources, every saved worklog page, and a demo that exercises the formulas.
    assert {t.source for t in demo.tasks} == {"web", "content"} and len(demo.tasks) == 240
    assert demo.now == datetime(2026, 11, 20, 8, tzinfo=UTC)
    stages = {t.stage for t in demo.tasks}
    assert stages == {"intake", "backlog", "in_progress", "review", "blocked", "done", "cancelled"}
    for t in demo.tasks:  # every history ends in the stage the task is in now
        assert t.timeline[-1][1] == t.stage, (t.source, t.key)
    figs = demo.fig.values()
    assert any(f.reworked for f in figs) and any(f.late for f in figs) and any(f.blocked for f in figs)
    assert any(t.first_seen for t in demo.tasks) and any(t.problems for t in demo.tasks)


def test_every_task_row(written, demo):
    rows = {(r["Source"], r["Key"]): r for r in written["Tasks"]}
    assert set(rows) == {(t.source, t.key) for t in demo.tasks}
    for t in demo.tasks:
        row, f, where = rows[(t.source, t.key)], demo.fig[(t.source, t.key)], (t.source, t.key)
        assert (row["Stage"], row["Status"]) == (t.stage, t.status), where
        assert (row["Owner"], row["Campaign"], row["Activity"], row["Category"], row["G/L account"]) == (
            t.owner, t.campaign, t.activity, t.category or None, t.gl_account), where
        assert row["Created"] == timestamp_cell(t.created, demo.tz), where
        assert row["Started"] == timestamp_cell(f.started, demo.tz), where
        assert row["Completed"] == timestamp_cell(f.completed, demo.tz), where
        assert row["Due"] == (t.due.isoformat() if t.due else None), where
        assert is_rounding_of(row["Estimate h"], t.estimate_h, 2), (where, row["Estimate h"], t.estimate_h)
        assert is_rounding_of(row["Logged h"], f.logged_h, 2), (where, row["Logged h"], f.logged_h)
        # Labour cost on the Tasks tab: the task's total rounded once (docs/metrics.md)
        assert written_cents(row["Labour cost"]) == to_cents(f.labour), where
        for col, amount in (("Planned", t.planned), ("Committed", t.committed), ("Invoiced", t.invoiced)):
            assert written_cents(row[col]) == (None if amount is None else to_cents(amount)), (where, col)
        for col, exact in (("Cycle days", f.cycle), ("Review days", f.review), ("Blocked days", f.blocked)):
            assert is_rounding_of(row[col], exact, 2), (where, col, row[col], float(exact or 0))
        assert (row["Reworked"], row["Late"]) == (f.reworked, f.late), where
        assert row["Intake OK"] is demo.intake_ok[where], where


def test_every_flow_metrics_row(written, demo):
    rows = {(r["Period"], r["Source"], r["Category"]): r for r in written["Flow metrics"]}
    expected = demo.flow
    assert set(rows) == set(expected), (set(rows) ^ set(expected))
    columns = HEADERS["Flow metrics"][3:]
    places = {"Cycle p50": 2, "Cycle p85": 2, "Review p50": 2, "Estimate ratio": 2}  # ratios otherwise: 4
    for key, values in expected.items():
        row = rows[key]
        assert (row["Throughput"], row["WIP"]) == tuple(values[:2]), key
        for col, exact in zip(columns[2:], values[2:], strict=True):
            assert is_rounding_of(row[col], exact, places.get(col, 4)), (key, col, row[col], exact)
    # both kinds of period, weekly and monthly, up to the snapshot's week and month and not beyond
    periods = {p for p, _, _ in rows}
    assert max(p for p in periods if "W" in p) == "2026-W47" and max(p for p in periods if "W" not in p) == "2026-11"


def test_every_capacity_row(written, demo):
    rows = {(r["Week"], r["Team"], r["Person"], r["Category"]): r for r in written["Capacity"]}
    expected = demo.capacity
    assert set(rows) == set(expected), (set(rows) ^ set(expected))
    for key, (logged, capacity, utilization, overloaded) in expected.items():
        row = rows[key]
        assert is_rounding_of(row["Logged h"], logged, 2), (key, row["Logged h"], logged)
        assert row["Capacity h"] == capacity, key
        assert is_rounding_of(row["Utilization"], utilization, 4), (key, row["Utilization"], utilization)
        assert row["Overloaded"] is overloaded, key


def test_every_weekly_review_row(written, demo):
    rows = {(r["Week"], r["Team"]): r for r in written["Weekly review"]}
    expected = {k: v for k, v in demo.weekly.items() if any(x for x in v[:11]) or v[11] is not None}
    assert set(rows) == set(expected), (set(rows) ^ set(expected))
    columns = HEADERS["Weekly review"][2:-1]
    places = {"Review rounds": 2, "First-pass yield": 4, "Logged h": 2, "Utilization": 4}
    for key, values in expected.items():
        row = rows[key]
        for col, exact in zip(columns, values, strict=True):
            if col in places:
                assert is_rounding_of(row[col], exact, places[col]), (key, col, row[col], exact)
            else:
                assert row[col] == exact, (key, col, row[col], exact)
    assert max(w for w, _ in rows) == "2026-W47" and any(r["Notes"] for r in rows.values())


MONEY = ["Budgeted", "Planned", "Committed", "Invoiced", "Labour", "Open commitments"]


def check_ledger_row(demo: Demo, row: dict, v: list[int]) -> None:
    where = (row["Campaign"], row["Activity"], row["G/L account"], row["Period"])
    assert [written_cents(row[c]) for c in MONEY] == v, where
    assert written_cents(row["Remaining"]) == demo.remaining(v), where
    # Used % = (Budgeted − Remaining) ÷ Budgeted, blank when Budgeted is 0
    assert is_rounding_of(row["Used %"], ratio(v[0] - demo.remaining(v), v[0]), 4), where
    assert row["Flag"] == demo.flag(v), where


def test_every_budget_rollup_row_and_total(written, demo):
    rows = written["Budget rollup"]
    details = [r for r in rows if TOTAL not in (r["Campaign"], r["Activity"])]
    expected = demo.ledger
    assert [(r["Campaign"], r["Activity"], r["G/L account"], r["Period"]) for r in details] == [k for k, _ in expected]
    for row, (_, v) in zip(details, expected, strict=True):
        check_ledger_row(demo, row, v)
    # each campaign's Total row follows its rows; the grand Total is last; totals are sums of the cents above
    by_campaign: dict[str, list[int]] = {}
    for (key, v) in expected:
        by_campaign[key[0]] = [a + b for a, b in zip(by_campaign.get(key[0], [0] * 6), v, strict=True)]
    totals = [r for r in rows if r["Activity"] == TOTAL]
    assert [r["Campaign"] for r in totals] == sorted(by_campaign)
    for row in totals:
        assert (row["G/L account"], row["Period"]) == (None, None)
        check_ledger_row(demo, row, by_campaign[row["Campaign"]])
    grand = rows[-1]
    assert (grand["Campaign"], grand["Activity"]) == (TOTAL, None) and sum(r["Campaign"] == TOTAL for r in rows) == 1
    check_ledger_row(demo, grand, [sum(col) for col in zip(*by_campaign.values(), strict=True)])
    order = [r["Campaign"] for r in rows[:-1]]
    for campaign in by_campaign:  # a campaign's rows are contiguous and its Total closes them
        last = max(i for i, c in enumerate(order) if c == campaign)
        assert rows[last]["Activity"] == TOTAL and order.count(campaign) == last - order.index(campaign) + 1
    assert {r["Flag"] for r in rows} >= {"ok", "over"}


def test_budgeted_spreads_quarter_and_year_lines_to_the_cent(written, demo):
    # Decision (docs/metrics.md): cumulative rounding. Spring Launch's FY2027 Paid social line, 104,000.00 over
    # twelve months, gives 8,666.67 / 8,666.66 / 8,666.67 ... and the twelve months add up to the line exactly.
    rows = [r for r in written["Budget rollup"]
            if (r["Campaign"], r["Activity"], r["G/L account"]) == ("Spring Launch", "Paid social", "6100 Advertising")]
    budgeted = {r["Period"]: written_cents(r["Budgeted"]) for r in rows}
    assert [budgeted[f"2026-{m:02d}"] for m in (4, 5, 6)] == [866667, 866666, 866667]
    assert sum(budgeted.values()) == 104_000_00


def test_intake_findings(written, demo):
    got = {(r["Source"], r["Key"], r["Rule"], r["Field"]) for r in written["Intake"]}
    assert got == demo.violations, (got ^ demo.violations)
    # the demo exercises the required, brief and amount rules the issue names
    assert {rule for _, _, rule, _ in got} >= {"required", "brief_too_short", "amount_unparseable"}
