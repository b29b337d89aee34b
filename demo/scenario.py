"""Source-neutral demo scenario: people, campaigns, task plans and timestamp helpers for the generator."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from random import Random
from typing import TypeVar

T = TypeVar("T")

DAY = 86400
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # 09:00 in Berlin: the demo's "now"
NOW_TS = int(NOW.timestamp())
START_TS = int(datetime(2026, 4, 30, 22, 0, tzinfo=UTC).timestamp())  # 2026-05-01 00:00 Berlin
LAST_CREATED_TS = int(datetime(2026, 11, 18, 16, 0, tzinfo=UTC).timestamp())
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _last_sunday(year: int, month: int) -> date:
    d = date(year, month + 1, 1) - timedelta(days=1)
    return d - timedelta(days=(d.weekday() + 1) % 7)


def _eu_dst(year: int) -> tuple[int, int]:
    """EU summer time: last Sunday of March 01:00 UTC .. last Sunday of October 01:00 UTC."""
    a, b = _last_sunday(year, 3), _last_sunday(year, 10)
    return ((a.toordinal() - _EPOCH_ORDINAL) * DAY + 3600, (b.toordinal() - _EPOCH_ORDINAL) * DAY + 3600)


_DST = {y: _eu_dst(y) for y in range(2020, 2041)}
_DAYS: dict[int, str] = {}


def berlin_offset(ts: int) -> int:
    """UTC offset of Europe/Berlin (seconds) at epoch second `ts`."""
    start, end = _DST[1970 + ts // (365 * DAY + 21600)]  # year by mean length; exact away from 1 Jan
    return 7200 if start <= ts < end else 3600


def iso_day(days: int) -> str:
    """`YYYY-MM-DD` for a day count since 1970-01-01 (cached: the generator formats millions of these)."""
    s = _DAYS.get(days)
    if s is None:
        s = _DAYS[days] = date.fromordinal(_EPOCH_ORDINAL + days).isoformat()
    return s


LOCAL_DATES: dict[int, str] = {}


def local_date(ts: int) -> str:
    """Berlin calendar date of `ts` as `YYYY-MM-DD`."""
    s = LOCAL_DATES.get(ts)
    if s is None:
        s = LOCAL_DATES[ts] = iso_day((ts + berlin_offset(ts)) // DAY)
    return s


def _clock(t: int) -> str:
    s = t % DAY
    return f"{iso_day(t // DAY)}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000"


# Almost every demo time falls on a quarter hour, so memoising the formatted strings pays off at scale.
JIRA_TIMES: dict[int, str] = {}
JIRA_UTC_TIMES: dict[int, str] = {}
ASANA_TIMES: dict[int, str] = {}


def jira_time(ts: int) -> str:
    """Jira's timestamp format in Berlin time: `2026-05-03T10:15:00.000+0200`."""
    s = JIRA_TIMES.get(ts)
    if s is None:
        off = berlin_offset(ts)
        s = JIRA_TIMES[ts] = _clock(ts + off) + ("+0200" if off == 7200 else "+0100")
    return s


def jira_utc(ts: int) -> str:
    """Jira's timestamp format in UTC: `2026-05-03T08:15:00.000+0000`."""
    s = JIRA_UTC_TIMES.get(ts)
    if s is None:
        s = JIRA_UTC_TIMES[ts] = _clock(ts) + "+0000"
    return s


def asana_time(ts: int) -> str:
    """Asana's timestamp format (UTC, milliseconds, `Z`)."""
    s = ASANA_TIMES.get(ts)
    if s is None:
        s = ASANA_TIMES[ts] = _clock(ts) + "Z"
    return s


_MIDNIGHTS: dict[int, int] = {}


def midnight(day: int) -> int:
    """Epoch second of 00:00 Berlin on local day number `day` (EU switches happen at 01:00 UTC, after it)."""
    m = _MIDNIGHTS.get(day)
    if m is None:
        m = _MIDNIGHTS[day] = day * DAY - berlin_offset(day * DAY - 7200)
    return m


