"""`syncer init`: a starter config written from a live site (SPEC §2).

It reads the site's custom fields and its statuses (Jira) or sections (Asana) with the same reads as `syncer
doctor`, matches every canonical field to the closest field name, maps every status or section to the stage its
SPEC §4 default gives it, and writes YAML with each guess commented. Secrets stay `${VAR}` references (read from
the environment here too); the sink is a local workbook, so the first `syncer run` works at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from difflib import SequenceMatcher
from pathlib import Path

import yaml

from syncer.checks import Level
from syncer.config import ASANA_BASE_URL, Config, parse_config
from syncer.errors import ConfigError, SourceError
from syncer.model import Stage
from syncer.retry import RetryPolicy
from syncer.sources import Source, source_class
from syncer.sources.asana.client import AsanaErrors
from syncer.sources.asana.inspect import workspace_projects
from syncer.sources.jira.client import JiraClient

# The names a field for each canonical field usually has (the first is the canonical field in words).
LABELS: dict[str, tuple[str, ...]] = {
    "owner": ("Owner", "Responsible"),
    "requester": ("Requester", "Requested by"),
    "campaign": ("Campaign",),
    "activity": ("Activity", "Tactic"),
    "gl_account": ("G/L account", "GL account", "General ledger account", "Cost center"),
    "category": ("Category", "Work category", "Work type"),
    "due_date": ("Due date", "Deadline"),
    "estimate_hours": ("Estimate hours", "Estimated hours", "Estimated time"),
    "planned_cost": ("Planned cost", "Estimated cost", "Budget"),
    "committed_amount": ("Committed amount", "PO amount", "Purchase order amount"),
    "po_date": ("PO date", "Purchase order date"),
    "invoiced_amount": ("Invoiced amount", "Invoice amount"),
    "invoice_date": ("Invoice date",),
    "brief": ("Brief", "Request brief"),
}
# What a canonical field is read from when the config does not map it (the mappings' own defaults).
BUILT_IN = {
    "jira": {"owner": "the Assignee", "requester": "the Reporter", "due_date": "the Due date",
             "estimate_hours": "the Original estimate", "brief": "the Description", "category": "the issue type"},
    "asana": {"owner": "the assignee", "requester": "whoever created the task", "due_date": "the due date",
              "brief": "the task's description (notes)"},
}
SECRET_VARS = {"jira": ("JIRA_EMAIL", "JIRA_API_TOKEN"), "asana": ("ASANA_TOKEN",)}
MATCH = 0.7  # SequenceMatcher ratio a field name needs to be proposed
CONTAINED = 0.9  # the score of a name that contains the label whole (`Campaign name`)
WHERE = "init"  # how errors name the source being read (there is no config yet)


@dataclass(frozen=True, slots=True)
class InitRequest:
    """What `syncer init` was asked for (options, or answers to its prompts)."""

    kind: str  # jira | asana
    out: Path
    url: str = ""  # Jira site
    jql: str = ""
    projects: tuple[str, ...] = ()  # Asana project gids
    base_url: str = ASANA_BASE_URL
    name: str = ""  # the source's name (default: its kind)
    timezone: str = "UTC"
    force: bool = False


State = tuple[str, Stage, str]  # a status or section name, the stage a SPEC §4 default gives it, and why


@dataclass(slots=True)
class Site:
    """What was read: custom fields (id, name), and statuses or sections with their default stage."""

    fields: list[tuple[str, str]]
    states: list[State]


@dataclass(frozen=True, slots=True)
class Guess:
    """The field proposed for one canonical field, and the other candidates (names)."""

    canonical: str
    pick: tuple[str, str] | None  # (id, name)
    others: tuple[str, ...] = ()


def _score(labels: Sequence[str], name: str) -> float:
    folded = name.casefold()
    best = max(SequenceMatcher(None, label.casefold(), folded).ratio() for label in labels)
    contained = any(label.casefold() in folded for label in labels)
    return max(best, CONTAINED if contained else 0.0)


def guess_fields(fields: Sequence[tuple[str, str]]) -> list[Guess]:
    """Every canonical field with the closest field name (each field proposed once, best matches first)."""
    scored = sorted(((s, canonical, fid, name) for canonical, labels in LABELS.items() for fid, name in fields
                     if (s := _score(labels, name)) >= MATCH), key=lambda x: (-x[0], x[1], x[3]))
    picks: dict[str, tuple[str, str]] = {}
    used: set[str] = set()
    for _, canonical, fid, name in scored:
        if canonical not in picks and fid not in used:
            picks[canonical] = (fid, name)
            used.add(fid)
    out = []
    for canonical in LABELS:
        pick = picks.get(canonical)
        # Other candidates: fields no other canonical field took.
        others = tuple(dict.fromkeys(n for _, c, fid, n in scored if c == canonical and fid not in used))[:3]
        out.append(Guess(canonical, pick, others))
    return out


def _source_entry(req: InitRequest) -> dict:
    """The `sources:` entry as it will be written (secrets as `${VAR}`), before its fields and stages."""
    name = req.name or req.kind
    if req.kind == "jira":
        email, token = SECRET_VARS["jira"]
        return {"name": name, "kind": "jira", "url": req.url.rstrip("/"), "email": f"${{{email}}}",
                "token": f"${{{token}}}", "jql": req.jql}
    (token,) = SECRET_VARS["asana"]
    entry = {"name": name, "kind": "asana", "token": f"${{{token}}}", "projects": list(req.projects)}
    return entry if req.base_url == ASANA_BASE_URL else {**entry, "base_url": req.base_url}


def _checked(entry: dict, env: Mapping[str, str]) -> Config:
    """The config of that one source, as the file will load: a bad option or a missing variable is a config error."""
    return parse_config({"sources": [entry], "sink": {"kind": "xlsx", "path": "out/syncer.xlsx"}}, env)


def read_site(cfg: Config, policy: RetryPolicy) -> Site:
    """The source's custom fields and statuses or sections, read as `syncer doctor` reads them; what fails is an
    error in the same words (a config problem exits 2, an unreachable site 1)."""
    scfg = cfg.sources[0]
    source: Source = source_class(scfg.kind)(scfg, cfg, where="sources[0]", policy=policy)
    found = source.inspect()
    fails = [f for f in found.findings if f.level is Level.FAIL]
    if fails:
        problems = [f"{f.what}: {f.detail}" for f in fails]
        raise ConfigError(problems) if any(f.config for f in fails) else SourceError("; ".join(problems))
    return Site(list(found.custom), list(found.statuses))


def jira_projects(req: InitRequest, env: Mapping[str, str], policy: RetryPolicy | None = None,
                  limit: int = 50) -> tuple[list[tuple[str, str]], int]:
    """The site's projects (key, name), the first `limit` by key, and how many there are: for choosing the JQL."""
    # The JQL is what the user is about to choose: any valid one lets the source's settings load meanwhile.
    scfg = _checked(_source_entry(replace(req, jql=req.jql or "project IS NOT EMPTY")), env).sources[0]
    assert scfg.kind == "jira"
    client = JiraClient(scfg, "sources[0]", policy or RetryPolicy(attempts=2, cap=5.0))
    client.connect()
    rows, total = client.projects(limit)
    return [(str(p.get("key")), str(p.get("name") or "")) for p in rows], total


