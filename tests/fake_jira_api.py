"""The REST side of the fake Jira Cloud: routes, paging, faults and Jira's answers (`FakeJira` holds the site)."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import responses

API = "/rest/api/3"
EMBEDDED_WORKLOGS = 20  # what an issue's `worklog` field carries at most
SEARCH_CAP = 100  # issues per search page whatever maxResults says (Jira lowers it for wide field lists)
CHANGELOG_CAP = 1000  # change histories per bulk changelog page
CHANGELOG_ISSUES = 1000
WORKLOG_CAP = 5000
WORKLOG_IDS = 1000
FEED_PAGE = 1000  # values per /worklog/updated or /worklog/deleted page

# name -> (id, category key). "Ready for review" is in category `new` on purpose (stage comes from its name).
STATUSES = {
    "Request": ("10100", "new"), "To Do": ("10000", "new"), "Ready for review": ("10106", "new"),
    "In Progress": ("3", "indeterminate"), "Blocked": ("10103", "indeterminate"), "Done": ("10001", "done"),
}
CUSTOM_FIELDS = {  # name -> (id, schema type)
    "Campaign": ("customfield_10042", "option"), "Planned cost": ("customfield_10046", "number"),
    "PO amount": ("customfield_10050", "string"), "Invoice amount": ("customfield_10052", "number"),
    "Flagged": ("customfield_10021", "array"),  # Jira Software's flag: one checkbox option, "Impediment"
}
SYSTEM_FIELDS = (
    ("summary", "Summary"), ("issuetype", "Issue Type"), ("status", "Status"), ("assignee", "Assignee"),
    ("reporter", "Reporter"), ("created", "Created"), ("updated", "Updated"), ("duedate", "Due date"),
    ("timeoriginalestimate", "Original estimate"), ("description", "Description"), ("labels", "Labels"),
    ("parent", "Parent"), ("worklog", "Log Work"), ("project", "Project"),
)
ROUTES = (
    ("GET", r"/serverInfo", "serverInfo"), ("GET", r"/field", "field"), ("GET", r"/status", "status"),
    ("GET", r"/myself", "myself"), ("GET", r"/search/jql", "search"), ("POST", r"/search/jql", "search"),
    ("POST", r"/changelog/bulkfetch", "bulkfetch"), ("GET", r"/issue/([^/]+)/worklog", "issue_worklog"),
    ("GET", r"/worklog/updated", "worklog_updated"), ("GET", r"/worklog/deleted", "worklog_deleted"),
    ("POST", r"/worklog/list", "worklog_list"), ("GET", r"/search", "old_search"), ("POST", r"/search", "old_search"),
    ("PUT", r"/issue/([^/]+)", "edit_issue"), ("POST", r"/issue/([^/]+)/comment", "add_comment"),
    ("GET", r"/issue/([^/]+)/comment", "comments"), ("GET", r"/project/search", "project_search"),
)
PROJECTS = (("10000", "MKT", "Marketing"), ("10001", "WEB", "Website"), ("10002", "EVT", "Events"))


def jira_ts(when: datetime) -> str:
    """Jira's timestamp format, `2026-01-17T12:34:00.000+0000`."""
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def user_json(email: str | None) -> dict[str, Any] | None:
    if email is None:
        return None
    return {"accountId": f"acc-{email.split('@')[0]}", "emailAddress": email,
            "displayName": email.split("@")[0].title(), "active": True}


def status_json(name: str, base: str) -> dict[str, Any]:
    sid, cat = STATUSES[name]
    return {"self": f"{base}{API}/status/{sid}", "id": sid, "name": name, "untranslatedName": name,
            "statusCategory": {"id": {"new": 2, "indeterminate": 4, "done": 3}[cat], "key": cat,
                               "name": {"new": "To Do", "indeterminate": "In Progress", "done": "Done"}[cat]}}


def _first(q: dict[str, list[str]], name: str) -> str | None:
    return (q.get(name) or [None])[0]