def pick(rng: Random, seq: Sequence[T]) -> T:
    """`rng.choice` without its slow rejection sampling (the generator calls this millions of times)."""
    return seq[int(rng.random() * len(seq))]


def roll(rng: Random, lo: int, hi: int) -> int:
    """A uniform integer in lo..hi inclusive (a fast `rng.randint`)."""
    return lo + int(rng.random() * (hi - lo + 1))


@dataclass(frozen=True, slots=True)
class Person:
    """A demo user, with stable Jira account id and Asana gid derived from the email."""

    name: str
    email: str
    account_id: str
    gid: str


def _person(name: str, email: str) -> Person:
    h = hashlib.sha1(email.encode()).hexdigest()
    account = f"712020:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
    return Person(name, email, account, str(1200000000000000 + int(h[:12], 16) % 10**14))


TEAM = (
    _person("Zoë Müller", "zoe.mueller@acme.com"),
    _person("José Núñez", "jose.nunez@acme.com"),
    _person("Łukasz Wójcik", "lukasz.wojcik@acme.com"),
    _person("Ana Silva", "ana@acme.com"),
    _person("Priya Raman", "priya.raman@acme.com"),
    _person("Tom Becker", "tom.becker@acme.com"),
    _person("Chloé Dubois", "chloe.dubois@acme.com"),
    _person("Mei Tanaka", "mei.tanaka@acme.com"),
)
REQUESTERS = (
    _person("Greta Lindqvist", "greta.lindqvist@acme.com"),
    _person("Sam O'Brien", "sam.obrien@acme.com"),
)

CAMPAIGNS = {
    "Spring Launch": ("Paid social", "Search ads", "Content", "Agency"),
    "Brand Refresh": ("Design", "Content", "Agency"),
    "Q4 Webinars": ("Events", "Paid social", "Content"),
    "Partner Summit": ("Events", "Design", "Agency"),
}
GL_ACCOUNTS = {
    "Paid social": "6100 Advertising", "Search ads": "6100 Advertising", "Events": "6200 Events",
    "Content": "6300 Content production", "Design": "6300 Content production", "Agency": "6400 Agency fees",
}
CATEGORIES = {
    "Paid social": "Paid media", "Search ads": "Paid media", "Events": "Events", "Content": "Content",
    "Design": "Design", "Agency": "Ops",
}
WORK = {
    "Paid social": ("Set up LinkedIn ads", "Create Meta carousel", "Boost partner post", "A/B test ad copy"),
    "Search ads": ("Build Google Ads campaign", "Refresh keyword list", "Write search ad headlines"),
    "Events": ("Book venue", "Order booth materials", "Coordinate speaker travel", "Run webinar rehearsal"),
    "Content": ("Write blog post", "Draft newsletter", "Produce case study", "Translate landing page (DE)"),
    "Design": ("Design key visual", "Create social templates", "Update brand guidelines", "Design one-pager"),
    "Agency": ("Brief agency", "Review agency proposal", "Agency retainer: monthly report"),
}
GOALS = ("grow qualified pipeline", "raise brand awareness in DACH", "fill the webinar seats",
         "support partner co-selling", "refresh our visual identity", "reduce cost per lead")
AUDIENCES = ("marketing leads at mid-size SaaS companies", "existing customers (admins)", "channel partners",
             "event attendees from last year", "German-speaking prospects")
SHORT_BRIEFS = ("TBD", "see Slack thread", "Banner pls, same as last time", "as discussed")
LABELS = ("paid", "organic", "urgent", "partner", "de", "en", "evergreen")

