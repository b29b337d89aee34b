"""Jira Cloud raw pages -> canonical tasks: the pure mapping shared by the live and the replay source."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from syncer.domain.stages import jira_stage
from syncer.errors import ConfigError, SourceError
from syncer.model import Problem, Stage, StageChange, Task, Worklog
from syncer.sources import MapContext, Page
from syncer.sources.fields import MappingError, apply_fields, parse_ts
from syncer.sources.jira.links import FieldChanges, blocked_by, flagged_field, flags_of
from syncer.sources.jira.settings import (
    BULK_CHANGELOG_PATH,
    FIELD_PATH,
    SEARCH_PATH,
    STATUS_PATH,
)
from syncer.sources.jira.values import field_value
from syncer.sources.jira.worklogs import (
    map_worklogs,
    note_missing_worklogs,
    read_worklog,
    with_worklogs_read,
    worklogs_of,
)
from syncer.sources.shapes import Mapped, dicts, kind_of, newest_per_key, obj, orphans, record_id, unique_key, where

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
    flag_id = flagged_field(by_name)
    if flag_id and "flagged" not in out:
        out["flagged"] = flag_id  # not a canonical field: read into flagged spells, never a column
    return out


History = list[tuple[datetime, list[dict[str, Any]]]]  # (when, items) of each readable change history


def usable_histories(raw: Iterable[Any], problems: list[Problem]) -> History:
    """(time, items) of each change history; one without a time or with items of the wrong shape is skipped and
    becomes a problem of the task (the rest of its history is kept)."""
    out: History = []
    for h in raw:
        try:
            at = parse_ts(h.get("created"))
            items = h.get("items") or []
            if not isinstance(items, list):
                raise MappingError(f"its items are {type(items).__name__}, not a list")
        except (MappingError, ValueError, TypeError, AttributeError, OverflowError) as e:
            hid = h.get("id", "?") if isinstance(h, dict) else "?"
            problems.append(Problem("history_unreadable", "history", f"change {hid} was skipped: {e}"))
            continue
        out.append((at, [item for item in items if isinstance(item, dict)]))
    return out


def by_field(histories: History) -> dict[str, FieldChanges]:
    """(time, item) of every change, grouped by the field it changed (its id, else its name), each group in
    changelog order: one pass over the history, for the status, amount and flag readings. An item naming its
    field by anything but text changes no field syncer reads."""
    out: dict[str, FieldChanges] = {}
    for at, items in histories:
        for item in items:
            name = item.get("fieldId", item.get("field"))
            if isinstance(name, str):
                out.setdefault(name, []).append((at, item))
    return out


def _status_events(changes: FieldChanges, ctx: JiraContext) -> Iterator[tuple]:
    for at, item in changes:
        yield at, ctx.status_of(item, "from"), ctx.status_of(item, "to")


def _first_seen(changes: FieldChanges) -> Any:
    """When a field first got a value (the 'when the amount first appeared' of SPEC §8), from its changes; None
    when it already had one at creation (the first change has a `from` value), so the date falls back to
    creation."""
    ordered = sorted((at, item.get("fromString"), item.get("toString")) for at, item in changes)
    if not ordered or ordered[0][1] not in (None, ""):
        return None
    return next((at for at, _, to in ordered if to not in (None, "")), None)


def status_entry(s: Mapping[str, Any]) -> tuple[str, str]:
    """A status as `(name, category key)`, from a /status entry or an issue's `status` field ('' where missing)."""
    return s.get("name", ""), (s.get("statusCategory") or {}).get("key", "")


