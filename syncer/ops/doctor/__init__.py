"""`syncer doctor`: credentials, reachability and field / status mapping of every source and of the sink.

The report (Check, Section, Report), the run and the source checks are here; the sink and budget checks are in
`doctor_sinks`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from syncer.config import Config
from syncer.domain.stages import asana_stage, jira_stage, lookup_explicit, stage_by_name
from syncer.errors import ConfigError, SyncerError
from syncer.model import Stage
from syncer.retry import RetryPolicy, status_of

OK, WARN, FAIL = "OK", "WARN", "FAIL"
UNREACHABLE, BAD_CONFIG = 1, 2  # a FAIL's exit code
CLOSE = 0.6  # difflib cutoff for "renamed? closest match"


@dataclass(slots=True)
class Check:
    """One line of the report: OK / WARN / FAIL, what was checked, what was found."""

    status: str
    what: str
    detail: str
    code: int = 0  # exit code a FAIL asks for


@dataclass(slots=True)
class Section:
    """One source or the sink: its checks in order, with plain listing lines between them."""

    title: str
    lines: list[Check | str] = field(default_factory=list)

    def ok(self, what: str, detail: str) -> None:
        self.lines.append(Check(OK, what, detail))

    def warn(self, what: str, detail: str) -> None:
        self.lines.append(Check(WARN, what, detail))

    def fail(self, what: str, detail: str, code: int) -> None:
        self.lines.append(Check(FAIL, what, detail, code))

    def error(self, what: str, exc: SyncerError) -> None:
        """A FAIL from one of our errors: config/credential problems exit 2, the rest (unreachable) 1."""
        if isinstance(exc, ConfigError):
            self.fail(what, "; ".join(exc.problems), BAD_CONFIG)
        else:
            self.fail(what, str(exc), UNREACHABLE)

    def note(self, text: str) -> None:
        self.lines.append(text)


@dataclass(slots=True)
class Report:
    """Every section; `exit_code` is 0 without a FAIL, else the worst FAIL's (2 config beats 1 unreachable)."""

    sections: list[Section]

    @property
    def checks(self) -> list[Check]:
        return [c for s in self.sections for c in s.lines if isinstance(c, Check)]

    @property
    def exit_code(self) -> int:
        return max((c.code for c in self.checks if c.status == FAIL), default=0)

    def format(self) -> str:
        """The readable report: a heading per section, one line per check, a summary line."""
        out: list[str] = []
        for s in self.sections:
            out.append(s.title)
            for line in s.lines:
                out.append(f"  {line.status:<4}  {line.what}: {line.detail}" if isinstance(line, Check)
                           else f"        {line}")
        counts = {k: sum(c.status == k for c in self.checks) for k in (OK, WARN, FAIL)}
        out.append(f"{counts[OK]} OK, {counts[WARN]} WARN, {counts[FAIL]} FAIL (exit {self.exit_code})")
        return "\n".join(out)


def doctor(cfg: Config, policy: RetryPolicy | None = None) -> Report:
    """Check every source and the sink (and a budget file or tab); never raises for what it finds."""
    from syncer.ops.doctor.sinks import budget_checks, gsheet_checks, xlsx_checks  # imported here: they import Section

    # Few, short retries: someone is waiting at a terminal, and a FAIL says more than a long wait.
    policy = policy or RetryPolicy(attempts=2, cap=5.0)
    sections = []
    for i, s in enumerate(cfg.sources):
        where = f"sources[{i}]"
        detail = getattr(s, "url", None) or getattr(s, "path", None) or ", ".join(getattr(s, "projects", ()))
        sec = Section(f"source {s.name} ({s.kind}: {detail})")
        check = {"jira": _jira, "asana": _asana, "replay": _replay}.get(s.kind)
        if check is None:
            sec.warn("kind", f"doctor has no checks for a {s.kind!r} source")
        else:
            _guard(sec, check, sec, s, where, policy)
        sections.append(sec)
    sink_sec = Section(f"sink ({cfg.sink.kind}: {getattr(cfg.sink, 'path', None) or cfg.sink.spreadsheet_id})")
    sink = _guard(sink_sec, gsheet_checks, sink_sec, cfg, policy) if cfg.sink.kind == "gsheet" else (
        _guard(sink_sec, xlsx_checks, sink_sec, cfg))
    sections.append(sink_sec)
    if cfg.budget is not None:
        sec = Section(f"budget ({cfg.budget.file or f'tab {cfg.budget.tab!r} of the sink'})")
        _guard(sec, budget_checks, sec, cfg, sink)
        sections.append(sec)
    return Report(sections)


