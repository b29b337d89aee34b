"""Jira Cloud raw pages -> canonical tasks: the pure mapping shared by the live and the replay source."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from syncer.domain.stages import jira_stage
from syncer.errors import ConfigError
from syncer.model import Problem, Stage, StageChange, Task, Worklog
from syncer.sources import MapContext, Page
from syncer.sources.fields import MappingError, apply_fields, hours, parse_ts
from syncer.sources.jira.settings import (
    BULK_CHANGELOG_PATH,
    FIELD_PATH,
    SEARCH_PATH,
    STATUS_PATH,
)

# Canonical fields that map to a Jira system field unless the config says otherwise.
DEFAULT_FIELDS = {
    "owner": "assignee",
    "requester": "reporter",
    "due_date": "duedate",
    "estimate_hours": "timeoriginalestimate",
    "brief": "description",
}
# Always requested from search, whatever the mapping.
@dataclass(slots=True)
class JiraContext:
    """Everything `to_task` needs besides the issue: resolved field ids, statuses and the stage map."""

    source: str
    base_url: str
    field_ids: dict[str, str]  # canonical -> Jira field id
    statuses: dict[str, tuple[str, str]] = field(default_factory=dict)  # status id -> (name, category key)
    stages: Mapping[str, Stage] = field(default_factory=dict)
    tz: tzinfo | None = None
    currency: str | None = None  # amounts in another currency are refused, not booked as this one
    _by_name: dict[str, str] = field(default_factory=dict, repr=False)
    _cache: dict[tuple[str, str | None], tuple[Stage, bool]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_name = {n: c for n, c in self.statuses.values()}

    def stage(self, name: str, category: str | None = None) -> tuple[Stage, bool]:
        """The stage of a status (by name, then category); the bool says a SPEC §4 default decided it."""
        if category is None:
            category = self._by_name.get(name)
        key = (name, category)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = jira_stage(name, category, self.stages)
        return found

    def status_of(self, item: Mapping[str, Any], side: str) -> tuple[str, str | None]:
        """(name at the time, current category) of one side of a changelog status item.

        The name is the one the item recorded (statuses get renamed); the category comes from the status id,
        so a renamed status keeps its category."""
        sid = str(item.get(side))
        known = self.statuses.get(sid)
        name = item.get(f"{side}String") or (known[0] if known else sid)
        return name, known[1] if known else None


def resolve_fields(configured: Mapping[str, str], jira_fields: list[dict], where: str) -> dict[str, str]:
    """Canonical -> field id, by id or by exact name; an unknown or ambiguous name is a ConfigError."""
    by_id = {f["id"]: f for f in jira_fields if "id" in f}
    by_name: dict[str, list[dict]] = {}
    for f in jira_fields:
        by_name.setdefault(str(f.get("name", "")), []).append(f)
    wanted = {**DEFAULT_FIELDS, **configured}
    out: dict[str, str] = {}
    problems = []
    for canonical, ref in wanted.items():
        if ref in by_id:
            out[canonical] = ref
        elif len(by_name.get(ref, [])) == 1:
            out[canonical] = by_name[ref][0]["id"]
        elif ref in by_name:
            ids = ", ".join(f"{f['id']} ({f.get('name')})" for f in by_name[ref])
            problems.append(f"{where}.fields.{canonical}: {ref!r} matches several Jira fields: {ids}; use the id")
        elif canonical in configured:
            near = difflib.get_close_matches(ref, list(by_name), n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
            problems.append(f"{where}.fields.{canonical}: no Jira field named {ref!r}{hint}")
    if problems:
        raise ConfigError(problems)
    return out


def adf_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format tree (Jira v3 rich text)."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_text(n) for n in node)
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return node.get("text", "")
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status", "date"):
        attrs = node.get("attrs") or {}
        return str(attrs.get("text") or attrs.get("shortName") or "")
    inner = adf_text(node.get("content", []))
    block = kind in ("paragraph", "heading", "listItem", "codeBlock", "blockquote", "rule")
    return inner + "\n" if block else inner


def field_value(value: Any) -> Any:
    """A Jira field value reduced to a scalar: options to their value, users to email or name, ADF to text."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, list):
        parts = [field_value(v) for v in value]
        return ", ".join(str(p) for p in parts if p not in (None, "")) or None
    if isinstance(value, dict):
        if value.get("type") == "doc":
            return adf_text(value).strip() or None
        for key in ("value", "emailAddress", "displayName", "name", "key"):
            if value.get(key) not in (None, ""):
                return value[key]
    return None