def to_task(raw: Mapping[str, Any], ctx: JiraContext) -> Task:
    """Map one issue bundle `{issue, changelog, worklogs}` to a Task. Pure; raises MappingError if unusable.

    A bad value is contained where it is: an unreadable field, change or worklog becomes a problem of the task,
    and the rest of the task is kept."""
    issue = raw["issue"]
    key = issue.get("key")
    f = issue.get("fields")
    if not key or not isinstance(f, dict):
        raise MappingError(f"issue {issue.get('id', '?')} has no key or its fields are {kind_of(f)}")
    try:
        created_at = parse_ts(f.get("created"))
    except (MappingError, ValueError) as e:
        raise MappingError(f"its creation time is unreadable ({e})", "created_at") from None
    defaulted: dict[str, Stage] = {}

    def stage_of(status: tuple[str, str | None]) -> Stage:
        st, was_default = ctx.stage(*status)
        if was_default:
            defaulted[status[0]] = st
        return st

    problems: list[Problem] = []
    changes = by_field(usable_histories(raw.get("changelog") or [], problems))
    history = [
        StageChange(at, stage_of(a), stage_of(b), a[0], b[0])
        for at, a, b in sorted(_status_events(changes.get("status", []), ctx), key=lambda e: e[0])
    ]
    status_name, category = _status(f.get("status"), history, ctx, problems)
    stage = stage_of((status_name, category))
    _complete_by_resolution(history, stage, status_name, f.get("resolutiondate"), created_at)
    typed = apply_fields(_field_values(f, ctx, problems), problems, ctx.tz, ctx.currency)
    worklogs = map_worklogs(worklogs_of(raw, f), problems)
    first_seen = _amounts_first_seen(changes, ctx)
    issuetype = _name(f.get("issuetype"))
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
        labels=tuple(str(x) for x in f.get("labels") or () if isinstance(x, str)),
        parent=(f.get("parent") or {}).get("key") if isinstance(f.get("parent"), dict) else None,
        depends_on=blocked_by(f.get("issuelinks")),
        history=history,
        flagged=flags_of(f, changes, ctx.field_ids.get("flagged"), created_at),
        worklogs=worklogs,
        amount_first_seen=first_seen,
        problems=problems,
        defaulted_statuses=sorted(defaulted.items()),
        **typed,
    )


def _amounts_first_seen(changes: Mapping[str, FieldChanges], ctx: JiraContext) -> dict[str, datetime]:
    """When each amount field first got its value, where the changelog tells."""
    first_seen = {}
    for amount in ("committed_amount", "invoiced_amount"):
        fid = ctx.field_ids.get(amount)
        when = _first_seen(changes.get(fid, [])) if fid else None
        if when is not None:
            first_seen[amount] = when
    return first_seen


def _name(value: Any) -> str:
    return str(value.get("name") or "") if isinstance(value, dict) else ""


def _status(status: Any, history: list[StageChange], ctx: JiraContext,
            problems: list[Problem]) -> tuple[str, str | None]:
    """(name, category) of the issue's status. Without one (`"status": null`), the last status change says where
    the issue went; with neither, the issue cannot be staged (MappingError: its last good version stays)."""
    status = status if isinstance(status, dict) else {}
    name = status.get("name") or ctx.statuses.get(str(status.get("id")), ("", ""))[0]
    if name:
        return name, (status.get("statusCategory") or {}).get("key")
    if not history:
        raise MappingError("Jira sent no status for it, and it has no status change to take one from", "status")
    problems.append(Problem("status_unreadable", "status", f"Jira sent no status; the last status change's "
                                                           f"{history[-1].to_status!r} is used"))
    return history[-1].to_status, None


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


def _field_values(f: Mapping[str, Any], ctx: JiraContext, problems: list[Problem]) -> dict[str, Any]:
    """The raw value of every mapped field; Jira's own estimate comes in seconds (a negative one stays negative, so
    the amount check refuses it). A value too deeply nested to read is a problem of that field."""
    values: dict[str, Any] = {}
    for canonical, fid in ctx.field_ids.items():
        if canonical == "flagged":  # read into flagged spells, never a column
            continue
        raw = f.get(fid)
        if canonical == "estimate_hours" and fid == "timeoriginalestimate" and _seconds(raw):
            raw = raw / 3600.0
        try:
            values[canonical] = field_value(raw)
        except RecursionError:
            problems.append(Problem("field_unreadable", canonical, f"{fid} is nested too deeply to read"))
            values[canonical] = None
    return values


