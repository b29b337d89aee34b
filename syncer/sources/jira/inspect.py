"""What `syncer doctor` learns from a Jira site: reachable, signed in, the query, its fields and statuses."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from syncer.checks import Inspection, Level
from syncer.config import JiraSourceConfig
from syncer.domain.stages import jira_stage, stage_by_name
from syncer.errors import ConfigError, SyncerError
from syncer.sources.jira.client import JiraClient, SearchRejected
from syncer.sources.jira.settings import MYSELF_PATH


def inspect_site(client: JiraClient, cfg: JiraSourceConfig, where: str) -> Inspection:
    """Connect, sign in, try the JQL, list fields and statuses; every failure is a finding in the client's words."""
    out = Inspection(api="Jira", item="status")
    try:
        client.connect()
        out.add(Level.OK, "reachable", f"{client.site} is Jira Cloud")
        me = client.call(f"GET {MYSELF_PATH}", client.jira.myself)
    except SyncerError as e:
        return failed(out, "connection", e)
    out.add(Level.OK, "credentials",
            f"signed in as {me.get('displayName') or '?'} ({me.get('emailAddress') or cfg.email})")
    _check_jql(out, client, cfg, where)
    try:
        fields, statuses = client.fields(), client.statuses()
    except SyncerError as e:
        return failed(out, "fields and statuses", e)
    return listing(out, fields, statuses)


def failed(out: Inspection, what: str, e: SyncerError) -> Inspection:
    """A FAIL finding from one of our errors: config or credential problems exit 2, the rest 1."""
    detail = "; ".join(e.problems) if isinstance(e, ConfigError) else str(e)
    out.add(Level.FAIL, what, detail, config=isinstance(e, ConfigError))
    return out


def _check_jql(out: Inspection, client: JiraClient, cfg: JiraSourceConfig, where: str) -> None:
    if not cfg.jql.strip():
        out.add(Level.FAIL, "jql", f"{where}.jql is empty: set a query such as 'project = MKT'", config=True)
        return
    try:
        issues = client.search({"jql": cfg.jql, "maxResults": 1, "fields": "summary"}).get("issues") or []
    except SearchRejected as e:
        out.add(Level.FAIL, "jql", f"{where}.jql: Jira at {client.site} rejected the query: {e.detail}", config=True)
        return
    except SyncerError as e:
        failed(out, "jql", e)
        return
    if issues:
        out.add(Level.OK, "jql", f"{cfg.jql!r} finds issues (first: {issues[0].get('key')})")
    else:
        out.add(Level.WARN, "jql", f"{cfg.jql!r} finds no issue this account may browse")


def listing(out: Inspection, fields: Iterable[Mapping[str, Any]], statuses: Iterable[Mapping[str, Any]]) -> Inspection:
    """The site's fields and statuses (from a live read or saved pages), each status with its default stage."""
    named = [(str(f["id"]), str(f.get("name", "")), f.get("custom")) for f in fields if "id" in f]
    out.fields = [(i, n) for i, n, _ in named]
    out.custom = [(i, n) for i, n, c in named if c]
    for s in statuses:
        name, category = str(s.get("name", "")), (s.get("statusCategory") or {}).get("key")
        why = "by its name" if stage_by_name(name) else f"status category {category}"
        out.statuses.append((name, jira_stage(name, category, {})[0], why))
    out.listed = True
    return out