class JiraApi:
    """Jira Cloud's REST v3 over the site state of `FakeJira`; `calls` counts requests by endpoint kind."""

    issues: dict[str, dict[str, Any]]
    by_id: dict[str, str]
    worklog_times: dict[str, int]
    deleted_worklogs: list[tuple[str, int]]
    now: datetime

    def __init__(self, base_url: str, email: str, token: str, user_tz: str, latency_s: float):
        self.base_url, self.email, self.user_tz, self.latency_s = base_url.rstrip("/"), email, user_tz, latency_s
        self.auth = "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()
        self.calls: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []
        self.faults: dict[str, deque] = {}
        self.hooks: dict[str, deque] = {}
        self.search_cap, self.changelog_cap = SEARCH_CAP, CHANGELOG_CAP
        self.renamed: dict[str, str] = {}  # field name -> the name the site now shows
        self.clauses: dict[str, list[str]] | None = {}  # field id -> JQL clause names; None: /field omits them
        self.deployment = "Cloud"  # serverInfo's deploymentType ("Server" and "DataCenter" are not Cloud)
        self.projects: list[tuple[str, str, str]] = list(PROJECTS)  # (id, key, name) this account may browse
        self._cursors: dict[str, Any] = {}
        self._tokens = 0
        self._lock = threading.RLock()
        self.in_flight = self.peak_in_flight = 0  # requests being answered now, and the most at once

    # ---- faults ----
    def fail(self, kind: str, status: int | Exception, times: int | None = 1, headers: dict[str, str] | None = None,
             body: Any = None) -> None:
        """Answer the next `times` requests of `kind` (None: all of them) with `status`, or raise it."""
        self.faults.setdefault(kind, deque()).append(
            [status, times, headers or {}, body or {"errorMessages": [f"fake HTTP {status}"]}])

    def before(self, kind: str, action: Callable[[], Any], skip: int = 0) -> None:
        """Run `action` (e.g. delete an issue) just before Jira handles the `skip`+1-th next request of `kind`."""
        self.hooks.setdefault(kind, deque()).append([skip, action])

    def _hook(self, kind: str) -> None:
        queue = self.hooks.get(kind)
        if queue:
            if queue[0][0] > 0:
                queue[0][0] -= 1
            else:
                queue.popleft()[1]()

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
    def install(self, rsps: responses.RequestsMock) -> Self:
        """Serve this site's URLs from `rsps`."""
        pattern = re.compile(re.escape(self.base_url) + r"/.*")
        for method in ("GET", "POST", "PUT"):
            rsps.add_callback(method, pattern, callback=self.handle)
        return self

    def requests_to(self, *kinds: str) -> int:
        return sum(self.calls[k] for k in kinds)

    def handle(self, request: Any) -> tuple[int, dict[str, str], str]:
        """Answer one request, `latency_s` after it arrived (the time Jira takes is part of that latency)."""
        started = time.perf_counter()
        with self._lock:  # syncer sends a source's independent requests from several threads
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            with self._lock:
                return self._answer(request)
        finally:
            if self.latency_s:
                time.sleep(max(0.0, self.latency_s - (time.perf_counter() - started)))
            with self._lock:
                self.in_flight -= 1

    def _answer(self, request: Any) -> tuple[int, dict[str, str], str]:
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
        self._hook(kind)
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
        if payload is None:  # 204 No Content
            return status, {}, ""
        return status, {"Content-Type": "application/json"}, json.dumps(payload)

    def _token(self, state: Any) -> str:
        self._tokens += 1
        token = base64.urlsafe_b64encode(f"page-{self._tokens}".encode()).decode()
        self._cursors[token] = state
        return token

    def _old_search(self, q, body, m):
        return 410, {"errorMessages": ["The requested API has been removed. Please migrate to /rest/api/3/search/jql."]}

    def _serverInfo(self, q, body, m):
        return 200, {"baseUrl": self.base_url, "version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0],
                     "deploymentType": self.deployment, "buildNumber": 100296, "serverTime": jira_ts(self.now),
                     "scmInfo": "0" * 40, "serverTitle": "Jira"}

    def _myself(self, q, body, m):
        return 200, {**user_json(self.email), "timeZone": self.user_tz, "locale": "en_US"}

    def _field(self, q, body, m):
        out = [{"id": fid, "key": fid, "name": name, "custom": False, "navigable": True, "searchable": True,
                "clauseNames": [fid]} for fid, name in SYSTEM_FIELDS]
        for name, (fid, kind) in CUSTOM_FIELDS.items():
            num = fid.rsplit("_", 1)[1]
            name = self.renamed.get(name, name)
            out.append({"id": fid, "key": fid, "name": name, "custom": True, "navigable": True, "searchable": True,
                        "clauseNames": [f"cf[{num}]", name], "schema": {"type": kind, "customId": int(num)}})
        for f in out:
            if self.clauses is None:
                del f["clauseNames"]
            else:
                f["clauseNames"] = self.clauses.get(f["id"], f["clauseNames"])
        return 200, out

    def _status(self, q, body, m):
        return 200, [status_json(name, self.base_url) for name in STATUSES]

    def _search(self, q, body, m):
        q = {**q, **{k: v if isinstance(v, list) else [v] for k, v in body.items()}}
        token = _first(q, "nextPageToken")
        if token:
            if token not in self._cursors:
                return 400, {"errorMessages": ["The provided next page token is invalid or expired."]}
            ids, offset, fields = self._cursors[token]
        else:
            ids, offset = self._match(_first(q, "jql") or ""), 0
            if isinstance(ids, dict):
                return 400, ids
            fields = [f for v in q.get("fields") or [] for f in str(v).split(",") if f]
        size = min(int(_first(q, "maxResults") or 50), self.search_cap)
        page = [self._issue_json(self.by_id[i], fields) for i in ids[offset : offset + size] if i in self.by_id]
        out: dict[str, Any] = {"issues": page}
        if offset + size < len(ids):
            out["nextPageToken"] = self._token((ids, offset + size, fields))
        return 200, out

    def _match(self, jql: str) -> list[str] | dict[str, Any]:
        """The ids the JQL matches, or Jira's 400 body for it."""
        ids = sorted(self.by_id, key=int)
        since_m = re.search(r'updated\s*>=\s*"([^"]+)"', jql)
        ids_m = re.search(r"\bid\s+in\s*\(([^)]*)\)", jql, re.IGNORECASE)
        if not since_m and not ids_m:
            return ids
        since = None
        if since_m:  # JQL dates are in the API user's zone, to the minute
            local = datetime.strptime(since_m.group(1).replace("/", "-"), "%Y-%m-%d %H:%M")
            # A wall time in the hour a clock turns back names two instants: take the later (the one that skips).
            since = local.replace(tzinfo=ZoneInfo(self.user_tz), fold=1)
        wanted = [x.strip() for x in ids_m.group(1).split(",")] if ids_m else []
        unknown = [i for i in wanted if i not in self.by_id]  # deleted, or hidden from this account
        if unknown:
            return {"errorMessages": [f"A value with ID '{i}' does not exist for the field 'id'." for i in unknown],
                    "warningMessages": []}
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
        if token:  # the token holds the query's result, as Jira's does
            if token not in self._cursors:
                return 400, {"errorMessages": ["The provided next page token is invalid."]}
            entries, offset = self._cursors[token]
        else:
            entries, offset = self._changelog_entries(wanted, field_ids), 0
        size = min(int(body.get("maxResults") or self.changelog_cap), self.changelog_cap)
        logs: list[dict[str, Any]] = []
        for _, iid, h in entries[offset : offset + size]:
            if not logs or logs[-1]["issueId"] != str(iid):
                logs.append({"issueId": str(iid), "changeHistories": []})
            logs[-1]["changeHistories"].append(h)
        out: dict[str, Any] = {"issueChangeLogs": logs}
        if offset + size < len(entries):
            out["nextPageToken"] = self._token((entries, offset + size))
        return 200, out

    def _changelog_entries(self, wanted: list[str], field_ids: list[str] | None) -> list[tuple[datetime, int, dict]]:
        """(created, issue id, history) of the issues' histories with the fields asked for, in the bulk order."""
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
        return entries

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
        page, last = found[:FEED_PAGE], len(found) <= FEED_PAGE
        until = page[-1][0] if page else cutoff
        out = {"values": [{"worklogId": w, "updatedTime": t, "properties": []} for t, w in page], "since": since,
               "until": until, "self": f"{self.base_url}{API}{path}?since={since}", "lastPage": last}
        if not last:
            out["nextPage"] = f"{self.base_url}{API}{path}?since={until}"
        return 200, out

    # ---- writes (intake write-back) ----
    def _issue_ref(self, ref: str) -> dict[str, Any] | None:
        key = ref if ref in self.issues else self.by_id.get(ref)
        return self.issues[key] if key else None

    def _edit_issue(self, q, body, m):
        """PUT /issue/{key}: only `update.labels` add/remove operations (what syncer sends); 204 No Content."""
        rec = self._issue_ref(m.group(1))
        if rec is None:
            return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}
        labels = rec["fields"]["labels"]
        for op in (body.get("update") or {}).get("labels") or []:
            for verb, label in op.items():
                if verb not in ("add", "remove", "set") or " " in str(label):
                    return 400, {"errorMessages": [], "errors": {"labels": f"bad label operation {op}"}}
                if verb == "add" and label not in labels:
                    labels.append(label)
                elif verb == "remove" and label in labels:
                    labels.remove(label)
        rec["updated"] = max(rec["updated"], self.now)
        return 204, None

    def _add_comment(self, q, body, m):
        """POST /issue/{key}/comment with an ADF `body`; 201 and the comment."""
        rec = self._issue_ref(m.group(1))
        if rec is None:
            return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}
        doc = body.get("body")
        if not isinstance(doc, dict) or doc.get("type") != "doc" or doc.get("version") != 1:
            return 400, {"errorMessages": [], "errors": {"comment": "Comment body is not valid ADF."}}
        comments = rec.setdefault("comments", [])
        cid = str(20000 + sum(len(r.get("comments", ())) for r in self.issues.values()))
        comment = {"self": f"{self.base_url}{API}/issue/{rec['id']}/comment/{cid}", "id": cid,
                   "author": user_json(self.email), "body": doc, "created": jira_ts(self.now),
                   "updated": jira_ts(self.now), "jsdPublic": True}
        comments.append(comment)
        rec["updated"] = max(rec["updated"], self.now)
        return 201, comment

    def _comments(self, q, body, m):
        """GET /issue/{key}/comment, paged by startAt/maxResults."""
        rec = self._issue_ref(m.group(1))
        if rec is None:
            return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."]}
        comments = rec.get("comments", [])
        start, size = int(_first(q, "startAt") or 0), min(int(_first(q, "maxResults") or 100), 100)
        return 200, {"startAt": start, "maxResults": size, "total": len(comments),
                     "comments": comments[start : start + size]}

    def _project_search(self, q, body, m):
        """GET /project/search: a PageBeanProject of the projects this account may browse, ordered by key."""
        start, size = int(_first(q, "startAt") or 0), min(int(_first(q, "maxResults") or 50), 100)
        rows = sorted(self.projects, key=lambda p: p[1])
        page = [{"expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
                 "self": f"{self.base_url}{API}/project/{pid}", "id": pid, "key": key, "name": name,
                 "projectTypeKey": "software", "simplified": False, "style": "classic", "isPrivate": False,
                 "properties": {}} for pid, key, name in rows[start : start + size]]
        last = start + size >= len(rows)
        out = {"self": f"{self.base_url}{API}/project/search?startAt={start}&maxResults={size}",
               "maxResults": size, "startAt": start, "total": len(rows), "isLast": last, "values": page}
        if not last:
            out["nextPage"] = f"{self.base_url}{API}/project/search?startAt={start + size}&maxResults={size}"
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