def asana_projects(req: InitRequest, env: Mapping[str, str], policy: RetryPolicy | None = None,
                   limit: int = 50) -> tuple[list[tuple[str, str]], bool]:
    """The projects (gid, "workspace / name") the token sees, the first `limit`, and whether there are more."""
    # No project is chosen yet: a placeholder gid lets the source's settings load meanwhile.
    scfg = _checked(_source_entry(replace(req, projects=req.projects or ("0",))), env).sources[0]
    assert scfg.kind == "asana"
    policy = policy or RetryPolicy(attempts=2, cap=5.0)
    return workspace_projects(scfg, AsanaErrors(scfg, "sources[0]", policy.attempts), policy, limit)


def init_config(req: InitRequest, env: Mapping[str, str], policy: RetryPolicy | None = None,
                now: datetime | None = None) -> tuple[str, Site]:
    """Read the site and write the starter config to `req.out` (never over a file without `force`).

    Returns the text written and what was read."""
    if req.out.exists() and not req.force:
        raise ConfigError(f"{req.out}: the file exists; pass --force to overwrite it")
    policy = policy or RetryPolicy(attempts=2, cap=5.0)  # someone is waiting at a terminal
    entry = _source_entry(req)
    site = read_site(_checked(entry, env), policy)
    text = starter_text(req, entry, site, now or datetime.now(UTC))
    parse_config(yaml.safe_load(text), env)  # what is written must load as it stands
    try:
        req.out.parent.mkdir(parents=True, exist_ok=True)
        req.out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"--out {req.out}: cannot write the config ({e.strerror})") from None
    return text, site