def _seconds(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _split(endpoint: str) -> tuple[str, str]:
    method, _, path = endpoint.partition(" ")
    return method, path


def tasks_on(page: Page) -> int:
    """The issues a page lists (a search page's), for the progress display."""
    return len(dicts(obj(page.body).get("issues"))) if page.endpoint.endswith(SEARCH_PATH) else 0


@dataclass(slots=True)
class _Read:
    """The records of one read's pages, gathered by what they belong to."""

    fields: list[dict] = field(default_factory=list)
    statuses: dict[str, tuple[str, str]] = field(default_factory=dict)
    issues: list[dict] = field(default_factory=list)  # every copy, in page order
    changelogs: dict[str, dict[str, dict]] = field(default_factory=dict)  # issue id or key -> history id -> history
    worklogs: dict[str, dict[str, Worklog | Problem]] = field(default_factory=dict)  # issue -> worklog id -> read


def _gather(pages: Iterable[Page], out: Mapped) -> _Read:
    read = _Read()
    for n, page in enumerate(pages):
        path = _split(page.endpoint)[1]
        if path == FIELD_PATH:
            if not isinstance(page.body, list):
                raise SourceError(f"{where(page)}: $: expected the list of Jira fields, found {kind_of(page.body)}")
            read.fields = [f for f in page.body if isinstance(f, dict)]
        elif path == STATUS_PATH:
            for _, st in out.objects(page, page.body, "$"):
                read.statuses[str(st.get("id"))] = status_entry(st)
        elif path == SEARCH_PATH:
            read.issues += [with_worklogs_read(issue) for _, issue in out.listed(page, "issues")]
        elif path == BULK_CHANGELOG_PATH:
            for at, log in out.listed(page, "issueChangeLogs"):
                bucket = read.changelogs.setdefault(str(record_id(log.get("issueId"))), {})
                for i, (_, h) in enumerate(out.objects(page, log.get("changeHistories"), f"{at}.changeHistories")):
                    bucket[unique_key(h.get("id"), n, i)] = h
        elif path.startswith("/rest/api/3/issue/") and path.endswith("/changelog"):
            bucket = read.changelogs.setdefault(path.split("/")[5], {})
            for i, (_, h) in enumerate(out.listed(page, "values")):
                bucket[unique_key(h.get("id"), n, i)] = h
        elif path.startswith("/rest/api/3/issue/") and path.endswith("/worklog"):
            bucket = read.worklogs.setdefault(path.split("/")[5], {})
            for i, (_, w) in enumerate(out.listed(page, "worklogs")):
                bucket[unique_key(w.get("id"), n, i)] = read_worklog(w)  # without an id: never merged
    return read


def map_pages(pages: Iterable[Page], mc: MapContext) -> Mapped:
    """Assemble saved or freshly fetched pages into tasks. A page of the wrong shape is an anomaly; an issue that
    cannot be mapped is kept (its last good version stays), with the reason."""
    out = Mapped()
    read = _gather(pages, out)
    issues = newest_per_key(read.issues, out, mc.source, "key", _updated)
    for issue in issues.values():  # statuses the /status page lacks (or was not saved) are known from the issues
        f = issue.get("fields")
        st = f.get("status") if isinstance(f, dict) else None
        if isinstance(st, dict) and st.get("id") is not None and str(st["id"]) not in read.statuses:
            read.statuses[str(st["id"])] = status_entry(st)
    ctx = JiraContext(mc.source, mc.base_url, resolve_fields(mc.fields, read.fields, mc.where), read.statuses,
                      mc.stages, mc.tz, mc.currency)
    known = set(issues) | {str(record_id(i.get("id"))) for i in read.issues}
    out.anomalies += orphans(mc.source, "change histories or worklogs", [*read.changelogs, *read.worklogs], known)
    read.issues.clear()  # each issue's records are dropped as soon as it is mapped: a read's peak is its pages
    users = Counter(str(record_id(i.get("id"))) for i in issues.values())  # keys of one id: moved while read
    for key in list(issues):
        issue = issues.pop(key)
        issue_id = str(record_id(issue.get("id")))
        users[issue_id] -= 1
        take = dict.pop if users[issue_id] == 0 else dict.get  # the id's records: dropped with its last key
        hist = {**take(read.changelogs, issue_id, {}), **read.changelogs.pop(key, {})}
        wl = take(read.worklogs, issue_id, None) or read.worklogs.pop(key, None)
        bundle = {"issue": issue, "changelog": list(hist.values()), "worklogs": list(wl.values()) if wl else None}
        note_missing_worklogs(issue, wl, out, mc.source, key)
        try:
            out.tasks.append(to_task(bundle, ctx))
        except (MappingError, ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as e:
            out.keep(key, getattr(e, "field", ""), f"cannot be read ({e})")
    return out


def _updated(issue: dict) -> Any:
    f = issue.get("fields")
    return f.get("updated") if isinstance(f, dict) else None