# Status walk: status -> ((next status, weight), ...); "" means "stays". Dwell ranges are in days.
FLOW: dict[str, tuple[tuple[str, int], ...]] = {
    "Request": (("To Do", 72), ("In Progress", 12), ("Cancelled", 5), ("Done", 2), ("", 2)),
    "To Do": (("In Progress", 80), ("In Review", 5), ("Done", 4), ("Cancelled", 3), ("", 5)),
    "In Progress": (("In Review", 62), ("Blocked", 10), ("Ready for QA", 6), ("Done", 10), ("Cancelled", 1)),
    "Ready for QA": (("In Review", 1),),
    "In Review": (("Done", 58), ("In Progress", 22), ("Waiting for approval", 15), ("Blocked", 3)),
    "Waiting for approval": (("Done", 80), ("In Progress", 20)),
    "Blocked": (("In Progress", 92), ("Cancelled", 8)),
    "Done": (("In Progress", 5), ("", 95)),
    "Cancelled": (),
}
DWELL = {"Request": (0.5, 6), "To Do": (1, 25), "In Progress": (2, 14), "Ready for QA": (0.5, 3),
         "In Review": (0.5, 6), "Waiting for approval": (1, 7), "Blocked": (2, 10), "Done": (2, 15)}
JIRA_STATUSES = frozenset(FLOW)
ASANA_STATUSES = frozenset({"Request", "To Do", "In Progress", "In Review", "Blocked", "Done"})
STARTED = frozenset({"In Progress", "Ready for QA", "In Review", "Waiting for approval", "Blocked", "Done"})


@dataclass(slots=True)
class Plan:
    """One demo task before it is rendered into a source's JSON; times are epoch seconds (UTC)."""

    n: int
    title: str
    kind: str
    owner: Person | None
    reporter: Person
    created: int
    path: list[tuple[int, str]]  # (when, status); the first entry is the creation status
    campaign: str | None = None
    activity: str | None = None
    gl: str | None = None
    category: str | None = None
    due: str | None = None
    estimate_h: float | None = None
    brief: str | None = None
    labels: list[str] = field(default_factory=list)
    parent: int | None = None  # index into the same plan list
    planned: float | None = None
    po_value: float | None = None
    po_text: str | None = None  # how a text field shows the PO amount
    po_date: str | None = None
    po_at: int | None = None  # when the PO amount was set
    po_first: tuple[int, str] | None = None  # an earlier PO amount that was later corrected
    invoiced: float | None = None
    invoice_date: str | None = None
    invoice_at: int | None = None
    invoice_first: tuple[int, float] | None = None  # an earlier invoice amount that was later corrected
    worklogs: list[tuple[Person, int, int]] = field(default_factory=list)  # (who, started, seconds)
    blocked_by: list[int] = field(default_factory=list)  # indexes into the same plan list (Jira links, Asana deps)
    flags: list[tuple[int, int | None]] = field(default_factory=list)  # Jira's Flagged impediment: (on, off or None)

    @property
    def status(self) -> str:
        """The status now."""
        return self.path[-1][1]

    def last_event(self) -> int:
        """The time of the latest change of any kind (the `updated` / `modified_at` stamp)."""
        last = max(self.path[-1][0], self.po_at or 0, self.invoice_at or 0,
                   *(max(on, off or 0) for on, off in self.flags))
        if self.worklogs:
            last = max(last, min(max([s + d for _, s, d in self.worklogs]), NOW_TS))
        return last


