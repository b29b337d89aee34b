"""Intake write-back to Asana: the `intake-incomplete` tag and the intake-check comment (a task story)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asana
import urllib3
from asana.rest import ApiException

from syncer.config import AsanaSourceConfig
from syncer.domain.enforce import ADD_LABEL, COMMENT, LABEL, WriteBack
from syncer.errors import ConfigError, SourceError
from syncer.retry import RetryPolicy, Verdict, classify, status_of
from syncer.sources.asana.client import build_api_client, error_detail, paginate
from syncer.sources.asana.settings import (
    REQUEST_TIMEOUT,
    TAG_PAGE,
)


class AsanaWriter:
    """Adds/removes the tag (found or created once per run in the first project's workspace) and posts comments."""

    def __init__(self, cfg: AsanaSourceConfig, where: str, policy: RetryPolicy):
        self.cfg, self.where, self.policy = cfg, where, policy
        self.requests = 0
        self.client = build_api_client(cfg)
        self._tag: str | None = None

    def apply(self, w: WriteBack) -> None:
        """Send one write-back; raises ConfigError on 401/403, SourceError on other failures."""
        tasks = asana.TasksApi(self.client)
        if w.action == COMMENT:
            stories = asana.StoriesApi(self.client)
            self._call(f"POST /tasks/{w.key}/stories", stories.create_story_for_task,
                       {"data": {"text": w.text}}, w.key, {})
        elif w.action == ADD_LABEL:
            self._call(f"POST /tasks/{w.key}/addTag", tasks.add_tag_for_task,
                       {"data": {"tag": self.tag(create=True)}}, w.key)
        else:
            tag = self.tag(create=False)
            if tag is not None:  # no such tag in the workspace: nothing to remove
                self._call(f"POST /tasks/{w.key}/removeTag", tasks.remove_tag_for_task, {"data": {"tag": tag}}, w.key)

    def tag(self, create: bool) -> str | None:
        """The gid of the workspace's `intake-incomplete` tag (created when `create` and missing)."""
        if self._tag is not None:
            return self._tag
        project = self.cfg.projects[0]
        body = self._call(f"GET /projects/{project}", asana.ProjectsApi(self.client).get_project, project,
                          {"opt_fields": "workspace"})
        workspace = ((body.get("data") or {}).get("workspace") or {}).get("gid")
        if not workspace:
            raise SourceError(f"{self.where}: Asana did not say which workspace project {project} is in")
        tags_api = asana.TagsApi(self.client)
        endpoint = f"GET /workspaces/{workspace}/tags"

        def get(opts: dict[str, Any]) -> dict[str, Any]:
            return self._call(endpoint, tags_api.get_tags_for_workspace, workspace, opts, full_payload=True)

        for page in paginate(get, endpoint, {"opt_fields": "name", "limit": TAG_PAGE}, self.where):
            for t in page.body.get("data") or []:
                if t.get("name") == LABEL:
                    self._tag = str(t["gid"])
                    return self._tag
        if not create:
            return None
        made = self._call(f"POST /workspaces/{workspace}/tags", tags_api.create_tag_for_workspace,
                          {"data": {"name": LABEL}}, workspace, {"opt_fields": "name"})
        self._tag = str(made["data"]["gid"])
        return self._tag

    def _call(self, endpoint: str, fn: Callable[..., Any], *args: Any, full_payload: bool = False) -> Any:
        def once() -> Any:
            self.requests += 1
            kw: dict[str, Any] = {"_request_timeout": REQUEST_TIMEOUT}
            if full_payload:
                kw["full_payload"] = True
            return fn(*args, **kw)

        try:
            out = self.policy.call(once)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as e:
            status, detail = status_of(e), error_detail(e, [self.cfg.token.get_secret_value()])
            if classify(e) is Verdict.CONFIG:
                raise ConfigError(
                    f"{self.where} ({self.cfg.name}): Asana refused {endpoint} ({detail}). intake.enforce writes "
                    f"back to Asana: {self.where}.token must belong to a user who can edit these projects' tasks "
                    "(write permission); or set intake.enforce: report"
                ) from None
            if not status:
                raise SourceError(f"{self.where}: cannot reach Asana at {self.cfg.base_url} for {endpoint} "
                                  f"({type(e).__name__})") from None
            raise SourceError(f"{self.where}: Asana rejected {endpoint} ({detail})") from None
        return out if full_payload or not isinstance(out, dict) or "data" in out else {"data": out}
