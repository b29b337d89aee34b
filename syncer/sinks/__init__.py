"""The sink contract: where the tables go (an xlsx workbook, a Google Sheet, a warehouse), and the registry of sinks
by `kind`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from syncer.checks import Inspection
from syncer.domain.frames import Frames
from syncer.plugins import load_ref, registry
from syncer.sinks.marks import SinkMarks
from syncer.tables import Cell, Table


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
    marks: SinkMarks | None = None  # after `apply`: what the state remembers of the sink for the next run

    @property
    def rows_written(self) -> int:
        return sum(t.rows_written for t in self.tabs.values())


class Sink(Protocol):
    """Where the tables go. Owned tabs only; others are never written."""

    @property
    def requests(self) -> int:
        """API requests made so far (0 for files)."""
        ...

    def inspect(self) -> Inspection:
        """`syncer doctor`'s look: access, writability, syncer's tabs and their headers (never raises for a finding)."""
        ...

    def read_tab(self, title: str) -> Table | None:
        """Values of a tab (e.g. finance's Budget) as rows, or None when the tab does not exist."""
        ...

    @property
    def ident(self) -> str:
        """Where the sink writes (`xlsx:/abs/path`, `gsheet:<id>`): the key of its marks in the state."""
        ...

    def recall(self, marks: SinkMarks | None, recheck: bool = False) -> None:
        """Before the run's first read: what the state remembers of this sink. A tab whose table equals the one
        the marks say was last written is then skipped unread, when the sink can tell it was not touched since.
        `recheck` (a run due for a full read): read syncer's tabs back anyway where the sink cannot tell a hand edit."""
        ...

    def plan(self, tables: Mapping[str, Table], frames: Frames | None = None) -> Plan:
        """Read the owned tabs it needs once and compute what would change; writes nothing.

        `frames` are the canonical tasks, stage changes and worklogs behind the tables, for a sink that keeps them
        too (a warehouse, for BI tools); a sheet has no place for them and ignores them.
        """
        ...

    def apply(self, plan: Plan, log_row: Sequence[Cell]) -> int:
        """Write the planned changes and append the Sync log row; returns API requests used (0 for files)."""
        ...


BUILTIN_SINKS = {
    "xlsx": "syncer.sinks.xlsx:XlsxSink",
    "gsheet": "syncer.sinks.gsheet.sink:GsheetSink",
    "warehouse": "syncer.sinks.warehouse.sink:WarehouseSink",
}


def sink_class(kind: str) -> Any:
    """The Sink class for a config `kind` (built in, or added by a package's `syncer.sinks` entry point)."""
    return load_ref(registry("syncer.sinks", BUILTIN_SINKS)[kind])
