"""The source contract (Jira Cloud, Asana, replays of saved pages) and the registry of sources by `kind`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from syncer.model import Task
from syncer.plugins import load_ref, registry


@dataclass(slots=True)
class Page:
    """One raw API response body, with the endpoint and parameters that produced it."""

    endpoint: str
    params: dict[str, Any]
    body: Any


@dataclass(slots=True)
class FetchResult:
    """What one source returned in one run."""

    tasks: list[Task]
    complete: bool  # True: this is the whole source (a full read); tasks not in it are gone
    requests: int = 0
    warnings: list[str] = field(default_factory=list)
    deleted_keys: list[str] = field(default_factory=list)  # explicit deletions seen by an incremental read


class Source(Protocol):
    """A source of tasks: Jira Cloud, Asana, or a replay of saved raw pages."""

    name: str

    def read(self, since: datetime | None, now: datetime) -> FetchResult:
        """Fetch and map tasks changed since `since` (None: everything)."""
        ...

    def fetch_pages(self, since: datetime | None, now: datetime) -> Iterator[Page]:
        """The raw pages a read would map, for `syncer fetch`."""
        ...


BUILTIN_SOURCES = {
    "jira": "syncer.sources.jira:JiraSource",
    "asana": "syncer.sources.asana.source:AsanaSource",
    "replay": "syncer.sources.replay:ReplaySource",
}
def source_class(kind: str) -> Any:
    """The Source class for a config `kind` (built in, or added by a package's `syncer.sources` entry point)."""
    return load_ref(registry("syncer.sources", BUILTIN_SOURCES)[kind])
