"""Render demo task plans as Asana API response bodies (project tasks, stories, time tracking entries)."""

from __future__ import annotations

from random import Random
from typing import Any

from demo.scenario import (
    ASANA_TIMES,
    LOCAL_DATES,
    NOW_TS,
    REQUESTERS,
    TEAM,
    Person,
    Plan,
    asana_time,
    local_date,
)
from syncer.sources import Page

BASE_URL = "https://app.asana.com/api/1.0"
PROJECT_GID = "1201234567890123"
PROJECT_NAME = "Content Calendar"
PAGE_SIZE = 100  # stories and time tracking entries per request (Asana's maximum)
TASK_PAGE_SIZE = 50  # tasks per request: small enough that the demo's task list has two pages
TASK_FIELDS = (
    "name,resource_subtype,assignee.name,assignee.email,created_by.name,created_by.email,created_at,completed,"
    "completed_at,due_on,due_at,notes,tags.name,parent.name,permalink_url,modified_at,dependencies,"
    "memberships.project.name,"
    "memberships.section.name,custom_fields.name,custom_fields.resource_subtype,custom_fields.type,"
    "custom_fields.number_value,custom_fields.text_value,custom_fields.enum_value.name,custom_fields.date_value,"
    "custom_fields.display_value,custom_fields.format,custom_fields.precision,custom_fields.currency_code"
)
STORY_FIELDS = ("created_at,created_by.name,resource_subtype,text,type,old_section.name,new_section.name,"
                "project.name")
ENTRY_FIELDS = "duration_minutes,entered_on,created_by.name,created_by.email,created_at"
SECTIONS = {"Requests": "1201234567890201", "Backlog": "1201234567890202", "Doing": "1201234567890203",
            "Legal review": "1201234567890204", "On hold": "1201234567890205", "Done": "1201234567890206"}
SECTION_OF = {"Request": "Requests", "To Do": "Backlog", "In Progress": "Doing", "Ready for QA": "Doing",
              "In Review": "Legal review", "Waiting for approval": "Legal review", "Blocked": "On hold",
              "Done": "Done", "Cancelled": "Done"}
# (gid, name, subtype, format)
CUSTOM_FIELDS = (
    ("1201234567000101", "Campaign", "enum", None),
    ("1201234567000102", "Activity", "enum", None),
    ("1201234567000103", "G/L account", "text", None),
    ("1201234567000104", "Work category", "enum", None),
    ("1201234567000105", "Planned cost", "number", "currency"),
    ("1201234567000106", "PO amount", "number", "currency"),
    ("1201234567000107", "PO date", "date", None),
    ("1201234567000108", "Invoice amount", "number", "currency"),
    ("1201234567000109", "Invoice date", "date", None),
    ("1201234567000110", "Estimated time", "number", "duration"),
)
COMMENTS = ("Looks good to me 👍", "Can we get this before the newsletter goes out?",
            "Legal asked for a disclaimer.", "Moved the deadline, see thread.", "Agency sent v2.",
            "Bitte auch auf Deutsch.")
_VALUE_KEY = {"enum": "enum_value", "text": "text_value", "date": "date_value", "number": "number_value"}


def _empty_field(gid: str, name: str, sub: str, fmt: str | None) -> dict[str, Any]:
    """A task's custom field entry with no value set (Asana still lists it)."""
    cf: dict[str, Any] = {"gid": gid, "name": name, "resource_type": "custom_field", "resource_subtype": sub,
                          "type": sub, "enabled": True, _VALUE_KEY[sub]: None}
    if sub == "number":
        cf.update(precision=0 if fmt == "duration" else 2, format=fmt)
        if fmt == "currency":
            cf["currency_code"] = "EUR"
    cf["display_value"] = None
    return cf


_EMPTY_FIELDS = tuple(_empty_field(*f) for f in CUSTOM_FIELDS)
_COLOURS = ("light-blue", "light-green", "light-orange", "light-purple", "light-red", "light-teal")


def _token(rng: Random) -> str:
    tail = "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", k=43))
    return "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9." + tail


def _ref(gid: str, name: str, kind: str) -> dict[str, str]:
    return {"gid": gid, "name": name, "resource_type": kind}


