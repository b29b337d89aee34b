"""Render demo task plans as Jira Cloud REST v3 bodies (fields, statuses, search, changelogs, worklogs)."""

from __future__ import annotations

from random import Random
from typing import Any

from demo.scenario import (
    JIRA_TIMES,
    JIRA_UTC_TIMES,
    REQUESTERS,
    TEAM,
    Person,
    Plan,
    jira_time,
    jira_utc,
    local_date,
)
from syncer.sources import Page

BASE_URL = "https://acme-marketing.atlassian.net"
JQL = "project = MKT"
PAGE_SIZE = 100
CHANGELOG_PAGE = 250  # change histories per bulk-changelog page
CHANGELOG_ISSUES = 1000  # the endpoint takes at most 1000 issues per request
EMBEDDED_WORKLOGS = 20

_CF = "com.atlassian.jira.plugin.system.customfieldtypes:"
# (id, name, schema type, custom type); ids of the fields the demo config maps by name.
CUSTOM_FIELDS = (
    ("customfield_10042", "Campaign", "option", "select"),
    ("customfield_10043", "Activity", "option", "select"),
    ("customfield_10044", "G/L account", "string", "textfield"),
    ("customfield_10045", "Work category", "option", "select"),
    ("customfield_10046", "Planned cost", "number", "float"),
    ("customfield_10050", "PO amount", "string", "textfield"),
    ("customfield_10051", "PO date", "date", "datepicker"),
    ("customfield_10052", "Invoice amount", "number", "float"),
    ("customfield_10053", "Invoice date", "date", "datepicker"),
    ("customfield_10015", "Start date", "date", "datepicker"),
    ("customfield_10016", "Story point estimate", "number", "float"),
    ("customfield_10021", "Flagged", "array", "multicheckboxes"),
)
SYSTEM_FIELDS = (
    ("summary", "Summary", {"type": "string", "system": "summary"}),
    ("issuetype", "Issue Type", {"type": "issuetype", "system": "issuetype"}),
    ("status", "Status", {"type": "status", "system": "status"}),
    ("assignee", "Assignee", {"type": "user", "system": "assignee"}),
    ("reporter", "Reporter", {"type": "user", "system": "reporter"}),
    ("created", "Created", {"type": "datetime", "system": "created"}),
    ("updated", "Updated", {"type": "datetime", "system": "updated"}),
    ("duedate", "Due date", {"type": "date", "system": "duedate"}),
    ("timeoriginalestimate", "Original estimate", {"type": "number", "system": "timeoriginalestimate"}),
    ("description", "Description", {"type": "string", "system": "description"}),
    ("labels", "Labels", {"type": "array", "items": "string", "system": "labels"}),
    ("parent", "Parent", None),
    ("worklog", "Log Work", {"type": "array", "items": "worklog", "system": "worklog"}),
    ("project", "Project", {"type": "project", "system": "project"}),
    ("resolution", "Resolution", {"type": "resolution", "system": "resolution"}),
    ("resolutiondate", "Resolved", {"type": "datetime", "system": "resolutiondate"}),
    ("issuelinks", "Linked Issues", {"type": "array", "items": "issuelinks", "system": "issuelinks"}),
)
# name -> (id, category key); "Ready for QA" is the one status the demo config leaves unmapped.
STATUSES = {
    "Request": ("10100", "new"), "To Do": ("10000", "new"), "In Progress": ("3", "indeterminate"),
    "In Review": ("10101", "indeterminate"), "Waiting for approval": ("10102", "indeterminate"),
    "Blocked": ("10103", "indeterminate"), "Done": ("10001", "done"), "Cancelled": ("10104", "done"),
    "Ready for QA": ("10105", "indeterminate"),
}
_CATEGORIES = {"new": (2, "blue-gray", "To Do"), "indeterminate": (4, "yellow", "In Progress"),
               "done": (3, "green", "Done")}
