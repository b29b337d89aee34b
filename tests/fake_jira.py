"""A stateful fake Jira Cloud (REST v3) for `responses`: issues, changelogs and worklogs, paged like the real API.

This module holds the site (what tests change between runs); `fake_jira_api` answers its REST calls.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

from fake_jira_api import (
    API,
    CHANGELOG_CAP,
    CHANGELOG_ISSUES,
    CUSTOM_FIELDS,
    EMBEDDED_WORKLOGS,
    STATUSES,
    JiraApi,
    jira_ts,
    ms,
    status_json,
    user_json,
)

BASE_URL = "https://acme-fake.atlassian.net"
EMAIL = "ops@acme.com"
TOKEN = "fake-jira-api-token-5ecret"
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
LOOKUPS = ("serverInfo", "field", "status", "myself")
WORKFLOW = ("Request", "To Do", "In Progress", "Ready for review", "Done")
# The source config the tests and the bench use: custom fields by name, one status mapped explicitly.
FIELDS = {"campaign": "Campaign", "planned_cost": "Planned cost", "committed_amount": "PO amount",
          "invoiced_amount": "Invoice amount"}
STAGES = {"Request": "intake"}
PEOPLE = ("ana@acme.com", "ben@acme.com", "chloe@acme.com")
CAMPAIGNS = ("Spring Launch", "Webinar Series", "Brand Refresh")


def source_config(fake: FakeJira, **overrides: Any) -> dict[str, Any]:
    """A `sources:` entry for this site (literal credentials; tests may pass ${VAR} instead)."""
    return {"name": "web", "kind": "jira", "url": fake.base_url, "email": EMAIL, "token": TOKEN,
            "jql": "project = MKT", "fields": dict(FIELDS), "stages": dict(STAGES), **overrides}


class FakeJira(JiraApi):
    """One Jira Cloud site in memory. Mutate it with the helpers; `calls` counts requests by endpoint kind.

    Worklog changes do not move the issue's `updated` (as for worklogs written by apps), so only the
    /worklog/updated and /worklog/deleted feeds reveal them; they omit the minute before `now`, like Jira.
    """

    def __init__(self, base_url: str = BASE_URL, email: str = EMAIL, token: str = TOKEN, now: datetime = NOW,
                 user_tz: str = "America/Los_Angeles", latency_s: float = 0.0):
        super().__init__(base_url, email, token, user_tz, latency_s)
        self.now = now
        self.issues: dict[str, dict[str, Any]] = {}  # key -> {id, key, fields, updated, histories, worklogs}
        self.by_id: dict[str, str] = {}
        self.worklog_times: dict[str, int] = {}  # worklog id -> updated (ms)
        self.deleted_worklogs: list[tuple[str, int]] = []
        self._seq = {"issue": 0, "worklog": 100000, "history": 500000}

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
            "status": status_json(status, self.base_url), "assignee": user_json(assignee),
            "reporter": user_json(PEOPLE[2]),
            "created": jira_ts(created), "duedate": due, "timeoriginalestimate": estimate_s,
            "description": {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": f"Brief for {summary}."}]}]},
            "labels": [], "parent": None, "project": {"id": "10000", "key": "MKT", "name": "Marketing"},
            "issuelinks": [],
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
        rec["fields"]["status"] = status_json(status, self.base_url)

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

    def flag(self, key: str, on: bool = True, at: datetime | None = None) -> None:
        """Flag an issue as an impediment (or clear the flag), with the changelog entry Jira writes."""
        rec, at = self.issues[key], at or self.now
        fid = CUSTOM_FIELDS["Flagged"][0]
        rec["fields"][fid] = [{"self": f"{self.base_url}{API}/customFieldOption/10019", "value": "Impediment",
                               "id": "10019"}] if on else None
        self._history(rec, at, {"field": "Flagged", "fieldtype": "custom", "fieldId": fid, "from": None,
                                "fromString": None if on else "Impediment", "to": None,
                                "toString": "Impediment" if on else None})

    def link_blocks(self, blocker: str, blocked: str) -> None:
        """`blocker` blocks `blocked`: both issues carry the link, each from its own side (as Jira returns it)."""
        kind = {"id": "10000", "name": "Blocks", "inward": "is blocked by", "outward": "blocks",
                "self": f"{self.base_url}{API}/issueLinkType/10000"}
        for here, side, other in ((blocked, "inwardIssue", blocker), (blocker, "outwardIssue", blocked)):
            links = self.issues[here]["fields"].setdefault("issuelinks", [])
            links.append({"id": str(self._next("history")), "type": kind,
                          side: {"id": self.issues[other]["id"], "key": other}})
            self.issues[here]["updated"] = self.now

    def touch(self, key: str, summary: str, at: datetime | None = None) -> None:
        """Edit the summary (moves `updated`; the summary is not in the changelog filter)."""
        rec = self.issues[key]
        rec["fields"]["summary"] = summary
        rec["updated"] = at or self.now

    def _history(self, rec: dict[str, Any], at: datetime, item: dict[str, Any]) -> None:
        entry = {"id": str(self._next("history")), "author": user_json(PEOPLE[0]), "items": [item]}
        rec["histories"].append((at, entry))
        rec["updated"] = max(rec["updated"], at)

    def add_worklog(self, key: str, seconds: int, started: datetime, author: str = "ana@acme.com",
                    at: datetime | None = None) -> str:
        """Log work (possibly back-dated: `started` long before `at`). Returns the worklog id."""
        rec, at = self.issues[key], at or self.now
        wid, who = str(self._next("worklog")), user_json(author)
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

    # ---- expectations ----
    def changelog_pages(self, field_ids: tuple[str, ...] = ("status", "customfield_10050", "customfield_10052"),
                        batch: int = CHANGELOG_ISSUES, page: int = CHANGELOG_CAP) -> int:
        """The fewest bulk changelog requests that fetch every issue's history in batches (ascending ids)."""
        return sum(self.changelog_batches(field_ids, batch, page))

    def changelog_batches(self, field_ids: tuple[str, ...] = ("status", "customfield_10050", "customfield_10052"),
                          batch: int = CHANGELOG_ISSUES, page: int = CHANGELOG_CAP) -> list[int]:
        """Bulk changelog requests per batch of `batch` issues (ascending ids): each batch's pages form a chain."""
        counts = [sum(1 for _, h in self.issues[self.by_id[i]]["histories"]
                      if any(it["fieldId"] in field_ids for it in h["items"]))
                  for i in sorted(self.by_id, key=int)]
        return [max(1, -(-sum(counts[b : b + batch]) // page)) for b in range(0, len(counts), batch)]

    def busy_positions(self) -> list[int]:
        """Positions (ascending ids) of the issues with more worklogs than a search result embeds."""
        ids = sorted(self.by_id, key=int)
        return [n for n, i in enumerate(ids) if len(self.issues[self.by_id[i]]["worklogs"]) > EMBEDDED_WORKLOGS]