class _Renderer:
    def __init__(self, plans: list[Plan], rng: Random):
        self.plans, self.rng = plans, rng
        self.users = {p.email: {"gid": p.gid, "name": p.name, "email": p.email, "resource_type": "user"}
                      for p in TEAM + REQUESTERS}
        self.options: dict[tuple[str, str], dict[str, Any]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.story_gid = 1208500000000000
        self.entry_gid = 1208900000000000
        self.project = _ref(PROJECT_GID, PROJECT_NAME, "project")
        # Identical sub-objects are shared between pages: the JSON is the same and large runs stay fast.
        self.sections = {name: _ref(gid, name, "section") for name, gid in SECTIONS.items()}

    def user(self, p: Person | None) -> dict[str, Any] | None:
        return None if p is None else self.users[p.email]

    def section(self, name: str) -> dict[str, str]:
        return self.sections[name]

    def option(self, gid: str, value: str) -> dict[str, Any]:
        if (gid, value) not in self.options:
            n = len(self.options)
            self.options[gid, value] = {"gid": str(1201234567100000 + n), "name": value,
                                        "color": _COLOURS[n % len(_COLOURS)], "enabled": True,
                                        "resource_type": "enum_option"}
        return self.options[gid, value]

    def custom_fields(self, p: Plan) -> list[dict[str, Any]]:
        minutes = None if p.estimate_h is None else p.estimate_h * 60
        values = (p.campaign, p.activity, p.gl, p.category, p.planned, p.po_value, p.po_date, p.invoiced,
                  p.invoice_date, minutes)
        out = []
        for (gid, _, sub, fmt), empty, v in zip(CUSTOM_FIELDS, _EMPTY_FIELDS, values, strict=True):
            if v is None:
                out.append(empty)  # shared: an unset field looks the same on every task
                continue
            cf = dict(empty)
            if sub == "enum":
                cf["enum_value"], cf["display_value"] = self.option(gid, v), v
            elif sub == "text":
                cf["text_value"] = cf["display_value"] = v
            elif sub == "date":
                cf["date_value"], cf["display_value"] = {"date": v, "date_time": None}, v
            else:
                cf["number_value"] = v
                cf["display_value"] = f"{v:.0f}" if fmt == "duration" else f"{v:.2f}"
            out.append(cf)
        return out

    def story(self, at: int, who: Person, subtype: str, text: str, **extra: Any) -> dict[str, Any]:
        self.story_gid += 1
        return {"gid": str(self.story_gid), "resource_type": "story", "created_at": asana_time(at),
                "created_by": self.user(who), "resource_subtype": subtype, "text": text,
                "type": "comment" if subtype == "comment_added" else "system", **extra}

    def stories(self, p: Plan) -> tuple[list[dict[str, Any]], str, bool]:
        """The task's stories, its section now and whether it is completed."""
        who = p.owner or p.reporter
        out = [self.story(p.created, p.reporter, "added_to_project", f"added to {PROJECT_NAME}",
                          project=self.project)]
        section, completed = SECTION_OF[p.path[0][1]], False

        def move(at: int, to: str) -> None:
            nonlocal section
            out.append(self.story(at, who, "section_changed",
                                  f'moved this Task from "{section}" to "{to}" in {PROJECT_NAME}',
                                  old_section=self.section(section), new_section=self.section(to)))
            section = to

        for at, status in p.path[1:]:
            if status == "Done":
                if section != "Done" and self.rng.random() < 0.7:
                    move(at, "Done")
                    at += 20
                out.append(self.story(at, who, "marked_complete", "marked this task complete"))
                completed = True
                continue
            if completed:
                out.append(self.story(at, who, "marked_incomplete", "marked incomplete"))
                completed, at = False, at + 20
            if SECTION_OF[status] != section:
                move(at, SECTION_OF[status])
        if self.rng.random() < 0.3:
            last = max(p.last_event(), p.created + 3600)
            for _ in range(self.rng.randint(1, 2)):
                at = min(self.rng.randrange(p.created, last), NOW_TS - 60)
                out.append(self.story(at, self.rng.choice(TEAM), "comment_added", self.rng.choice(COMMENTS)))
            out.sort(key=lambda s: s["created_at"])
        return out, section, completed

    def task(self, p: Plan, section: str, completed: bool, stories: list[dict[str, Any]]) -> dict[str, Any]:
        gid = task_gid(p)
        tags = []
        for label in p.labels:
            if label not in self.tags:
                self.tags[label] = _ref(str(1201234567200000 + len(self.tags)), label, "tag")
            tags.append(self.tags[label])
        parent = None if p.parent is None else _ref(task_gid(self.plans[p.parent]),
                                                    self.plans[p.parent].title, "task")
        return {
            "gid": gid, "resource_type": "task", "name": p.title, "resource_subtype": "default_task",
            "assignee": self.user(p.owner), "created_by": self.user(p.reporter),
            "created_at": asana_time(p.created), "completed": completed,
            "completed_at": asana_time(p.path[-1][0]) if completed else None,
            "due_on": p.due, "due_at": None, "notes": p.brief or "", "tags": tags, "parent": parent,
            "dependencies": [{"gid": task_gid(self.plans[j]), "resource_type": "task"} for j in p.blocked_by],
            "permalink_url": f"https://app.asana.com/0/{PROJECT_GID}/{gid}",
            "modified_at": max(asana_time(p.last_event()), stories[-1]["created_at"]),
            "memberships": [{"project": self.project, "section": self.section(section)}],
            "custom_fields": self.custom_fields(p),
        }

    def entries(self, p: Plan) -> list[dict[str, Any]]:
        out, users, gid = [], self.users, self.entry_gid
        day, stamp = LOCAL_DATES.get, ASANA_TIMES.get  # memo lookups, inlined
        for who, started, seconds in p.worklogs:
            gid += 1
            ended = min(started + seconds, NOW_TS)
            out.append({"gid": str(gid), "resource_type": "time_tracking_entry",
                        "duration_minutes": seconds // 60, "entered_on": day(started) or local_date(started),
                        "created_by": users[who.email], "created_at": stamp(ended) or asana_time(ended)})
        self.entry_gid = gid
        return out


def task_gid(p: Plan) -> str:
    """The Asana gid of a plan (stable: derived from its number)."""
    return str(1208100000000000 + p.n * 13)


def _paged(endpoint: str, params: dict[str, Any], items: list[Any], rng: Random) -> list[Page]:
    """Asana offset pagination: `next_page` carries the opaque offset of the following request."""
    size = params["limit"]
    if len(items) <= size:  # the common case: one page, no offset
        return [Page(endpoint, dict(params), {"data": items, "next_page": None})]
    pages, offset = [], None
    path = endpoint.split(" ", 1)[1]
    for start in range(0, len(items), size):
        sent = dict(params, offset=offset) if offset else dict(params)
        offset = _token(rng) if start + size < len(items) else None
        nxt = None
        if offset:
            rel = f"{path}?limit={size}&offset={offset}"
            nxt = {"offset": offset, "path": rel, "uri": BASE_URL + rel}
        pages.append(Page(endpoint, sent, {"data": items[start:start + size], "next_page": nxt}))
    return pages


def render_asana(plans: list[Plan], rng: Random) -> list[Page]:
    """All raw pages a full Asana fetch of these plans would save, in fetch order."""
    r = _Renderer(plans, rng)
    tasks, per_task = [], []
    for p in plans:
        stories, section, completed = r.stories(p)
        tasks.append(r.task(p, section, completed, stories))
        per_task.append((task_gid(p), stories, r.entries(p)))
    pages = _paged(f"GET /projects/{PROJECT_GID}/tasks", {"limit": TASK_PAGE_SIZE, "opt_fields": TASK_FIELDS},
                   tasks, rng)
    for gid, stories, entries in per_task:
        pages += _paged(f"GET /tasks/{gid}/stories", {"limit": PAGE_SIZE, "opt_fields": STORY_FIELDS},
                        stories, rng)
        pages += _paged(f"GET /tasks/{gid}/time_tracking_entries",
                        {"limit": PAGE_SIZE, "opt_fields": ENTRY_FIELDS}, entries, rng)
    return pages