def _status_events(histories: Iterable[dict], ctx: JiraContext) -> Iterator[tuple]:
    for h in histories:
        at = parse_ts(h.get("created"))
        for item in h.get("items") or []:
            if item.get("fieldId", item.get("field")) == "status":
                yield at, ctx.status_of(item, "from"), ctx.status_of(item, "to")


def _first_seen(histories: Iterable[dict], field_id: str) -> Any:
    """When a field first got a value (the 'when the amount first appeared' of SPEC §8); None when it already
    had one at creation (the first change has a `from` value), so the date falls back to creation."""
    changes = sorted(
        (parse_ts(h.get("created")), item.get("fromString"), item.get("toString"))
        for h in histories for item in h.get("items") or [] if item.get("fieldId", item.get("field")) == field_id
    )
    if not changes or changes[0][1] not in (None, ""):
        return None
    return next((at for at, _, to in changes if to not in (None, "")), None)


def status_entry(s: Mapping[str, Any]) -> tuple[str, str]:
    """A status as `(name, category key)`, from a /status entry or an issue's `status` field ('' where missing)."""
    return s.get("name", ""), (s.get("statusCategory") or {}).get("key", "")


def to_task(raw: Mapping[str, Any], ctx: JiraContext) -> Task:
    """Map one issue bundle `{issue, changelog, worklogs}` to a Task. Pure; raises MappingError if unusable."""
    issue = raw["issue"]
    key = issue.get("key")
    f = issue.get("fields")
    if not key or not isinstance(f, dict):
        raise MappingError(f"issue {issue.get('id', '?')} has no key or fields")
    status = f.get("status") or {}
    status_name = status.get("name") or ctx.statuses.get(str(status.get("id")), ("?", ""))[0]
    category = (status.get("statusCategory") or {}).get("key")
    defaulted: dict[str, Stage] = {}

    def stage_of(status: tuple[str, str | None]) -> Stage:
        st, was_default = ctx.stage(*status)
        if was_default:
            defaulted[status[0]] = st
        return st

    stage = stage_of((status_name, category))

    histories = raw.get("changelog") or []
    history = [
        StageChange(at, stage_of(a), stage_of(b), a[0], b[0])
        for at, a, b in sorted(_status_events(histories, ctx), key=lambda e: e[0])
    ]
    created_at = parse_ts(f.get("created"))
    _complete_by_resolution(history, stage, status_name, f.get("resolutiondate"), created_at)
    problems: list = []
    typed = apply_fields(_field_values(f, ctx), problems, ctx.tz, ctx.currency)
    worklogs = _map_worklogs(_worklogs(raw, f), problems)
    first_seen = {}
    for amount in ("committed_amount", "invoiced_amount"):
        fid = ctx.field_ids.get(amount)
        when = _first_seen(histories, fid) if fid else None
        if when is not None:
            first_seen[amount] = when
    issuetype = (f.get("issuetype") or {}).get("name") or ""
    return Task(
        source=ctx.source,
        key=key,
        url=f"{ctx.base_url.rstrip('/')}/browse/{key}",
        title=str(f.get("summary") or ""),
        type=issuetype,
        status=status_name,
        stage=stage,
        created_stage=history[0].from_stage if history else stage,
        created_at=created_at,
        category=typed.pop("category", None) or issuetype or None,
        labels=tuple(f.get("labels") or ()),
        parent=(f.get("parent") or {}).get("key"),
        history=history,
        worklogs=worklogs,
        amount_first_seen=first_seen,
        problems=problems,
        defaulted_statuses=sorted(defaulted.items()),
        **typed,
    )


def _complete_by_resolution(history: list[StageChange], stage: Stage, status: str, resolved: Any,
                            created_at: datetime) -> None:
    """Done, but no entry into done in the history (changelog unavailable or filtered): Jira's resolution date
    says when it was completed, rather than completing it at creation with a lead time of zero."""
    if stage is not Stage.DONE or not resolved or any(
        c.to_stage is Stage.DONE and c.from_stage is not Stage.DONE for c in history
    ):
        return
    before = (history[-1].to_stage, history[-1].to_status) if history else (Stage.BACKLOG, "")
    at = max(parse_ts(resolved), history[-1].at if history else created_at)
    history.append(StageChange(at, before[0], Stage.DONE, before[1], status))


def _field_values(f: Mapping[str, Any], ctx: JiraContext) -> dict[str, Any]:
    """The raw value of every mapped field; Jira's own estimate comes in seconds."""
    values = {c: field_value(f.get(fid)) for c, fid in ctx.field_ids.items() if c != "estimate_hours"}
    est_id = ctx.field_ids.get("estimate_hours")
    est = f.get(est_id) if est_id else None
    if est_id == "timeoriginalestimate" and est is not None:
        est = hours(est) if isinstance(est, int | float) else est
    values["estimate_hours"] = field_value(est)
    return values