def _guard(sec: Section, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except SyncerError as e:
        sec.error("check", e)
    except Exception as e:  # a check that crashes is a finding, not a reason to stop checking the rest
        sec.fail("check", f"unexpected error: {type(e).__name__}: {e}", UNREACHABLE)
    return None


# ---- mapping checks shared by live sources and replays -------------------------------------------------------------
def closest(name: str, names: Iterable[str]) -> str | None:
    """The name `name` most likely became (case first, then difflib), or None."""
    names = list(names)
    same = [n for n in names if n.casefold() == name.casefold()]
    return (same or difflib.get_close_matches(name, names, n=1, cutoff=CLOSE) or [None])[0]


def field_checks(sec: Section, mapping: Mapping[str, str], available: Sequence[tuple[str, str]], api: str,
                 attributes: Iterable[str] = ()) -> dict[str, str]:
    """One check per configured field against the source's (id, name) fields; returns canonical -> field id.

    An unknown, renamed (closest match named) or ambiguous name FAILs: the sync would reject it (Jira) or read
    nothing (Asana). One source field mapped to two canonical fields WARNs.
    """
    names = {fid: name for fid, name in available}
    by_name: dict[str, list[str]] = {}
    for fid, name in available:
        by_name.setdefault(name, []).append(fid)
    resolved: dict[str, str] = {}
    for canonical, ref in mapping.items():
        what = f"fields.{canonical}"
        ids = [ref] if ref in names else by_name.get(ref, [])
        if len(ids) == 1:
            resolved[canonical] = ids[0]
            sec.ok(what, f"{ref!r} -> {names[ids[0]]!r} ({ids[0]})" if ref == ids[0] else f"{ref!r} ({ids[0]})")
        elif ids:
            sec.fail(what, f"{ref!r} is the name of {len(ids)} {api} fields ({', '.join(ids)}): duplicated name, "
                           "map it by id", BAD_CONFIG)
        elif ref in attributes:
            sec.ok(what, f"{ref!r} (a task attribute)")
        elif near := closest(ref, by_name):
            sec.fail(what, f"no {api} field named {ref!r}: renamed? closest match {near!r} "
                           f"({', '.join(by_name[near])})", BAD_CONFIG)
        else:
            sec.fail(what, f"no {api} field named {ref!r} (unknown)", BAD_CONFIG)
    twice: dict[str, list[str]] = {}
    for canonical, fid in resolved.items():
        twice.setdefault(fid, []).append(canonical)
    for fid, canonicals in twice.items():
        if len(canonicals) > 1:
            sec.warn("fields", f"{names[fid]!r} ({fid}) is mapped {len(canonicals)} times: {', '.join(canonicals)}")
    return resolved


def field_listing(sec: Section, label: str, fields: Sequence[tuple[str, str]], resolved: Mapping[str, str]) -> None:
    """The source's custom fields, each next to the canonical field(s) mapped to it."""
    mapped: dict[str, list[str]] = {}
    for canonical, fid in resolved.items():
        mapped.setdefault(fid, []).append(canonical)
    sec.note(f"{label} ({len(fields)}):")
    width = max((len(n) for _, n in fields), default=0)
    for fid, name in sorted(fields, key=lambda f: (f[1].casefold(), f[0])):
        sec.note(f"  {name:<{width}}  {fid:<20}  " + (f"<- {', '.join(mapped[fid])}" if fid in mapped else "-"))


def stage_checks(sec: Section, stages: Mapping[str, Stage], found: Iterable[tuple[str, Stage, str]], what: str) -> None:
    """`stages:` keys against the source's statuses / sections; each of those mapped (OK) or defaulted (WARN).

    `found` holds (name, the stage a default would give it, why).
    """
    found = sorted(set(found), key=lambda f: (f[0].casefold(), f[0], f[1].value))
    names = {n for n, _, _ in found}
    groups: dict[str, list[str]] = {}
    for key in stages:
        groups.setdefault(key.strip().casefold(), []).append(key)
    for keys in (k for k in groups.values() if len(k) > 1):
        sec.warn("stages", f"{' and '.join(repr(k) for k in keys)} are the same {what} (case is ignored): "
                           "duplicated name, keep one")
    for key, stage in stages.items():
        if key.strip().casefold() not in {n.casefold() for n in names}:
            near = closest(key.strip(), names)
            hint = f"renamed? closest match {near!r}" if near else "unknown"
            sec.warn(f"stages.{key}", f"no {what} named {key!r} ({hint}); its mapping to {stage.value} is unused")
    for name, default, why in found:
        stage = lookup_explicit(name, stages)
        if stage is not None:
            sec.ok(f"{what} {name!r}", f"-> {stage.value}")
        else:
            sec.warn(f"{what} {name!r}", f"not mapped: defaults to {default.value} ({why})")


def _mapping(sec: Section, scfg: Any, api: str, fields: Sequence[tuple[str, str]], custom: Sequence[tuple[str, str]],
             found: Iterable[tuple[str, Stage, str]], attributes: Iterable[str] = ()) -> None:
    sub = Section("")  # the field checks go after the listing they refer to
    resolved = field_checks(sub, scfg.fields, fields, api, attributes)
    field_listing(sec, "custom fields", custom, resolved)
    sec.lines += sub.lines
    stage_checks(sec, scfg.stages, found, "status" if api == "Jira" else "section")


def _jira_mapping(sec: Section, scfg: Any, fields: list[dict], statuses: list[dict]) -> None:
    named = [(str(f["id"]), str(f.get("name", "")), f.get("custom")) for f in fields if "id" in f]
    found = []
    for s in statuses:
        name, category = str(s.get("name", "")), (s.get("statusCategory") or {}).get("key")
        why = "by its name" if stage_by_name(name) else f"status category {category}"
        found.append((name, jira_stage(name, category, {})[0], why))
    _mapping(sec, scfg, "Jira", [(i, n) for i, n, _ in named], [(i, n) for i, n, c in named if c], found)


def _asana_mapping(sec: Section, scfg: Any, custom: Sequence[tuple[str, str]], sections: Iterable[str]) -> None:
    from syncer.sources.asana.mapping import TASK_OPT_FIELDS

    attributes = {f.split(".")[0] for f in TASK_OPT_FIELDS.split(",")}  # notes, name, ...: read off the task
    found = [(n, asana_stage(n, False, {})[0], "by its name" if stage_by_name(n) else "no name rule matches")
             for n in sections]
    _mapping(sec, scfg, "Asana custom", custom, custom, found, attributes)
    sec.note("a completed task is done whatever its section")


# ---- sources -------------------------------------------------------------------------------------------------------
def _jira(sec: Section, scfg: Any, where: str, policy: RetryPolicy) -> None:
    from syncer.sources.jira.client import MYSELF_PATH, JiraClient, SearchRejected

    client = JiraClient(scfg, where, policy)
    try:
        client.connect()
        sec.ok("reachable", f"{client.site} is Jira Cloud")
        me = client.call(f"GET {MYSELF_PATH}", client.jira.myself)
    except SyncerError as e:
        return sec.error("connection", e)
    sec.ok("credentials", f"signed in as {me.get('displayName') or '?'} ({me.get('emailAddress') or scfg.email})")
    if not scfg.jql.strip():
        sec.fail("jql", f"{where}.jql is empty: set a query such as 'project = MKT'", BAD_CONFIG)
    else:
        try:
            issues = client.search({"jql": scfg.jql, "maxResults": 1, "fields": "summary"}).get("issues") or []
            if issues:
                sec.ok("jql", f"{scfg.jql!r} finds issues (first: {issues[0].get('key')})")
            else:
                sec.warn("jql", f"{scfg.jql!r} finds no issue this account may browse")
        except SearchRejected as e:
            sec.fail("jql", f"{where}.jql: Jira at {client.site} rejected the query: {e.detail}", BAD_CONFIG)
        except SyncerError as e:
            sec.error("jql", e)
    try:
        fields, statuses = client.fields(), client.statuses()
    except SyncerError as e:
        return sec.error("fields and statuses", e)
    _jira_mapping(sec, scfg, fields, statuses)


def _asana(sec: Section, scfg: Any, where: str, policy: RetryPolicy) -> None:
    import asana
    import urllib3
    from asana.rest import ApiException

    from syncer.sources.asana.source import REQUEST_TIMEOUT, asana_message, build_api_client, paginate

    client = build_api_client(scfg)  # set up as the source's: no urllib3 retries under the RetryPolicy

    def get(method: Callable[..., Any], gid: str, opts: dict) -> dict:
        return policy.call(lambda: method(gid, dict(opts), full_payload=True, _request_timeout=REQUEST_TIMEOUT))

    def every(method: Callable[..., Any], gid: str, fields: str) -> list[dict]:
        pages = paginate(lambda o: get(method, gid, o), method.__name__, {"opt_fields": fields, "limit": 100}, where)
        return [item for page in pages for item in page.body.get("data") or []]

    def failed(what: str, e: BaseException, i: int | None = None) -> None:
        status, said = status_of(e), asana_message(e)
        detail = f"HTTP {status}" + (f": {said}" if said else "")
        if status is None:
            sec.fail(what, f"cannot reach Asana at {scfg.base_url} ({type(e).__name__})", UNREACHABLE)
        elif status in (401, 403):
            scopes = "; a token limited to scopes also needs projects:read and custom_fields:read" * (status == 403)
            sec.fail(what, f"{where}.token: Asana refused the request ({detail}); check the token{scopes}", BAD_CONFIG)
        elif status == 404 and i is not None:
            sec.fail(what, f"{where}.projects[{i}]: Asana has no project {scfg.projects[i]} that this token can see "
                           f"({detail})", BAD_CONFIG)
        else:
            sec.fail(what, f"Asana answered {detail}", UNREACHABLE)

    errors = (ApiException, urllib3.exceptions.HTTPError, OSError, SyncerError)
    try:
        me = get(asana.UsersApi(client).get_user, "me", {"opt_fields": "name,email"}).get("data") or {}
        sec.ok("credentials", f"signed in to {scfg.base_url} as {me.get('name') or '?'} ({me.get('email') or '-'})")
    except errors as e:
        if status_of(e) != 403:
            return failed("credentials", e)
        # A token limited to scopes may lack users:read, which the sync does not need: the projects tell.
        sec.warn("credentials", "Asana would not say whose token this is (HTTP 403: no users:read scope?)")
    for i, gid in enumerate(scfg.projects):
        try:
            project = get(asana.ProjectsApi(client).get_project, gid, {"opt_fields": "name"}).get("data") or {}
            sections = [str(s.get("name")) for s in every(asana.SectionsApi(client).get_sections_for_project, gid,
                                                          "name")]
            settings = every(asana.CustomFieldSettingsApi(client).get_custom_field_settings_for_project, gid,
                             "custom_field.gid,custom_field.name")
        except errors as e:
            failed(f"projects[{i}]", e, i)
            continue
        custom = [(str(c["gid"]), str(c.get("name"))) for s in settings if "gid" in (c := s.get("custom_field") or {})]
        sec.ok(f"projects[{i}]", f"{gid} is {project.get('name')!r}: {len(sections)} section(s), {len(custom)} custom "
                                 "field(s)")
        _asana_mapping(sec, scfg, custom, sections)


def _replay(sec: Section, scfg: Any, where: str, policy: RetryPolicy) -> None:
    from syncer.sources.jira import FIELD_PATH, STATUS_PATH
    from syncer.sources.replay import read_manifest, read_pages

    try:
        manifest = read_manifest(scfg.path, where)
        pages = list(read_pages(scfg.path, manifest))
    except SyncerError as e:
        return sec.error("saved pages", e)
    api = manifest["api"]
    sec.ok("saved pages", f"{len(pages)} page(s) of {api}, fetched {manifest.get('fetched_at') or '(time unknown)'}")
    bodies = {p.endpoint.partition(" ")[2]: p.body for p in pages}
    if api == "jira" and FIELD_PATH in bodies and STATUS_PATH in bodies:
        _jira_mapping(sec, scfg, bodies[FIELD_PATH], bodies[STATUS_PATH])
    elif api == "asana":  # no field or section list is saved: what the saved tasks carry stands in for them
        projects, custom, sections = set(manifest.get("projects") or ()), {}, set()
        for t in (t for p in pages if p.endpoint.endswith("/tasks") for t in (p.body or {}).get("data") or []):
            custom.update({str(c["gid"]): str(c.get("name", "")) for c in t.get("custom_fields") or [] if "gid" in c})
            sections.update(str(m["section"].get("name")) for m in t.get("memberships") or [] if m.get("section")
                            and (not projects or (m.get("project") or {}).get("gid") in projects))
        _asana_mapping(sec, scfg, sorted(custom.items()), sections)
