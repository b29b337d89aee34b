"""What `syncer doctor` learns from Asana: whose token, the projects, their sections and custom fields."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import asana
import urllib3
from asana.rest import ApiException

from syncer.checks import Inspection, Level
from syncer.config import AsanaSourceConfig
from syncer.domain.stages import asana_stage, stage_by_name
from syncer.errors import ConfigError, SyncerError
from syncer.retry import RetryPolicy, status_of
from syncer.sources.asana.client import AsanaErrors, open_client, paginate
from syncer.sources.asana.settings import REQUEST_TIMEOUT, TASK_OPT_FIELDS

ERRORS = (ApiException, urllib3.exceptions.HTTPError, OSError, SyncerError)


def inspect_projects(cfg: AsanaSourceConfig, errors: AsanaErrors, policy: RetryPolicy) -> Inspection:
    """Sign in, then each project: its name, sections and custom fields. Failures are findings, in the sync's words."""
    out = Inspection(api="Asana custom", item="section")
    with open_client(cfg) as client:
        def get(method: Callable[..., Any], gid: str, opts: dict) -> dict:
            return policy.call(lambda: method(gid, dict(opts), full_payload=True, _request_timeout=REQUEST_TIMEOUT))

        def every(method: Callable[..., Any], gid: str, fields: str) -> list[dict]:
            pages = paginate(lambda o: get(method, gid, o), method.__name__, {"opt_fields": fields, "limit": 100},
                             errors.where)
            return [item for page in pages for item in page.body.get("data") or []]

        try:
            me = get(asana.UsersApi(client).get_user, "me", {"opt_fields": "name,email"}).get("data") or {}
            out.add(Level.OK, "credentials",
                    f"signed in to {cfg.base_url} as {me.get('name') or '?'} ({me.get('email') or '-'})")
        except ERRORS as e:
            if status_of(e) != 403:
                return _failed(out, "credentials", errors, e, "GET /users/me")
            # A token limited to scopes may lack users:read, which the sync does not need: the projects tell.
            out.add(Level.WARN, "credentials",
                    "Asana would not say whose token this is (HTTP 403: no users:read scope?)")
        custom: dict[str, str] = {}
        sections: list[str] = []
        for i, gid in enumerate(cfg.projects):
            try:
                project = get(asana.ProjectsApi(client).get_project, gid, {"opt_fields": "name"}).get("data") or {}
                names = [str(s.get("name")) for s in every(asana.SectionsApi(client).get_sections_for_project, gid,
                                                           "name")]
                settings = every(asana.CustomFieldSettingsApi(client).get_custom_field_settings_for_project, gid,
                                 "custom_field.gid,custom_field.name")
            except ERRORS as e:
                _failed(out, f"projects[{i}]", errors, e, f"GET /projects/{gid}", project=i)
                continue
            found = {str(c["gid"]): str(c.get("name")) for s in settings if "gid" in (c := s.get("custom_field") or {})}
            out.add(Level.OK, f"projects[{i}]", f"{gid} is {project.get('name')!r}: {len(names)} section(s), "
                                                f"{len(found)} custom field(s)")
            custom.update(found)
            sections += names
    return listing(out, sorted(custom.items()), sections)


def _failed(out: Inspection, what: str, errors: AsanaErrors, e: BaseException, endpoint: str,
            project: int | None = None) -> Inspection:
    err = e if isinstance(e, SyncerError) else errors.describe(e, endpoint, project=project)
    detail = "; ".join(err.problems) if isinstance(err, ConfigError) else str(err)
    out.add(Level.FAIL, what, detail, config=isinstance(err, ConfigError))
    return out


def listing(out: Inspection, custom: Sequence[tuple[str, str]], sections: Iterable[str]) -> Inspection:
    """The custom fields and sections (from a live read or saved pages), each section with its default stage."""
    out.fields = out.custom = list(custom)
    out.attributes = frozenset(f.split(".")[0] for f in TASK_OPT_FIELDS.split(","))  # notes, name...: task's own
    out.statuses = [(n, asana_stage(n, False, {})[0], "by its name" if stage_by_name(n) else "no name rule matches")
                    for n in dict.fromkeys(sections)]
    out.notes.append("a completed task is done whatever its section")
    out.listed = True
    return out


def workspace_projects(cfg: AsanaSourceConfig, errors: AsanaErrors, policy: RetryPolicy,
                       limit: int = 50) -> tuple[list[tuple[str, str]], bool]:
    """The active projects (gid, "workspace / name") the token sees, the first `limit`; and whether there are more.
    For `syncer init`, where the config names no project yet."""
    found: list[tuple[str, str]] = []
    with open_client(cfg) as client:
        def get(method: Callable[..., Any], *args: Any) -> Callable[[dict], dict]:
            return lambda opts: policy.call(lambda: method(*args, dict(opts), full_payload=True,
                                                           _request_timeout=REQUEST_TIMEOUT))

        try:
            workspaces = [w for page in paginate(get(asana.WorkspacesApi(client).get_workspaces), "GET /workspaces",
                                                 {"opt_fields": "name", "limit": 100}, errors.where)
                          for w in page.body.get("data") or []]
            for w in workspaces:
                endpoint = f"GET /workspaces/{w.get('gid')}/projects"
                listing = get(asana.ProjectsApi(client).get_projects_for_workspace, str(w.get("gid")))
                # "false" as text: the client would send Python's `False` as it prints.
                for page in paginate(listing, endpoint, {"opt_fields": "name", "limit": 100, "archived": "false"},
                                     errors.where):
                    for p in page.body.get("data") or []:
                        if len(found) == limit:
                            return found, True
                        found.append((str(p.get("gid")), f"{w.get('name')} / {p.get('name')}"))
        except ERRORS as e:
            raise (e if isinstance(e, SyncerError) else errors.describe(e, "GET /workspaces")) from None
    return found, False
