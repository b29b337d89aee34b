"""A stateful fake of the Asana REST API (tasks, stories, time tracking entries) served by pytest-httpserver."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

API = "/api/1.0"
TOKEN = "tok-asana-SECRET-456"
PROJECT = "1201234567890123"
OTHER_PROJECT = "1209999999999999"  # another team's board some tasks also live on
WORKSPACE = "1200000000000001"
SECTIONS = {"Requests": "1201234567890201", "Backlog": "1201234567890202", "Doing": "1201234567890203",
            "Legal review": "1201234567890204", "On hold": "1201234567890205"}
OTHER_SECTIONS = {"To do": "1209999999999901", "Shipped": "1209999999999902"}
STAGES = {"Requests": "intake", "Backlog": "backlog", "Doing": "in_progress", "Legal review": "review"}
FIELDS = {"campaign": "Campaign", "planned_cost": "Planned cost", "estimate_hours": "Estimated time"}
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PEOPLE = [("1200000000000011", "Zoë Müller", "zoe@acme.com"), ("1200000000000012", "Ana Lima", "ana@acme.com"),
          ("1200000000000013", "Bo Chen", "bo@acme.com")]


def ts(moment: datetime) -> str:
    """Asana's timestamp format."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _user(i: int) -> dict[str, Any]:
    gid, name, email = PEOPLE[i % len(PEOPLE)]
    return {"gid": gid, "resource_type": "user", "name": name, "email": email}


def _select(obj: Any, tree: dict[str, Any]) -> Any:
    """Apply an opt_fields tree the way Asana does: gid and resource_type always, then what was asked for."""
    if isinstance(obj, list):
        return [_select(o, tree) for o in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: obj[k] for k in ("gid", "resource_type") if k in obj}
    for key, sub in tree.items():
        if key in obj:
            out[key] = _select(obj[key], sub) if sub else obj[key]
    return out


def opt_tree(opt_fields: str | None, compact: Iterable[str]) -> dict[str, Any]:
    """`a,b.c,b.d` -> {a: {}, b: {c: {}, d: {}}}; without opt_fields the compact record's fields."""
    tree: dict[str, Any] = {}
    for path in (opt_fields.split(",") if opt_fields else compact):
        node = tree
        for part in path.strip().split("."):
            node = node.setdefault(part, {})
    return tree


@dataclass
class Fault:
    """An injected error answer, served instead of the real one to the next matching request(s)."""

    status: int
    path: str = ""  # substring of the request path ("" = any)
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "Server Error"