_LEVELS = {"Epic": 1, "Sub-task": -1}
_ISSUE_TYPES = {"Epic": "10000", "Task": "10001", "Story": "10002", "Sub-task": "10003"}
_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
FIELD_IDS = {name: fid for fid, name, _, _ in CUSTOM_FIELDS}
CHANGELOG_FIELDS = ["status", FIELD_IDS["PO amount"], FIELD_IDS["Invoice amount"], FIELD_IDS["Flagged"]]
BLOCKS = {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks"}


def fields_body(base: str = BASE_URL) -> list[dict[str, Any]]:
    """The body of `GET /rest/api/3/field`."""
    out: list[dict[str, Any]] = []
    for fid, name, schema in SYSTEM_FIELDS:
        f: dict[str, Any] = {"id": fid, "key": fid, "name": name, "custom": False, "orderable": True,
                             "navigable": True, "searchable": True, "clauseNames": [fid]}
        if schema:
            f["schema"] = schema
        out.append(f)
    for fid, name, kind, custom in CUSTOM_FIELDS:
        num = int(fid.rsplit("_", 1)[1])
        out.append({"id": fid, "key": fid, "name": name, "untranslatedName": name, "custom": True,
                    "orderable": True, "navigable": True, "searchable": True,
                    "clauseNames": [f"cf[{num}]", name],
                    "schema": {"type": kind, "custom": _CF + custom, "customId": num}})
    return out


def _status(name: str, base: str) -> dict[str, Any]:
    sid, cat = STATUSES[name]
    cid, colour, cname = _CATEGORIES[cat]
    return {"self": f"{base}/rest/api/3/status/{sid}", "description": "",
            "iconUrl": f"{base}/images/icons/statuses/generic.png", "name": name, "untranslatedName": name,
            "id": sid, "statusCategory": {"self": f"{base}/rest/api/3/statuscategory/{cid}", "id": cid,
                                          "key": cat, "colorName": colour, "name": cname}}


def statuses_body(base: str = BASE_URL) -> list[dict[str, Any]]:
    """The body of `GET /rest/api/3/status`."""
    return [_status(name, base) for name in STATUSES]


def _users(base: str) -> dict[str, dict[str, Any]]:
    return {p.email: {"self": f"{base}/rest/api/3/user?accountId={p.account_id}", "accountId": p.account_id,
                      "emailAddress": p.email, "displayName": p.name, "active": True,
                      "timeZone": "Europe/Berlin", "accountType": "atlassian"} for p in TEAM + REQUESTERS}


def adf(text: str | None) -> dict[str, Any] | None:
    """Plain text -> an Atlassian Document Format doc (`- ` lines become a bullet list)."""
    if text is None:
        return None
    content: list[dict[str, Any]] = []
    for line in text.split("\n"):
        para = {"type": "paragraph", "content": [{"type": "text", "text": line.removeprefix("- ")}]}
        if line.startswith("- "):
            if not content or content[-1]["type"] != "bulletList":
                content.append({"type": "bulletList", "content": []})
            content[-1]["content"].append({"type": "listItem", "content": [para]})
        else:
            content.append(para)
    return {"type": "doc", "version": 1, "content": content}


_SPENT: dict[int, str] = {}


def _hours(seconds: int) -> str:
    """Jira's `timeSpent` text: 5400 -> `1h 30m`."""
    s = _SPENT.get(seconds)
    if s is None:
        h, m = divmod(seconds // 60, 60)
        s = _SPENT[seconds] = " ".join(part for part in (f"{h}h" if h else "", f"{m}m" if m else "") if part)
    return s


class _Renderer:
    def __init__(self, plans: list[Plan], rng: Random, base: str):
        self.plans, self.rng, self.base = plans, rng, base
        self.users = _users(base)
        # Identical sub-objects are shared between issues: the JSON is the same and large runs stay fast.
        self.statuses = {name: _status(name, base) for name in STATUSES}
        self.types = {kind: {"self": f"{base}/rest/api/3/issuetype/{tid}", "id": tid, "name": kind,
                             "subtask": kind == "Sub-task", "hierarchyLevel": _LEVELS.get(kind, 0)}
                      for kind, tid in _ISSUE_TYPES.items()}
        self.project = {"self": f"{base}/rest/api/3/project/10000", "id": "10000", "key": "MKT",
                        "name": "Marketing"}
        self.options = {}  # (field, value) -> option object
        self.worklog_id = 10000
        self.history_id = 20000
        self.blocks: dict[int, list[int]] = {}  # plan index -> the plans it blocks (their outward links)
        for i, p in enumerate(plans):
            for j in p.blocked_by:
                self.blocks.setdefault(j, []).append(i)
        self.impediment = {"self": f"{base}/rest/api/3/customFieldOption/10019", "value": "Impediment", "id": "10019"}

    def user(self, p: Person | None) -> dict[str, Any] | None:
        return None if p is None else self.users[p.email]

    def option(self, fid: str, value: str | None) -> dict[str, Any] | None:
        if value is None:
            return None
        key = (fid, value)
        if key not in self.options:
            oid = str(10100 + len(self.options))
            self.options[key] = {"self": f"{self.base}/rest/api/3/customFieldOption/{oid}", "value": value,
                                 "id": oid}
        return self.options[key]

    def worklogs(self, p: Plan) -> list[dict[str, Any]]:
        # The hot loop of large benchmark runs: keep it to local lookups.
        issue_id, out, users, wid = str(10000 + p.n), [], self.users, self.worklog_id
        prefix = f"{self.base}/rest/api/3/issue/{issue_id}/worklog/"
        local, utc, spent = JIRA_TIMES.get, JIRA_UTC_TIMES.get, _SPENT.get  # memo lookups, inlined
        for who, started, seconds in p.worklogs:
            wid += 1
            u, ended = users[who.email], started + seconds
            stamp = (utc(ended) or jira_utc(ended)) if wid % 3 else (local(ended) or jira_time(ended))
            out.append({"self": prefix + str(wid), "author": u, "updateAuthor": u, "created": stamp,
                        "updated": stamp, "started": local(started) or jira_time(started),
                        "timeSpent": spent(seconds) or _hours(seconds), "timeSpentSeconds": seconds,
                        "id": str(wid), "issueId": issue_id})
        self.worklog_id = wid
        return out

    def issue(self, p: Plan, worklogs: list[dict[str, Any]]) -> dict[str, Any]:
        iid, base = str(10000 + p.n), self.base
        done = p.status in ("Done", "Cancelled")
        f: dict[str, Any] = {
            "summary": p.title,
            "issuetype": self.types[p.kind],
            "project": self.project,
            "status": self.statuses[p.status],
            "assignee": self.user(p.owner),
            "reporter": self.user(p.reporter),
            "created": jira_time(p.created),
            "updated": jira_time(p.last_event()),
            "duedate": p.due,
            "timeoriginalestimate": None if p.estimate_h is None else int(p.estimate_h * 3600),
            "description": adf(p.brief),
            "labels": p.labels,
            "resolution": ({"id": "10000", "name": "Done"} if p.status == "Done" else
                           {"id": "10001", "name": "Won't Do"}) if done else None,
            "resolutiondate": jira_time(p.path[-1][0]) if done else None,
            "worklog": {"startAt": 0, "maxResults": EMBEDDED_WORKLOGS, "total": len(worklogs),
                        "worklogs": worklogs[:EMBEDDED_WORKLOGS]},
            "customfield_10042": self.option("customfield_10042", p.campaign),
            "customfield_10043": self.option("customfield_10043", p.activity),
            "customfield_10044": p.gl,
            "customfield_10045": self.option("customfield_10045", p.category),
            "customfield_10046": p.planned,
            "customfield_10050": p.po_text,
            "customfield_10051": p.po_date,
            "customfield_10052": p.invoiced,
            "customfield_10053": p.invoice_date,
            "customfield_10015": local_date(p.path[1][0]) if len(p.path) > 1 else None,
            "customfield_10016": None,
            "customfield_10021": [self.impediment] if p.flags and p.flags[-1][1] is None else None,
            "issuelinks": self.links(p),
        }
        if p.parent is not None:
            q = self.plans[p.parent]
            f["parent"] = {"id": str(10000 + q.n), "key": f"MKT-{q.n}",
                           "self": f"{base}/rest/api/3/issue/{10000 + q.n}",
                           "fields": {"summary": q.title, "status": self.statuses[q.status],
                                      "issuetype": {"id": _ISSUE_TYPES[q.kind], "name": q.kind}}}
        return {"expand": _EXPAND, "id": iid, "self": f"{base}/rest/api/3/issue/{iid}", "key": f"MKT-{p.n}",
                "fields": f}

    def links(self, p: Plan) -> list[dict[str, Any]]:
        """Both sides of every Blocks link: `inwardIssue` for the issues blocking this one, `outwardIssue` for those
        it blocks (as GET /issue returns them: https://developer.atlassian.com/cloud/jira/platform/issue-linking-model/)."""
        out = []
        for side, others in (("inwardIssue", p.blocked_by), ("outwardIssue", self.blocks.get(p.n - 1, []))):
            for j in others:
                q = self.plans[j]
                a, b = sorted((p.n, q.n))
                out.append({"id": str(30000 + a * 1000 + b), "self": f"{self.base}/rest/api/3/issueLink/{a}{b}",
                            "type": {**BLOCKS, "self": f"{self.base}/rest/api/3/issueLinkType/10000"},
                            side: {"id": str(10000 + q.n), "key": f"MKT-{q.n}",
                                   "fields": {"summary": q.title, "status": self.statuses[q.status]}}})
        return out

    def histories(self, p: Plan) -> list[dict[str, Any]]:
        who = p.owner or p.reporter
        events: list[tuple[int, Person, dict[str, Any]]] = []
        for (_, before), (at, after) in zip(p.path, p.path[1:], strict=False):
            events.append((at, who, _status_item(before, after)))
        po_id, inv_id = FIELD_IDS["PO amount"], FIELD_IDS["Invoice amount"]
        prior = None
        if p.po_first:
            prior = p.po_first[1]
            events.append((p.po_first[0], p.reporter, _item("PO amount", po_id, None, prior)))
        if p.po_at is not None and p.po_text is not None:
            events.append((p.po_at, p.reporter, _item("PO amount", po_id, prior, p.po_text)))
        prior = None
        if p.invoice_first:
            prior = _num(p.invoice_first[1])
            events.append((p.invoice_first[0], p.reporter, _item("Invoice amount", inv_id, None, prior)))
        if p.invoice_at is not None and p.invoiced is not None:
            events.append((p.invoice_at, p.reporter, _item("Invoice amount", inv_id, prior, _num(p.invoiced))))
        flag_id = FIELD_IDS["Flagged"]
        for on, off in p.flags:
            events.append((on, who, _item("Flagged", flag_id, None, "Impediment")))
            if off is not None:
                events.append((off, who, _item("Flagged", flag_id, "Impediment", None)))
        events.sort(key=lambda e: e[0])
        out = []
        for at, person, item in events:
            self.history_id += 1
            created: int | str = at * 1000 if p.n % 2 else jira_utc(at)  # the API returns both forms
            out.append({"id": str(self.history_id), "author": self.user(person), "created": created,
                        "items": [item]})
        return out


_STATUS_ITEMS: dict[tuple[str, str], dict[str, Any]] = {}


def _status_item(before: str, after: str) -> dict[str, Any]:
    """A status change item (shared between histories: the same move always reads the same)."""
    item = _STATUS_ITEMS.get((before, after))
    if item is None:
        item = _STATUS_ITEMS[before, after] = {
            "field": "status", "fieldtype": "jira", "fieldId": "status", "from": STATUSES[before][0],
            "fromString": before, "to": STATUSES[after][0], "toString": after}
    return item


def _item(name: str, fid: str, before: str | None, after: str | None) -> dict[str, Any]:
    return {"field": name, "fieldtype": "custom", "fieldId": fid, "from": None, "fromString": before,
            "to": None, "toString": after}


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _token(rng: Random) -> str:
    return "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", k=32))


