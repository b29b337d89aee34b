"""Intake write-back to Jira Cloud: the `intake-incomplete` label and the intake-check comment (REST v3)."""

from __future__ import annotations

import json
from typing import Any

from syncer.config import JiraSourceConfig
from syncer.domain.enforce import ADD_LABEL, COMMENT, LABEL, WriteBack
from syncer.errors import ConfigError, SyncerError
from syncer.retry import RetryPolicy, status_of
from syncer.sources.jira.client import JiraClient
from syncer.sources.jira.settings import (
    API,
    COMMENT_PATH,
    ISSUE_PATH,
)


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document: one paragraph per line, `- ` lines as one bullet list."""
    content: list[dict[str, Any]] = []
    for line in text.splitlines():
        if line.startswith("- "):
            item = {"type": "listItem", "content": [_para(line[2:])]}
            if content and content[-1]["type"] == "bulletList":
                content[-1]["content"].append(item)
            else:
                content.append({"type": "bulletList", "content": [item]})
        elif line.strip():
            content.append(_para(line))
    return {"type": "doc", "version": 1, "content": content}


def _para(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "content": [{"type": "text", "text": text}]}


class JiraWriter:
    """Writes labels and comments through its own JiraClient."""

    def __init__(self, cfg: JiraSourceConfig, where: str, policy: RetryPolicy):
        self.cfg, self.where = cfg, where
        self.client = JiraClient(cfg, where, policy)
        self.client.connect(check_cloud=False)  # the run's read checked the site already
        self._start = self.client.requests

    @property
    def requests(self) -> int:
        """HTTP requests this writer made (retries included)."""
        return self.client.requests - self._start

    def apply(self, w: WriteBack) -> None:
        """Send one write-back; raises ConfigError on 401/403, another SyncerError on other failures."""
        jira = self.client.jira
        if w.action == COMMENT:
            path = COMMENT_PATH.format(key=w.key)
            url = jira._get_url(path.removeprefix(API + "/"))
            self.client.call(f"POST {path}", jira._session.post, url, data=json.dumps({"body": adf(w.text)}),
                             errors=self._error)
            return
        op = "add" if w.action == ADD_LABEL else "remove"
        path = ISSUE_PATH.format(key=w.key)
        url = jira._get_url(path.removeprefix(API + "/"))
        body = {"update": {"labels": [{op: LABEL}]}}
        self.client.call(f"PUT {path}", jira._session.put, url, data=json.dumps(body), errors=self._error)

    def _error(self, endpoint: str, exc: BaseException) -> SyncerError:
        """The client's wording, except that a 401/403 here is about write permission."""
        if status_of(exc) in (401, 403):
            return ConfigError(
                f"{self.where} ({self.cfg.name}): Jira at {self.client.site} refused {endpoint} "
                f"(HTTP {status_of(exc)}). intake.enforce writes back to Jira: {self.where}.token must be an API "
                f"token of an account ({self.cfg.email}) with write permission (Edit issues, Add comments) in "
                "these projects; or set intake.enforce: report"
            )
        return self.client.error(endpoint, exc)