class FakeAsana:
    """Projects, tasks, stories and time entries; pages with `next_page: {offset, path, uri}` like the real API."""

    def __init__(self, server: HTTPServer, token: str = TOKEN):
        self.server, self.token = server, token
        self.projects: dict[str, list[str]] = {PROJECT: [], OTHER_PROJECT: []}
        self.project_names = {PROJECT: "Content", OTHER_PROJECT: "Brand"}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.stories: dict[str, list[dict[str, Any]]] = {}
        self.entries: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[tuple[str, dict[str, str]]] = []  # every request: (path under /api/1.0, query)
        self.faults: list[Fault] = []
        self.time_tracking = True  # False: the plan has no time tracking, entries answer 402
        self.expire_offsets = False  # True: every offset is rejected like a stale one
        self.stuck_offsets = False  # True: a broken server that hands out the same offset forever
        self.change_header: str | None = None  # an `Asana-Change` header to send on every answer
        self.tags: dict[str, dict[str, Any]] = {}  # gid -> tag of the workspace
        self.now: datetime | None = None  # when writes happen (task modified_at); None: the real time
        self._offsets: dict[str, tuple[str, int]] = {}
        self._lock = threading.RLock()
        self._gid = 1208100000000000
        server.expect_request(re.compile(f"^{API}/")).respond_with_handler(self.handle)

    @property
    def base_url(self) -> str:
        return self.server.url_for(API)

    def fail(self, status: int, times: int = 1, path: str = "", **kw: Any) -> None:
        """Answer the next `times` requests whose path contains `path` with `status`."""
        self.faults += [Fault(status, path, **kw) for _ in range(times)]

    def count(self, pattern: str) -> int:
        """How many requests had a path matching the regex."""
        return sum(1 for path, _ in self.calls if re.fullmatch(pattern, path))

    # ---- building the data --------------------------------------------------------------------------------

    def _next_gid(self) -> str:
        self._gid += 7
        return str(self._gid)

    def _story(self, gid: str, at: datetime, subtype: str, **extra: Any) -> None:
        self.stories[gid].append({"gid": self._next_gid(), "resource_type": "story", "created_at": ts(at),
                                  "created_by": _user(1), "resource_subtype": subtype, "type": "system",
                                  "text": subtype.replace("_", " "), **extra})

    @staticmethod
    def _section(name: str, project: str = PROJECT) -> dict[str, Any]:
        gid = (SECTIONS if project == PROJECT else OTHER_SECTIONS)[name]
        return {"gid": gid, "resource_type": "section", "name": name,
                "project": {"gid": project, "resource_type": "project"}}

    def add_task(self, name: str, created: datetime, events: Iterable[tuple[datetime, str, str]] = (),
                 entries: Iterable[tuple[datetime, int]] = (), *, person: int = 0, campaign: str | None = "Spring",
                 planned: float | None = 500.0, estimate_min: int | None = 120, also_other: bool = False,
                 report_time: bool = True) -> str:
        """Add a task in Requests; `events` are (at, move|complete|reopen|comment|other_move, section)."""
        gid = self._next_gid()
        self.stories[gid], self.entries[gid] = [], []
        self._story(gid, created, "added_to_project", project={"gid": PROJECT, "resource_type": "project"})
        section, other, completed, completed_at, last = "Requests", "To do", False, None, created
        for at, kind, arg in events:
            if kind == "move":
                self._story(gid, at, "section_changed", old_section=self._section(section),
                            new_section=self._section(arg))
                section = arg
            elif kind == "other_move":
                self._story(gid, at, "section_changed", old_section=self._section(other, OTHER_PROJECT),
                            new_section=self._section(arg, OTHER_PROJECT))
                other = arg
            elif kind in ("complete", "reopen"):
                completed = kind == "complete"
                completed_at = at if completed else None
                self._story(gid, at, "marked_complete" if completed else "marked_incomplete")
            else:
                self._story(gid, at, "comment_added", type="comment", text=arg)
            last = max(last, at)
        minutes = 0
        for at, duration in entries:
            self.entries[gid].append({"gid": self._next_gid(), "resource_type": "time_tracking_entry",
                                      "duration_minutes": duration, "entered_on": at.date().isoformat(),
                                      "created_by": _user(person), "created_at": ts(at)})
            minutes, last = minutes + duration, max(last, at)
        memberships = [{"project": {"gid": PROJECT, "resource_type": "project", "name": "Content"},
                        "section": self._section(section)}]
        if also_other:
            memberships.append({"project": {"gid": OTHER_PROJECT, "resource_type": "project", "name": "Design"},
                                "section": self._section(other, OTHER_PROJECT)})
            self.projects[OTHER_PROJECT].append(gid)
        self.tasks[gid] = {
            "gid": gid, "resource_type": "task", "resource_subtype": "default_task", "name": name,
            "assignee": _user(person), "created_by": _user(1), "created_at": ts(created), "modified_at": ts(last),
            "completed": completed, "completed_at": completed_at and ts(completed_at), "due_on": "2026-04-30",
            "due_at": None, "notes": f"Brief for {name}: audience, channels, copy, deadline and budget owner.",
            "tags": [], "parent": None, "permalink_url": f"https://app.asana.com/0/{PROJECT}/{gid}",
            "actual_time_minutes": minutes if report_time else None, "memberships": memberships,
            "custom_fields": [
                {"gid": "1300000000000001", "resource_type": "custom_field", "name": "Campaign", "type": "enum",
                 "resource_subtype": "enum", "display_value": campaign,
                 "enum_value": campaign and {"gid": "1300000000000091", "name": campaign}},
                {"gid": "1300000000000002", "resource_type": "custom_field", "name": "Planned cost", "type": "number",
                 "resource_subtype": "number", "number_value": planned, "format": "currency"},
                {"gid": "1300000000000003", "resource_type": "custom_field", "name": "Estimated time",
                 "type": "number", "resource_subtype": "number", "number_value": estimate_min, "format": "duration"},
            ],
        }
        self.projects[PROJECT].append(gid)
        return gid

    # ---- serving ------------------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        with self._lock:  # a threaded server answers syncer's concurrent requests at once
            return self._answer(request)

    def _answer(self, request: Request) -> Response:
        path, args = request.path[len(API):], request.args.to_dict()
        self.calls.append((path, args))
        for fault in self.faults:
            if fault.path in path:
                self.faults.remove(fault)
                return self._json({"errors": [{"message": fault.message}]}, fault.status, fault.headers)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._json({"errors": [{"message": "Not Authorized"}]}, 401)
        if request.method == "POST":
            return self._write(path, args, request.get_json(silent=True) or {})
        if m := re.fullmatch(r"/projects/(\d+)", path):
            if m.group(1) not in self.projects:
                return self._json({"errors": [{"message": f"project: Unknown object: {m.group(1)}"}]}, 404)
            project = {"gid": m.group(1), "resource_type": "project", "name": "Content",
                       "workspace": {"gid": WORKSPACE, "resource_type": "workspace", "name": "Acme"}}
            return self._json({"data": _select(project, opt_tree(args.get("opt_fields"), ("name",)))})
        if path == f"/workspaces/{WORKSPACE}/tags":
            return self._page(path, args, list(self.tags.values()), ("name",))
        if path == "/workspaces":
            workspaces = [{"gid": WORKSPACE, "resource_type": "workspace", "name": "Acme"}]
            return self._page(path, args, workspaces, ("name",))
        if path == f"/workspaces/{WORKSPACE}/projects":  # `archived=false`: the fake's projects are all active
            items = [{"gid": gid, "resource_type": "project", "name": self.project_names.get(gid, "Project")}
                     for gid in self.projects]
            return self._page(path, args, items, ("name",))
        if m := re.fullmatch(r"/projects/(\d+)/tasks", path):
            if m.group(1) not in self.projects:
                return self._json({"errors": [{"message": f"project: Unknown object: {m.group(1)}"}]}, 404)
            return self._page(path, args, [self.tasks[g] for g in self.projects[m.group(1)]], ("name",))
        if path == "/tasks":
            return self._modified(path, args)
        if m := re.fullmatch(r"/tasks/(\d+)/(stories|time_tracking_entries)", path):
            gid, kind = m.groups()
            if gid not in self.tasks:
                return self._json({"errors": [{"message": f"task: Unknown object: {gid}"}]}, 404)
            if kind == "stories":
                return self._page(path, args, self.stories[gid], ("created_at", "created_by", "resource_subtype",
                                                                  "text", "type"))
            if not self.time_tracking:
                return self._json({"errors": [{"message": "Time tracking is not available on this plan."}]}, 402)
            return self._page(path, args, self.entries[gid], ("duration_minutes", "entered_on", "created_by"))
        return self._json({"errors": [{"message": "Not Found"}]}, 404)

    def _write(self, path: str, args: dict[str, str], body: dict[str, Any]) -> Response:
        """The writes intake write-back uses: create a tag, add/remove a task's tag, comment on a task."""
        data = body.get("data")
        if not isinstance(data, dict):
            return self._json({"errors": [{"message": "data: Missing input"}]}, 400)
        at = self.now or datetime.now(UTC)
        if path == f"/workspaces/{WORKSPACE}/tags":
            gid = self._next_gid()
            self.tags[gid] = {"gid": gid, "resource_type": "tag", "name": data.get("name", "")}
            return self._json({"data": _select(self.tags[gid], opt_tree(args.get("opt_fields"), ("name",)))}, 201)
        m = re.fullmatch(r"/tasks/(\d+)/(addTag|removeTag|stories)", path)
        if not m:
            return self._json({"errors": [{"message": "Not Found"}]}, 404)
        gid, what = m.groups()
        if gid not in self.tasks:
            return self._json({"errors": [{"message": f"task: Unknown object: {gid}"}]}, 404)
        task = self.tasks[gid]
        if what == "stories":
            if not data.get("text"):
                return self._json({"errors": [{"message": "text: Missing input"}]}, 400)
            self._story(gid, at, "comment_added", type="comment", text=data["text"])
            task["modified_at"] = ts(at)
            return self._json({"data": self.stories[gid][-1]}, 201)
        tag = self.tags.get(str(data.get("tag")))
        if tag is None:
            return self._json({"errors": [{"message": "tag: Not a recognized ID"}]}, 400)
        task["tags"] = [t for t in task["tags"] if t["gid"] != tag["gid"]]
        if what == "addTag":
            task["tags"].append(dict(tag))
        task["modified_at"] = ts(at)
        return self._json({"data": {}})

    def comments(self, gid: str) -> list[str]:
        """The texts of a task's comments."""
        return [s["text"] for s in self.stories[gid] if s["resource_subtype"] == "comment_added"]

    def _modified(self, path: str, args: dict[str, str]) -> Response:
        project = args.get("project")
        if project is None:
            return self._json({"errors": [{"message": "Must specify exactly one of project, tag, section, "
                                                      "user task list, or assignee + workspace"}]}, 400)
        since = datetime.fromisoformat(args["modified_since"]) if "modified_since" in args else None
        tasks = [self.tasks[g] for g in self.projects.get(project, [])
                 if since is None or datetime.fromisoformat(self.tasks[g]["modified_at"]) >= since]
        return self._page(path, args, tasks, ("name",))

    def _page(self, path: str, args: dict[str, str], items: list[dict[str, Any]], compact: tuple) -> Response:
        tree = opt_tree(args.get("opt_fields"), compact)
        if "limit" not in args:  # unpaginated ("grandfathered") request: everything, no next_page
            return self._json({"data": _select(items, tree)})
        limit = int(args["limit"]) if args["limit"].isdigit() else 0
        if not 1 <= limit <= 100:
            return self._json({"errors": [{"message": "limit: Must be between 1 and 100"}]}, 400)
        listing = json.dumps([path, {k: v for k, v in sorted(args.items()) if k not in ("offset", "limit")}])
        start = 0
        if "offset" in args:
            known = self._offsets.get(args["offset"])
            if self.expire_offsets or known is None or known[0] != listing:
                return self._json({"errors": [{"message": "offset: Your pagination token is invalid or expired"}]},
                                  400)
            start = known[1]
        end = start + limit
        next_page = None
        if end < len(items):
            token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.stuck" if self.stuck_offsets else (
                f"eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.{len(self._offsets):06d}")
            self._offsets[token] = (listing, end)
            rel = f"{path}?{urlencode({**{k: v for k, v in args.items() if k != 'offset'}, 'offset': token})}"
            next_page = {"offset": token, "path": rel, "uri": self.base_url + rel}
        return self._json({"data": _select(items[start:end], tree), "next_page": next_page})

    def _json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        headers = dict(headers or {})
        if self.change_header:
            headers["Asana-Change"] = self.change_header
        return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