def work_time(day_ts: int, rng: Random) -> int:
    """A time during office hours (08:00-18:00 Berlin, on the quarter hour) on the Berlin day of `day_ts`."""
    return midnight((day_ts + berlin_offset(day_ts)) // DAY) + (32 + int(rng.random() * 40)) * 900


_OPTIONS: dict[tuple[str, frozenset[str]], tuple[list[str], list[float]]] = {}


def _options(status: str, allowed: frozenset[str]) -> tuple[list[str], list[float]]:
    key = (status, allowed)
    if key not in _OPTIONS:
        opts = [(s, w) for s, w in FLOW[status] if s == "" or s in allowed]
        total = sum(w for _, w in opts)
        cumulative, acc = [], 0
        for _, w in opts:
            acc += w
            cumulative.append(acc / total)
        _OPTIONS[key] = ([s for s, _ in opts], cumulative)
    return _OPTIONS[key]


def walk(created: int, start: str, rng: Random, allowed: frozenset[str]) -> list[tuple[int, str]]:
    """A random but plausible status history from `start`, stopping at a terminal status or at NOW."""
    path, status, t = [(created, start)], start, created
    for _ in range(14):
        names, cumulative = _OPTIONS.get((status, allowed)) or _options(status, allowed)
        if not names:
            break
        t = later(t, rng.uniform(*DWELL[status]), rng)
        if t >= NOW_TS - 600:
            break
        r = rng.random()
        for name, c in zip(names, cumulative, strict=True):
            if r < c:
                status = name
                break
        else:
            status = names[-1]
        if not status:
            break
        path.append((t, status))
    return path


def later(t: int, days: float, rng: Random) -> int:
    """About `days` after `t`, during office hours, and always after `t`."""
    nxt = work_time(t + int(days * DAY), rng)
    return nxt if nxt > t else t + (1 + int(rng.random() * 8)) * 900


def scripted(created: int, steps: tuple[tuple[str, float], ...], rng: Random) -> list[tuple[int, str]]:
    """A fixed history: (status, days spent in it before the next step), cut off at NOW."""
    path, t = [], created
    for status, days in steps:
        if path and t >= NOW_TS - 600:
            break
        path.append((t, status))
        t = later(t, days, rng)
    return path


def format_amount(value: float, rng: Random) -> str:
    """One of the strictly parseable ways people type an amount into a text field."""
    whole = value == int(value)
    forms = [f"{value:.2f}", f"{value:,.2f}", f"€{value:,.2f}"]
    if whole:
        forms += [f"{value:.0f}", f"€{value:,.0f}"]
    return pick(rng, forms)


def brief_text(rng: Random, title: str, campaign: str | None) -> str:
    """A realistic multi-line brief; lines starting with `- ` are bullet points."""
    lines = [f"Goal: {pick(rng, GOALS)}. Audience: {pick(rng, AUDIENCES)}."]
    if rng.random() < 0.5:
        lines.append(f"Deliverables:\n- {title}\n- final files in the shared drive")
    if campaign:
        lines.append(f"Part of {campaign}; keep the campaign tone of voice.")
    return "\n".join(lines)


def worklogs_for(p: Plan, rng: Random, count: int) -> list[tuple[Person, int, int]]:
    """`count` worklogs spread over the time the task was being worked on."""
    started = next((t for t, s in p.path if s in STARTED), None)
    if started is None or count <= 0:
        return []
    end = next((t for t, s in reversed(p.path) if s == "Done"), None) if p.status == "Done" else NOW_TS
    end = min(end or NOW_TS, NOW_TS - 6 * 3600)
    first = (started + berlin_offset(started)) // DAY
    days = max((end + berlin_offset(end)) // DAY - first + 1, 1)
    # The hot loop of large benchmark runs: three draws per worklog, local lookups only.
    rnd, owner, cap, out, mids, team = rng.random, p.owner, NOW_TS - 6 * 3600, [], _MIDNIGHTS, TEAM
    for _ in range(count):
        r = rnd()
        u = (r - 0.75) * 4 if owner else r  # the owner logs three times in four, else anyone in the team
        who = owner if owner and r < 0.75 else team[int(u * len(team))]
        slot = int(rnd() * days * 40)  # a quarter hour between 08:00 and 18:00 on one of the days
        day = first + slot // 40
        when = (mids.get(day) or midnight(day)) + (32 + slot % 40) * 900
        out.append((who, min(max(when, started), cap), _SPELLS[int(rnd() * len(_SPELLS))]))
    out.sort(key=itemgetter(1))
    return out


_SPELLS = (1800, 3600, 3600, 5400, 7200, 10800, 14400)  # seconds per worklog
