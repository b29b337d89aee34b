"""Adapter contracts (sources and sinks) and their registry; other packages add adapters by entry point."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, Protocol

from syncer.model import Task

Cell = str | int | float | bool | None
Row = list[Cell]
Table = list[Row]  # row 0 is the header


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


@dataclass(slots=True)
class TabChange:
    """What writing one tab changes: rows added, changed and removed."""

    added: int = 0
    changed: int = 0
    removed: int = 0

    @property
    def rows_written(self) -> int:
        return self.added + self.changed + self.removed


@dataclass(slots=True)
class Plan:
    """The changes a sink would make; `state` is the sink's own data for `apply`."""

    tabs: dict[str, TabChange]
    state: Any = None
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_written(self) -> int:
        return sum(t.rows_written for t in self.tabs.values())


class Sink(Protocol):
    """Where the tables go: an xlsx workbook or a Google Sheet. Owned tabs only; others never written."""

    def read_tab(self, title: str) -> Table | None:
        """Values of a tab (e.g. finance's Budget) as rows, or None when the tab does not exist."""
        ...

    def plan(self, tables: Mapping[str, Table]) -> Plan:
        """Read the owned tabs once and compute what would change; writes nothing."""
        ...

    def apply(self, plan: Plan, log_row: Sequence[Cell]) -> int:
        """Write the planned changes and append the Sync log row; returns API requests used (0 for files)."""
        ...


BUILTIN_SOURCES = {
    "jira": "syncer.adapters.jira:JiraSource",
    "asana": "syncer.adapters.asana:AsanaSource",
    "replay": "syncer.adapters.replay:ReplaySource",
}
BUILTIN_SINKS = {
    "xlsx": "syncer.adapters.xlsx:XlsxSink",
    "gsheet": "syncer.adapters.gsheet:GsheetSink",
}


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(import_module(module), attr)


def _registry(group: str, builtin: Mapping[str, str]) -> dict[str, str]:
    found = dict(builtin)
    for ep in entry_points(group=group):
        found.setdefault(ep.name, ep.value)
    return found


def source_class(kind: str) -> Any:
    """The Source class for a config `kind` (built in, or added by a package's `syncer.sources` entry point)."""
    return _load(_registry("syncer.sources", BUILTIN_SOURCES)[kind])


def sink_class(kind: str) -> Any:
    """The Sink class for a config `kind` (`syncer.sinks` entry point group)."""
    return _load(_registry("syncer.sinks", BUILTIN_SINKS)[kind])