def _map_worklogs(raw: list[dict], problems: list[Problem]) -> list[Worklog]:
    worklogs = []
    for w in raw:
        try:
            worklogs.append(to_worklog(w))
        except (MappingError, ValueError, TypeError, AttributeError) as e:  # one bad worklog must not drop the task
            problems.append(Problem("worklog_unreadable", "worklogs", f"worklog {w.get('id', '?')} was skipped: {e}"))
    return worklogs


def _worklogs(raw: Mapping[str, Any], f: Mapping[str, Any]) -> list[dict]:
    if raw.get("worklogs") is not None:
        return raw["worklogs"]
    embedded = f.get("worklog") or {}
    return embedded.get("worklogs") or []


def to_worklog(w: Mapping[str, Any]) -> Worklog:
    """One Jira worklog -> Worklog (author by email, else display name, else account id)."""
    author = w.get("author") or w.get("updateAuthor") or {}
    who = author.get("emailAddress") or author.get("displayName") or author.get("accountId") or "unknown"
    return Worklog(who, parse_ts(w.get("started")), hours(w.get("timeSpentSeconds")))


def _split(endpoint: str) -> tuple[str, str]:
    method, _, path = endpoint.partition(" ")
    return method, path


def tasks_on(page: Page) -> int:
    """The issues a page lists (a search page's), for the progress display."""
    return len(page.body.get("issues") or []) if page.endpoint.endswith(SEARCH_PATH) else 0


def map_pages(pages: Iterable[Page], mc: MapContext) -> tuple[list[Task], list[str]]:
    """Assemble saved or freshly fetched pages into tasks. Unusable issues are skipped and reported."""
    jira_fields: list[dict] = []
    statuses: dict[str, tuple[str, str]] = {}
    issues: dict[str, dict] = {}
    changelogs: dict[str, dict[str, dict]] = {}
    worklogs: dict[str, dict[str, dict]] = {}
    for page in pages:
        method, path = _split(page.endpoint)
        body = page.body
        if path == FIELD_PATH:
            jira_fields = body
        elif path == STATUS_PATH:
            for s in body:
                statuses[str(s.get("id"))] = status_entry(s)
        elif path == SEARCH_PATH:
            for issue in body.get("issues") or []:
                issues[str(issue.get("id"))] = issue
        elif path == BULK_CHANGELOG_PATH:
            for log in body.get("issueChangeLogs") or []:
                bucket = changelogs.setdefault(str(log.get("issueId")), {})
                for h in log.get("changeHistories") or []:
                    bucket[str(h.get("id"))] = h
        elif path.startswith("/rest/api/3/issue/") and path.endswith("/changelog"):
            bucket = changelogs.setdefault(path.split("/")[5], {})
            for h in body.get("values") or []:
                bucket[str(h.get("id"))] = h
        elif path.startswith("/rest/api/3/issue/") and path.endswith("/worklog"):
            bucket = worklogs.setdefault(path.split("/")[5], {})
            for w in body.get("worklogs") or []:
                bucket[str(w.get("id"))] = w
    for issue in issues.values():  # statuses the /status page lacks (or was not saved) are known from the issues
        st = (issue.get("fields") or {}).get("status") or {}
        if st.get("id") is not None and str(st["id"]) not in statuses:
            statuses[str(st["id"])] = status_entry(st)
    source = mc.source
    ctx = JiraContext(source, mc.base_url, resolve_fields(mc.fields, jira_fields, mc.where), statuses, mc.stages,
                      mc.tz, mc.currency)
    tasks, warnings = [], []
    for issue_id, issue in issues.items():
        key = str(issue.get("key"))
        hist = {**changelogs.get(issue_id, {}), **changelogs.get(key, {})}
        wl = worklogs.get(issue_id) or worklogs.get(key)
        bundle = {"issue": issue, "changelog": list(hist.values()), "worklogs": list(wl.values()) if wl else None}
        embedded = (issue.get("fields") or {}).get("worklog") or {}
        if wl is None and embedded.get("total", 0) > len(embedded.get("worklogs") or []):
            warnings.append(f"{source} {key}: only {len(embedded['worklogs'])} of {embedded['total']} worklogs saved")
        try:
            tasks.append(to_task(bundle, ctx))
        except (MappingError, ValueError, TypeError, KeyError, AttributeError) as e:
            warnings.append(f"{source} {key}: skipped, record not usable ({e})")
    return tasks, warnings
