"""A stateful fake Jira Cloud (REST v3) for `responses`: issues, changelogs and worklogs, paged like the real API."""

from __future__ import annotations

import base64
import json
import re
import time
import zlib
from collections import Counter, deque
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import responses

BASE_URL = "https://acme-fake.atlassian.net"
EMAIL = "ops@acme.com"
TOKEN = "fake-jira-api-token-5ecret"
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
API = "/rest/api/3"
EMBEDDED_WORKLOGS = 20  # what an issue's `worklog` field carries at most
SEARCH_CAP = 100  # issues per search page whatever maxResults says (Jira lowers it for wide field lists)
CHANGELOG_CAP = 1000  # change histories per bulk changelog page
CHANGELOG_ISSUES = 1000
WORKLOG_CAP = 5000
WORKLOG_IDS = 1000
LOOKUPS = ("serverInfo", "field", "status", "myself")

# name -> (id, category key). "Ready for review" is in category `new` on purpose (stage comes from its name).
STATUSES = {
    "Request": ("10100", "new"), "To Do": ("10000", "new"), "Ready for review": ("10106", "new"),
    "In Progress": ("3", "indeterminate"), "Blocked": ("10103", "indeterminate"), "Done": ("10001", "done"),
}
WORKFLOW = ("Request", "To Do", "In Progress", "Ready for review", "Done")
CUSTOM_FIELDS = {  # name -> (id, schema type)
    "Campaign": ("customfield_10042", "option"), "Planned cost": ("customfield_10046", "number"),
    "PO amount": ("customfield_10050", "string"), "Invoice amount": ("customfield_10052", "number"),
}
SYSTEM_FIELDS = (
    ("summary", "Summary"), ("issuetype", "Issue Type"), ("status", "Status"), ("assignee", "Assignee"),
    ("reporter", "Reporter"), ("created", "Created"), ("updated", "Updated"), ("duedate", "Due date"),
    ("timeoriginalestimate", "Original estimate"), ("description", "Description"), ("labels", "Labels"),
    ("parent", "Parent"), ("worklog", "Log Work"), ("project", "Project"),
)
# The source config the tests and the bench use: custom fields by name, one status mapped explicitly.
FIELDS = {"campaign": "Campaign", "planned_cost": "Planned cost", "committed_amount": "PO amount",
          "invoiced_amount": "Invoice amount"}
STAGES = {"Request": "intake"}
PEOPLE = ("ana@acme.com", "ben@acme.com", "chloe@acme.com")
CAMPAIGNS = ("Spring Launch", "Webinar Series", "Brand Refresh")
ROUTES = (
    ("GET", r"/serverInfo", "serverInfo"), ("GET", r"/field", "field"), ("GET", r"/status", "status"),
    ("GET", r"/myself", "myself"), ("GET", r"/search/jql", "search"), ("POST", r"/search/jql", "search"),
    ("POST", r"/changelog/bulkfetch", "bulkfetch"), ("GET", r"/issue/([^/]+)/worklog", "issue_worklog"),
    ("GET", r"/worklog/updated", "worklog_updated"), ("GET", r"/worklog/deleted", "worklog_deleted"),
    ("POST", r"/worklog/list", "worklog_list"), ("GET", r"/search", "old_search"), ("POST", r"/search", "old_search"),
)


