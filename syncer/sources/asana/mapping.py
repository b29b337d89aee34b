"""Asana source: raw pages -> canonical tasks (`to_task` is pure; live fetching is in `asana_fetch`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import partial
from typing import Any

from syncer.domain.stages import asana_stage
from syncer.model import Problem, Stage, StageChange, Task, Worklog
from syncer.sources import MapContext, Page
from syncer.sources.fields import (
    MAX_HOURS,
    MappingError,
    apply_fields,
    local_midnight,
    parse_day,
    parse_ts,
    worklogs_read,
)
from syncer.sources.shapes import Mapped, dicts, newest_per_key, obj, orphans, unique_key

STORY_SUBTYPES = frozenset({"section_changed", "marked_complete", "marked_incomplete", "added_to_project"})
COMPLETED = "Completed"

# Canonical fields read from the task itself unless the config maps them to a custom field.
BUILTIN = {
    "owner": lambda t: (t.get("assignee") or {}).get("email") or (t.get("assignee") or {}).get("name"),
    "requester": lambda t: (t.get("created_by") or {}).get("email") or (t.get("created_by") or {}).get("name"),
    "due_date": lambda t: t.get("due_on"),  # a `due_at` time is turned into a local date in to_task
    "brief": lambda t: t.get("notes"),
}


@dataclass(slots=True)
class AsanaContext:
    """What `to_task` needs besides the task: the mapping, the projects that own sections, the zone."""

    source: str
    fields: Mapping[str, str]  # canonical -> custom field name or gid (or a task attribute like `notes`)
    stages: Mapping[str, Stage] = field(default_factory=dict)
    projects: tuple[str, ...] = ()
    tz: tzinfo | None = None
    currency: str | None = None  # amounts in another currency are refused, not booked as this one


def custom_value(cf: Mapping[str, Any]) -> Any:
    """The value of one Asana custom field; duration fields (minutes) come back as hours."""
    kind = cf.get("resource_subtype") or cf.get("type")
    if kind == "number":
        v = cf.get("number_value")
        return v / 60.0 if v is not None and cf.get("format") == "duration" else v
    if kind == "text":
        return cf.get("text_value")
    if kind == "enum":
        return (cf.get("enum_value") or {}).get("name")
    if kind == "multi_enum":
        return ", ".join(v.get("name", "") for v in cf.get("multi_enum_values") or []) or None
    if kind == "date":
        dv = cf.get("date_value") or {}
        return dv.get("date") or dv.get("date_time")
    if kind == "people":
        return ", ".join(p.get("name", "") for p in cf.get("people_value") or []) or None
    return cf.get("display_value")


def _section(task: Mapping[str, Any], projects: tuple[str, ...]) -> str | None:
    for m in task.get("memberships") or []:
        if not projects or (m.get("project") or {}).get("gid") in projects:
            section = (m.get("section") or {}).get("name")
            if section:
                return section
    return None


def _in_projects(story: Mapping[str, Any], projects: tuple[str, ...]) -> bool:
    """False for a section move on another project's board (a task can live in several projects)."""
    if not projects or story.get("resource_subtype") != "section_changed":
        return True
    owner = ((story.get("new_section") or {}).get("project") or {}).get("gid") or (
        (story.get("old_section") or {}).get("project") or {}
    ).get("gid")
    return owner is None or owner in projects  # pages saved without the project: keep the move


def _status(section: str | None, completed: bool) -> str:
    return COMPLETED if completed else (section or "")


def _stage_noting(section: str | None, completed: bool, ctx: AsanaContext, defaulted: dict[str, Stage]) -> Stage:
    """The stage of a section and completion, noting in `defaulted` a section that fell back to a default stage."""
    st, was_default = asana_stage(section, completed, ctx.stages)
    if was_default:
        defaulted[section or "(no section)"] = st
    return st


def timed_stories(stories: Iterable[Any], problems: list[Problem]) -> list[tuple[datetime, dict[str, Any]]]:
    """(time, story) of each story; one without a readable time is skipped as a problem of the task."""
    out = []
    for s in dicts(list(stories)):
        try:
            out.append((parse_ts(s.get("created_at")), s))
        except (MappingError, ValueError, OverflowError) as e:
            problems.append(Problem("history_unreadable", "history", f"story {s.get('gid', '?')} was skipped: {e}"))
    return out