def populate(fake: FakeAsana, n: int = 23) -> dict[str, dict[str, Any]]:
    """n varied tasks (some with long story feeds, some with time entries); returns gid -> expected facts."""
    paths = [[], ["Doing"], ["Doing", "Legal review"], ["Doing", "Legal review", "done"], ["On hold"], ["Backlog"]]
    stage_of = {"Requests": "intake", "Doing": "in_progress", "Legal review": "review", "On hold": "blocked",
                "Backlog": "backlog"}
    expected = {}
    for i in range(n):
        created = T0 + timedelta(hours=6 * i)
        at, events, section, done = created, [], "Requests", False
        for step in paths[i % len(paths)]:
            at += timedelta(hours=20)
            if step == "done":
                events.append((at, "complete", ""))
                done = True
            else:
                events.append((at, "move", step))
                section = step
        if i % 5 == 0:  # a chatty task: its stories run over several pages
            events += [(created + timedelta(minutes=30 * k + 1), "comment", f"comment {k}") for k in range(14)]
            events.sort(key=lambda e: e[0])
        entries = [(created + timedelta(days=1, hours=k), 15 * (i % 4 + 1)) for k in range(i % 3)] if i % 2 else []
        gid = fake.add_task(f"Task {i:02d}", created, events, entries, person=i, campaign=["Spring", "Summer"][i % 2],
                            report_time=i % 7 != 3)
        expected[gid] = {"title": f"Task {i:02d}", "stage": "done" if done else stage_of[section],
                         "hours": sum(m for _, m in entries) / 60, "owner": PEOPLE[i % len(PEOPLE)][2],
                         "campaign": ["Spring", "Summer"][i % 2], "moves": len(events) - (14 if i % 5 == 0 else 0)}
    return expected