def jira_ts(when: datetime) -> str:
    """Jira's timestamp format, `2026-01-17T12:34:00.000+0000`."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def source_config(fake: FakeJira, **overrides: Any) -> dict[str, Any]:
    """A `sources:` entry for this site (literal credentials; tests may pass ${VAR} instead)."""
    return {"name": "web", "kind": "jira", "url": fake.base_url, "email": EMAIL, "token": TOKEN,
            "jql": "project = MKT", "fields": dict(FIELDS), "stages": dict(STAGES), **overrides}


def _user(email: str | None) -> dict[str, Any] | None:
    if email is None:
        return None
    return {"accountId": f"acc-{email.split('@')[0]}", "emailAddress": email,
            "displayName": email.split("@")[0].title(), "active": True}


def _status(name: str, base: str) -> dict[str, Any]:
    sid, cat = STATUSES[name]
    return {"self": f"{base}{API}/status/{sid}", "id": sid, "name": name, "untranslatedName": name,
            "statusCategory": {"id": {"new": 2, "indeterminate": 4, "done": 3}[cat], "key": cat,
                               "name": {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}[cat]}}


def _first(q: dict[str, list[str]], name: str) -> str | None:
    return (q.get(name) or [None])[0]


class FakeJira:
    """One Jira Cloud site in memory. Mutate it with the helpers; `calls` counts requests by endpoint kind.

    Worklog changes do not move the issue's `updated` (as for worklogs written by apps), so only the
    /worklog/updated and /worklog/deleted feeds reveal them; they omit the minute before `now`, like Jira.
    """

    def __init__(self, base_url: str = BASE_URL, email: str = EMAIL, token: str = TOKEN, now: datetime = NOW,
                 user_tz: str = "America/Los_Angeles", latency_s: float = 0.0):
        self.base_url, self.now, self.user_tz, self.latency_s = base_url.rstrip("/"), now, user_tz, latency_s
        self.email = email
        self.auth = "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()
        self.issues: dict[str, dict[str, Any]] = {}  # key -> {id, key, fields, updated, histories, worklogs}
        self.by_id: dict[str, str] = {}
        self.worklog_times: dict[str, int] = {}  # worklog id -> updated (ms)
        self.deleted_worklogs: list[tuple[str, int]] = []
        self.calls: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []
        self.faults: dict[str, deque] = {}
        self.search_cap, self.changelog_cap = SEARCH_CAP, CHANGELOG_CAP
        self.renamed: dict[str, str] = {}  # field name -> the name the site now shows
        self._cursors: dict[str, Any] = {}
        self._seq = {"issue": 0, "worklog": 100000, "history": 500000, "token": 0}

    # ---- state helpers (what tests change between runs) ----
    def _next(self, what: str) -> int:
        self._seq[what] += 1
        return self._seq[what]

    def advance(self, **delta: float) -> datetime:
        """Move the fake's clock (e.g. `minutes=15`)."""
        self.now += timedelta(**delta)
        return self.now

    def add_issue(self, summary: str = "Task", status: str = "To Do", created: datetime | None = None,
                  assignee: str | None = "ana@acme.com", custom: dict[str, Any] | None = None,
                  estimate_s: int | None = 8 * 3600, due: str | None = None) -> str:
        """Create an issue (no history yet); `custom` by field name. Returns its key."""
        n = self._next("issue")
        key, iid = f"MKT-{n}", str(10000 + n)
        created = created or self.now - timedelta(days=30)
        fields: dict[str, Any] = {
            "summary": summary, "issuetype": {"id": "10001", "name": "Task", "subtask": False},
            "status": _status(status, self.base_url), "assignee": _user(assignee), "reporter": _user(PEOPLE[2]),
            "created": jira_ts(created), "duedate": due, "timeoriginalestimate": estimate_s,
            "description": {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": f"Brief for {summary}."}]}]},
            "labels": [], "parent": None, "project": {"id": "10000", "key": "MKT", "name": "Marketing"},
        }
        fields.update({fid: None for fid, _ in CUSTOM_FIELDS.values()})
        self.issues[key] = {"id": iid, "key": key, "fields": fields, "updated": created, "histories": [],
                            "worklogs": []}
        self.by_id[iid] = key
        for name, value in (custom or {}).items():
            self.set_field(key, name, value, at=created, history=False)
        return key

    def transition(self, key: str, status: str, at: datetime | None = None) -> None:
        """Move an issue to `status` (a changelog entry with status ids, as Jira writes it)."""
        rec, at = self.issues[key], at or self.now
        before = rec["fields"]["status"]
        self._history(rec, at, {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": before["id"],
                                "fromString": before["name"], "to": STATUSES[status][0], "toString": status})
        rec["fields"]["status"] = _status(status, self.base_url)

    def set_field(self, key: str, name: str, value: Any, at: datetime | None = None, history: bool = True) -> None:
        """Set a custom field by name (options for `option` fields), with a changelog entry."""
        rec, at = self.issues[key], at or self.now
        fid, kind = CUSTOM_FIELDS[name]
        old = rec["fields"][fid]
        if kind == "option" and value is not None:
            value_json: Any = {"id": str(zlib.crc32(str(value).encode()) % 10**5), "value": value}
        else:
            value_json = value
        rec["fields"][fid] = value_json
        if history:
            self._history(rec, at, {"field": name, "fieldtype": "custom", "fieldId": fid, "from": None,
                                    "fromString": None if old is None else str(old), "to": None,
                                    "toString": None if value is None else str(value)})
        else:
            rec["updated"] = max(rec["updated"], at)

    def touch(self, key: str, summary: str, at: datetime | None = None) -> None:
        """Edit the summary (moves `updated`; the summary is not in the changelog filter)."""
        rec = self.issues[key]
        rec["fields"]["summary"] = summary
        rec["updated"] = at or self.now

    def _history(self, rec: dict[str, Any], at: datetime, item: dict[str, Any]) -> None:
        rec["histories"].append((at, {"id": str(self._next("history")), "author": _user(PEOPLE[0]), "items": [item]}))
        rec["updated"] = max(rec["updated"], at)

    def add_worklog(self, key: str, seconds: int, started: datetime, author: str = "ana@acme.com",
                    at: datetime | None = None) -> str:
        """Log work (possibly back-dated: `started` long before `at`). Returns the worklog id."""
        rec, at = self.issues[key], at or self.now
        wid, who = str(self._next("worklog")), _user(author)
        rec["worklogs"].append({
            "self": f"{self.base_url}{API}/issue/{rec['id']}/worklog/{wid}", "author": who, "updateAuthor": who,
            "created": jira_ts(at), "updated": jira_ts(at), "started": jira_ts(started),
            "timeSpent": f"{seconds // 60}m", "timeSpentSeconds": seconds, "id": wid, "issueId": rec["id"]})
        self.worklog_times[wid] = ms(at)
        return wid

    def delete_worklog(self, key: str, wid: str, at: datetime | None = None) -> None:
        rec = self.issues[key]
        rec["worklogs"] = [w for w in rec["worklogs"] if w["id"] != wid]
        del self.worklog_times[wid]
        self.deleted_worklogs.append((wid, ms(at or self.now)))

    def delete_issue(self, key: str) -> None:
        rec = self.issues.pop(key)
        del self.by_id[rec["id"]]
        for w in rec["worklogs"]:
            self.worklog_times.pop(w["id"], None)

    def populate(self, n: int, seed: int = 0, many_worklogs: int = 0) -> list[str]:
        """Add `n` issues with random paths through the workflow, amounts and worklogs; `many_worklogs` of them
        (spread evenly) get 21-45 worklogs, more than an issue embeds. All of it happened before `now`."""
        rng = Random(seed)
        start, span = self.now - timedelta(days=200), timedelta(days=150)
        many = {round(i * n / many_worklogs) for i in range(many_worklogs)} if many_worklogs else set()
        keys = []
        for i in range(n):
            created = start + span * (i / max(n, 1))
            custom = {"Campaign": CAMPAIGNS[i % 3], "Planned cost": float(rng.choice((500, 1200, 2500)))}
            if rng.random() < 0.3:
                custom["PO amount"] = rng.choice(("1,200.50", "800", "€950"))
            key = self.add_issue(f"Task {i}", "Request", created, PEOPLE[i % 3], custom, due=None)
            keys.append(key)
            at = created
            for status in WORKFLOW[1 : 1 + rng.randrange(len(WORKFLOW))]:
                at += timedelta(hours=rng.randrange(4, 96))
                self.transition(key, status, at)
            count = rng.randrange(21, 46) if i in many else rng.randrange(0, 4)
            for j in range(count):
                started = created + timedelta(hours=2 + 3 * j)
                self.add_worklog(key, rng.choice((1800, 3600, 5400)), started, PEOPLE[j % 3], at=started)
        return keys

    # ---- faults ----
    def fail(self, kind: str, status: int | Exception, times: int | None = 1, headers: dict[str, str] | None = None,
             body: Any = None) -> None:
        """Answer the next `times` requests of `kind` (None: all of them) with `status`, or raise it."""
        self.faults.setdefault(kind, deque()).append(
            [status, times, headers or {}, body or {"errorMessages": [f"fake HTTP {status}"]}])

    def _fault(self, kind: str) -> tuple[int, dict, str] | None:
        queue = self.faults.get(kind)
        if not queue:
            return None
        status, times, headers, body = queue[0]
        if times is not None:
            queue[0][1] -= 1
            if queue[0][1] <= 0:
                queue.popleft()
        if isinstance(status, Exception):
            raise status
        return status, {"Content-Type": "application/json", **headers}, json.dumps(body)

    # ---- HTTP ----
    def install(self, rsps: responses.RequestsMock) -> FakeJira:
        """Serve this site's URLs from `rsps`."""
        pattern = re.compile(re.escape(self.base_url) + r"/.*")
        for method in ("GET", "POST"):
            rsps.add_callback(method, pattern, callback=self.handle)
        return self

    def requests_to(self, *kinds: str) -> int:
        return sum(self.calls[k] for k in kinds)

    def handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        if self.latency_s:
            time.sleep(self.latency_s)
        parts = urlsplit(request.url)
        path = parts.path.removeprefix(API)
        kind, match = "unknown", None
        for method, route, name in ROUTES:
            match = re.fullmatch(route, path) if parts.path.startswith(API) else None
            if method == request.method and match:
                kind = name
                break
        self.calls[kind] += 1
        self.log.append((request.method, request.url))
        fault = self._fault(kind)
        if fault:
            return fault
        if request.headers.get("Authorization") != self.auth:
            return self._json(401, {"errorMessages": ["Client must be authenticated to access this resource."]})
        query = parse_qs(parts.query, keep_blank_values=True)
        body = json.loads(request.body) if request.body else {}
        handler = getattr(self, f"_{kind}", None)
        if handler is None:
            return self._json(404, {"errorMessages": [f"no route for {request.method} {parts.path}"]})
        return self._json(*handler(query, body, match))

    @staticmethod
    def _json(status: int, payload: Any) -> tuple[int, dict[str, str], str]:
        return status, {"Content-Type": "application/json"}, json.dumps(payload)

    def _token(self, state: Any) -> str:
        token = base64.urlsafe_b64encode(f"page-{self._next('token')}".encode()).decode()
        self._cursors[token] = state
        return token

    def _old_search(self, q, body, m):
        return 410, {"errorMessages": ["The requested API has been removed. Please migrate to /rest/api/3/search/jql."]}

    def _serverInfo(self, q, body, m):
        return 200, {"baseUrl": self.base_url, "version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0],
                     "deploymentType": "Cloud", "buildNumber": 100296, "serverTime": jira_ts(self.now),
                     "scmInfo": "0" * 40, "serverTitle": "Jira"}

    def _myself(self, q, body, m):
        return 200, {**_user(self.email), "timeZone": self.user_tz, "locale": "en_US"}

    def _field(self, q, body, m):
        out = [{"id": fid, "key": fid, "name": name, "custom": False, "navigable": True, "searchable": True,
                "clauseNames": [fid]} for fid, name in SYSTEM_FIELDS]
        for name, (fid, kind) in CUSTOM_FIELDS.items():
            num = fid.rsplit("_", 1)[1]
            name = self.renamed.get(name, name)
            out.append({"id": fid, "key": fid, "name": name, "custom": True, "navigable": True, "searchable": True,
                        "clauseNames": [f"cf[{num}]", name], "schema": {"type": kind, "customId": int(num)}})
        return 200, out

    def _status(self, q, body, m):
        return 200, [_status(name, self.base_url) for name in STATUSES]

    def _search(self, q, body, m):
        q = {**q, **{k: v if isinstance(v, list) else [v] for k, v in body.items()}}
        token = _first(q, "nextPageToken")
        if token:
            if token not in self._cursors:
                return 400, {"errorMessages": ["The provided next page token is invalid or expired."]}
            ids, offset, fields = self._cursors[token]
        else:
            ids, offset = self._match(_first(q, "jql") or ""), 0
            fields = [f for v in q.get("fields") or [] for f in str(v).split(",") if f]
        size = min(int(_first(q, "maxResults") or 50), self.search_cap)
        page = [self._issue_json(self.by_id[i], fields) for i in ids[offset : offset + size] if i in self.by_id]
        out: dict[str, Any] = {"issues": page}
        if offset + size < len(ids):
            out["nextPageToken"] = self._token((ids, offset + size, fields))
        return 200, out

    def _match(self, jql: str) -> list[str]:
        ids = sorted(self.by_id, key=int)
        since_m = re.search(r'updated\s*>=\s*"([^"]+)"', jql)
        ids_m = re.search(r"\bid\s+in\s*\(([^)]*)\)", jql, re.IGNORECASE)
        if not since_m and not ids_m:
            return ids
        since = None
        if since_m:  # JQL dates are in the API user's zone, to the minute
            local = datetime.strptime(since_m.group(1).replace("/", "-"), "%Y-%m-%d %H:%M")
            since = local.replace(tzinfo=ZoneInfo(self.user_tz))
        wanted = {x.strip() for x in ids_m.group(1).split(",")} if ids_m else set()
        return [i for i in ids if i in wanted or (since and self.issues[self.by_id[i]]["updated"] >= since)]

    def _issue_json(self, key: str, fields: list[str]) -> dict[str, Any]:
        rec = self.issues[key]
        logs = rec["worklogs"]
        every = {**rec["fields"], "updated": jira_ts(rec["updated"]),
                 "worklog": {"startAt": 0, "maxResults": EMBEDDED_WORKLOGS, "total": len(logs),
                             "worklogs": logs[:EMBEDDED_WORKLOGS]}}
        if not fields:
            return {"id": rec["id"]}  # the endpoint's default is the id only
        chosen = every if "*all" in fields else {f: every[f] for f in fields if f in every}
        return {"expand": "renderedFields,names,schema,operations,editmeta,changelog", "id": rec["id"],
                "self": f"{self.base_url}{API}/issue/{rec['id']}", "key": key, "fields": chosen}

    def _bulkfetch(self, q, body, m):
        wanted = body.get("issueIdsOrKeys") or []
        field_ids = body.get("fieldIds")
        if not wanted or len(wanted) > CHANGELOG_ISSUES or (field_ids and len(field_ids) > 10):
            return 400, {"errorMessages": ["issueIdsOrKeys takes 1 to 1000 issues and fieldIds at most 10"]}
        token = body.get("nextPageToken")
        offset = self._cursors.get(token) if token else 0
        if offset is None:
            return 400, {"errorMessages": ["The provided next page token is invalid."]}
        entries = []
        for ref in wanted:
            key = ref if ref in self.issues else self.by_id.get(ref)
            for at, h in self.issues[key]["histories"] if key else ():
                items = [i for i in h["items"] if not field_ids or i["fieldId"] in field_ids]
                if items:
                    iid = self.issues[key]["id"]
                    created: Any = ms(at) if int(iid) % 2 else jira_ts(at)  # the API sends both forms
                    entries.append((at, int(iid), {**h, "created": created, "items": items}))
        entries.sort(key=lambda e: (e[0], e[1]))  # by changelog date, then issue id
        size = min(int(body.get("maxResults") or self.changelog_cap), self.changelog_cap)
        logs: list[dict[str, Any]] = []
        for _, iid, h in entries[offset : offset + size]:
            if not logs or logs[-1]["issueId"] != str(iid):
                logs.append({"issueId": str(iid), "changeHistories": []})
            logs[-1]["changeHistories"].append(h)
        out: dict[str, Any] = {"issueChangeLogs": logs}
        if offset + size < len(entries):
            out["nextPageToken"] = self._token(offset + size)
        return 200, out

    def _issue_worklog(self, q, body, m):
        ref = m.group(1)
        key = ref if ref in self.issues else self.by_id.get(ref)
        if key is None:
            return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}
        start = int(_first(q, "startAt") or 0)
        size = min(int(_first(q, "maxResults") or WORKLOG_CAP), WORKLOG_CAP)
        logs = self.issues[key]["worklogs"]
        return 200, {"startAt": start, "maxResults": size, "total": len(logs), "worklogs": logs[start : start + size]}

    def _changes(self, q, stamps: list[tuple[int, str]], path: str):
        since = int(_first(q, "since") or 0)
        cutoff = ms(self.now) - 60_000  # the last minute is never listed
        found = sorted((t, int(w)) for w, t in stamps if since <= t < cutoff)
        page, last = found[:1000], len(found) <= 1000
        until = page[-1][0] if page else cutoff
        out = {"values": [{"worklogId": w, "updatedTime": t, "properties": []} for t, w in page], "since": since,
               "until": until, "self": f"{self.base_url}{API}{path}?since={since}", "lastPage": last}
        if not last:
            out["nextPage"] = f"{self.base_url}{API}{path}?since={until}"
        return 200, out

    def _worklog_updated(self, q, body, m):
        return self._changes(q, list(self.worklog_times.items()), "/worklog/updated")

    def _worklog_deleted(self, q, body, m):
        return self._changes(q, [(w, t) for w, t in self.deleted_worklogs], "/worklog/deleted")

    def _worklog_list(self, q, body, m):
        ids = {str(i) for i in body.get("ids") or []}
        if len(ids) > WORKLOG_IDS:
            return 400, {"errorMessages": ["at most 1000 worklog ids"]}
        return 200, [w for rec in self.issues.values() for w in rec["worklogs"] if w["id"] in ids]

    # ---- expectations ----
    def changelog_pages(self, field_ids: tuple[str, ...] = ("status", "customfield_10050", "customfield_10052"),
                        batch: int = CHANGELOG_ISSUES, page: int = CHANGELOG_CAP) -> int:
        """The fewest bulk changelog requests that fetch every issue's history in batches (ascending ids)."""
        counts = [sum(1 for _, h in self.issues[self.by_id[i]]["histories"]
                      if any(it["fieldId"] in field_ids for it in h["items"]))
                  for i in sorted(self.by_id, key=int)]
        return sum(max(1, -(-sum(counts[b : b + batch]) // page)) for b in range(0, len(counts), batch))