def history_from_stories(
    stories: Iterable[Any], task: Mapping[str, Any], ctx: AsanaContext, defaulted: dict[str, Stage],
    problems: list[Problem] | None = None,
) -> tuple[list[StageChange], Stage]:
    """Replay section and completion stories into stage changes; returns (history, creation stage). A story
    without a readable time is skipped, noted in `problems`."""
    def stage_of(section: str | None, completed: bool) -> Stage:
        return _stage_noting(section, completed, ctx, defaulted)

    timed = [(at, s) for at, s in timed_stories(stories, [] if problems is None else problems)
             if s.get("resource_subtype") in STORY_SUBTYPES
             and _in_projects(s, ctx.projects)]
    relevant = [s for _, s in sorted(timed, key=lambda e: e[0])]
    when = {id(s): at for at, s in timed}
    moves = [s for s in relevant if s.get("resource_subtype") == "section_changed"]
    section = (moves[0].get("old_section") or {}).get("name") if moves else _section(task, ctx.projects)
    completions = [s for s in relevant if s.get("resource_subtype") in ("marked_complete", "marked_incomplete")]
    completed = bool(completions and completions[0].get("resource_subtype") == "marked_incomplete")
    created_stage = stage_of(section, completed)
    history: list[StageChange] = []
    for s in relevant:
        kind, at = s.get("resource_subtype"), when[id(s)]
        new_section, new_completed = section, completed
        if kind == "section_changed":
            new_section = (s.get("new_section") or {}).get("name") or section
        elif kind == "marked_complete":
            new_completed = True
        elif kind == "marked_incomplete":
            new_completed = False
        else:
            continue
        if (new_section, new_completed) != (section, completed):
            history.append(StageChange(
                at, stage_of(section, completed), stage_of(new_section, new_completed),
                _status(section, completed), _status(new_section, new_completed),
            ))
        section, completed = new_section, new_completed
    if task.get("completed") and not completed and task.get("completed_at"):
        # Completion without a story (stories can be hidden from the token's user): trust completed_at.
        history.append(StageChange(
            parse_ts(task["completed_at"]), stage_of(section, False), Stage.DONE, _status(section, False), COMPLETED
        ))
    return history, created_stage


def to_worklog(entry: Mapping[str, Any], tz: tzinfo | None) -> Worklog:
    """One time-tracking entry -> Worklog, dated at the start of `entered_on` in the configured zone."""
    who = entry.get("created_by") or {}
    day = parse_day(entry.get("entered_on"))
    minutes = entry.get("duration_minutes")
    if day is None or not isinstance(minutes, (int, float)) or not 0 <= minutes <= MAX_HOURS * 60:
        raise MappingError(f"time entry {entry.get('gid')} has no date or a duration that cannot be")
    started = local_midnight(day, tz) if tz else parse_ts(entry.get("created_at"))
    return Worklog(who.get("email") or who.get("name") or "unknown", started, minutes / 60.0)


def read_entry(entry: Any, tz: tzinfo | None) -> Worklog | Problem:
    """One time-tracking entry mapped, or the problem that skips it (one bad entry must not drop the task)."""
    try:
        return to_worklog(entry, tz)
    except (MappingError, ValueError, TypeError, AttributeError, OverflowError) as e:  # a day out of range too
        return Problem("worklog_unreadable", "worklogs", f"a time entry was skipped: {e}")