def render_jira(plans: list[Plan], rng: Random, base: str = BASE_URL) -> list[Page]:
    """All raw pages a full Jira fetch of these plans would save, in fetch order."""
    r = _Renderer(plans, rng, base)
    pages = [Page("GET /rest/api/3/field", {}, fields_body(base)),
             Page("GET /rest/api/3/status", {}, statuses_body(base))]
    field_list = ",".join([fid for fid, _, _ in SYSTEM_FIELDS] + [fid for fid, *_ in CUSTOM_FIELDS])
    worklogs = [r.worklogs(p) for p in plans]
    issues = [r.issue(p, w) for p, w in zip(plans, worklogs, strict=True)]
    token = None
    for start in range(0, len(issues), PAGE_SIZE):
        params: dict[str, Any] = {"jql": JQL, "maxResults": PAGE_SIZE, "fields": field_list}
        if token:
            params["nextPageToken"] = token
        body: dict[str, Any] = {"issues": issues[start:start + PAGE_SIZE]}
        token = _token(rng) if start + PAGE_SIZE < len(issues) else None
        body.update({"nextPageToken": token, "isLast": False} if token else {"isLast": True})
        pages.append(Page("GET /rest/api/3/search/jql", params, body))
    for start in range(0, len(plans), CHANGELOG_ISSUES):
        batch = plans[start:start + CHANGELOG_ISSUES]
        request = {"issueIdsOrKeys": [str(10000 + p.n) for p in batch], "fieldIds": CHANGELOG_FIELDS,
                   "maxResults": CHANGELOG_PAGE}
        logs, size, token = [], 0, None
        for i, p in enumerate(batch):
            logs.append({"issueId": str(10000 + p.n), "changeHistories": r.histories(p)})
            size += len(logs[-1]["changeHistories"])
            last = i == len(batch) - 1
            if last or size + len(batch[i + 1].path) + 2 > CHANGELOG_PAGE:
                params = dict(request, nextPageToken=token) if token else request
                token = None if last else _token(rng)
                pages.append(Page("POST /rest/api/3/changelog/bulkfetch", params,
                                  {"issueChangeLogs": logs, "nextPageToken": token} if token
                                  else {"issueChangeLogs": logs}))
                logs, size = [], 0
    for p, w in zip(plans, worklogs, strict=True):
        if len(w) > EMBEDDED_WORKLOGS:
            body = {"startAt": 0, "maxResults": 5000, "total": len(w), "worklogs": w}
            pages.append(Page(f"GET /rest/api/3/issue/MKT-{p.n}/worklog", {"startAt": 0, "maxResults": 5000},
                              body))
    return pages