def _q(text: str) -> str:
    """A YAML scalar that reads back as exactly `text` (a JSON string is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _line(text: str, comment: str = "") -> str:
    return f"{text:<40}# {comment}" if comment else text


def _field_lines(kind: str, fields: Sequence[tuple[str, str]]) -> list[str]:
    named: dict[str, list[str]] = {}
    for fid, name in fields:
        named.setdefault(name, []).append(fid)
    out, mapped = [], 0
    for g in guess_fields(fields):
        others = f"; other candidates: {', '.join(map(_q, g.others))}" if g.others else ""
        if g.pick is not None:
            fid, name = g.pick
            twice = len(named[name]) > 1  # a duplicated name resolves to nothing: map by id
            value, why = (fid, f"{_q(name)}, a name {len(named[name])} fields share") if twice else (_q(name), fid)
            out.append(_line(f"      {g.canonical}: {value}", f"guess: {why}{others}"))
            mapped += 1
        elif g.canonical in BUILT_IN[kind]:
            out.append(_line(f"      # {g.canonical}:", f"unmapped: read from {BUILT_IN[kind][g.canonical]}{others}"))
        else:
            out.append(_line(f"      # {g.canonical}:", f"no field looks like it: map a field name or id{others}"))
    head = "    fields:" if mapped else "    fields: {}"
    return [_line(head, "canonical field -> the source's field, by name or id"), *out]


def _stage_lines(kind: str, states: Sequence[State]) -> list[str]:
    what = "status" if kind == "jira" else "section"
    head = _line("    stages:" if states else "    stages: {}", f"{what} -> intake, backlog, in_progress, review, "
                 "blocked, done or cancelled")
    lines = [_line(f"      {_q(name)}: {stage.value}", f"default: {why}") for name, stage, why in states]
    if kind == "asana":
        lines.append("      # a completed task is done whatever its section")
    return [head, *lines]


def _source_lines(entry: dict) -> list[str]:
    out = [f"  - name: {entry['name']}", f"    kind: {entry['kind']}"]
    for key, value in entry.items():
        if key in ("name", "kind"):
            continue
        if key == "projects":
            out.append(_line(f"    projects: [{', '.join(map(_q, value))}]", "gids: the long numbers in the URLs"))
        else:
            out.append(f"    {key}: {value if str(value).startswith('${') else _q(str(value))}")
    return out


def starter_text(req: InitRequest, entry: dict, site: Site, now: datetime) -> str:
    """The starter config: the source as read, every guess commented, the xlsx sink."""
    kind = entry["kind"]
    origin = entry.get("url") or entry.get("base_url") or "Asana"
    lines = [
        f"# syncer configuration, written by `syncer init` from {origin} on {now:%Y-%m-%d}.",
        "# Every guess is commented: check the fields and stages, then `syncer validate` and `syncer doctor`.",
        "# Secrets are ${VAR} references read from the environment; config/example.yaml in the syncer repository",
        "# documents every key. Editor completion: `syncer schema > syncer.schema.json`, then make the first line",
        "#   # yaml-language-server: $schema=syncer.schema.json",
        "",
        _line(f"timezone: {req.timezone}", "your team's IANA zone: every date and period is computed in it"),
        _line("fiscal_year_start_month: 1", "1-12: the month your fiscal year starts"),
        _line("currency: EUR", "the currency of every amount"),
        "",
        "sources:",
        *_source_lines(entry),
        *_field_lines(kind, site.fields),
        *_stage_lines(kind, site.states),
        "",
        _line("sink:", "a local workbook, so the first `syncer run` works at once"),
        "  kind: xlsx",
        f"  path: out/{entry['name']}.xlsx",
        "  # or the shared Google Sheet (README: Writing to a Google Sheet):",
        "  # kind: gsheet",
        "  # spreadsheet_id: ${SHEET_ID}",
        "  # credentials: ${GOOGLE_SERVICE_ACCOUNT_JSON}",
        "",
        "state:",
        _line("  path: .syncer/state.db", "cursors and tasks between runs (SQLite)"),
    ]
    return "\n".join(lines) + "\n"