def to_task(raw: Mapping[str, Any], ctx: AsanaContext) -> Task:
    """Map one task bundle `{task, stories, time_entries}` to a Task. Pure; raises MappingError if unusable.

    A bad value is contained where it is: an unreadable field, story or time entry becomes a problem of the task,
    and the rest of the task is kept."""
    t = raw["task"]
    if not t.get("gid"):
        raise MappingError("the task has no gid")
    try:
        created_at = parse_ts(t.get("created_at"))
    except (MappingError, ValueError) as e:
        raise MappingError(f"its creation time is unreadable ({e})", "created_at") from None
    completed = bool(t.get("completed"))
    section = _section(t, ctx.projects)
    defaulted: dict[str, Stage] = {}
    stage = _stage_noting(section, completed, ctx, defaulted)
    problems: list[Problem] = []
    history, created_stage = history_from_stories(raw.get("stories") or [], t, ctx, defaulted, problems)
    typed = apply_fields(_values(t, ctx, problems), problems, ctx.tz, ctx.currency)
    worklogs = worklogs_read(raw.get("time_entries") or [], partial(read_entry, tz=ctx.tz), problems)
    return Task(
        source=ctx.source,
        key=str(t["gid"]),
        url=str(t.get("permalink_url") or ""),
        title=str(t.get("name") or ""),
        type=str(t.get("resource_subtype") or "task"),
        status=_status(section, completed),
        stage=stage,
        created_stage=created_stage,
        created_at=created_at,
        labels=tuple(str(tag.get("name", "")) for tag in dicts(t.get("tags"))),
        parent=obj(t.get("parent")).get("gid"),
        # Opt-in `dependencies`: the tasks this one depends on, gids only (no extra request per task)
        depends_on=tuple(sorted({str(d["gid"]) for d in dicts(t.get("dependencies")) if d.get("gid")})),
        history=history,
        worklogs=worklogs,
        problems=problems,
        defaulted_statuses=sorted(defaulted.items()),
        **typed,
    )


def tasks_on(page: Page) -> int:
    """The tasks a listing page holds (`/projects/{gid}/tasks`, `/tasks`; not stories or time entries)."""
    return len(dicts(obj(page.body).get("data"))) if page.endpoint.endswith("/tasks") else 0


def _values(t: Mapping[str, Any], ctx: AsanaContext, problems: list[Problem]) -> dict[str, Any]:
    """The raw value of every canonical field: built-in attributes, else the mapped custom field."""
    custom = dicts(t.get("custom_fields"))
    by_name, by_gid = {cf.get("name"): cf for cf in custom}, {cf.get("gid"): cf for cf in custom}
    values: dict[str, Any] = {c: fn(t) for c, fn in BUILTIN.items()}
    if not values["due_date"] and t.get("due_at"):
        try:
            due = parse_ts(t["due_at"])
            values["due_date"] = (due.astimezone(ctx.tz) if ctx.tz else due).date().isoformat()
        except (MappingError, ValueError) as e:
            problems.append(Problem("date_unparseable", "due_date", f"cannot read due date: {e}"))
    for canonical, ref in ctx.fields.items():
        cf = by_gid.get(ref) or by_name.get(ref)
        values[canonical] = custom_value(cf) if cf else t.get(ref)
    return values


def _modified(task: dict[str, Any]) -> Any:
    return task.get("modified_at")


def map_pages(pages: Iterable[Page], mc: MapContext) -> Mapped:
    """Assemble saved or freshly fetched pages into tasks. A page of the wrong shape is an anomaly; a task that
    cannot be mapped is kept (its last good version stays), with the reason."""
    out = Mapped()
    listed: list[dict] = []
    stories: dict[str, dict[str, dict]] = {}
    entries: dict[str, dict[str, Worklog | Problem]] = {}
    for n, page in enumerate(pages):
        parts = page.endpoint.partition(" ")[2].strip("/").split("/")
        data = [item for _, item in out.listed(page, "data")]
        if parts[-1] == "tasks":
            listed += data
        elif len(parts) == 3 and parts[0] == "tasks" and parts[2] == "stories":
            stories.setdefault(parts[1], {}).update({unique_key(s.get("gid"), n, i): s for i, s in enumerate(data)})
        elif len(parts) == 3 and parts[0] == "tasks" and parts[2] == "time_tracking_entries":
            # entries without a gid are each counted: never merged into one another; each is read as it comes
            entries.setdefault(parts[1], {}).update({unique_key(e.get("gid"), n, i): read_entry(e, mc.tz)
                                                     for i, e in enumerate(data)})
    ctx = AsanaContext(mc.source, mc.fields, mc.stages, mc.projects, mc.tz, mc.currency)
    tasks = newest_per_key(listed, out, mc.source, "gid", _modified)
    out.anomalies += orphans(mc.source, "stories or time entries", [*stories, *entries],
                             set(tasks) | {str(t.get("gid")) for t in listed})
    for gid, t in tasks.items():
        bundle = {"task": t, "stories": list(stories.get(gid, {}).values()),
                  "time_entries": list(entries.get(gid, {}).values())}
        try:
            out.tasks.append(to_task(bundle, ctx))
        except (MappingError, ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as e:
            out.keep(gid, getattr(e, "field", ""), f"cannot be read ({e})")
    return out
