"""The source contract (Jira Cloud, Asana, replays of saved pages) and the registry of sources by `kind`."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Protocol

from syncer.checks import Inspection
from syncer.domain.enforce import WriteBack
from syncer.model import Problem, Stage, Task
from syncer.plugins import load_ref, registry
from syncer.progress import Progress


@dataclass(slots=True)
class Page:
    """One raw API response body, with the endpoint and parameters that produced it."""

    endpoint: str
    params: dict[str, Any]
    body: Any
    origin: str = ""  # where the page was read from, for messages (a saved page's file); "" for a live answer


@dataclass(frozen=True, slots=True)
class MapContext:
    """What mapping one source's raw pages needs besides the pages: the same for a live read and a replay."""

    source: str  # the source's name
    fields: Mapping[str, str]  # canonical field -> the source's field (name or id)
    stages: Mapping[str, Stage]  # status / section name -> stage
    tz: tzinfo
    where: str = "sources"  # the config key path, for errors
    currency: str | None = None  # amounts in another currency are refused, not booked as this one
    base_url: str = ""  # Jira: the site, for task URLs
    projects: tuple[str, ...] = ()  # Asana: the projects whose sections are the stages


Checkpoint = dict[str, Any]  # a source's own JSON-able data for its next incremental read, saved with the cursor


@dataclass(slots=True)
class FetchOutcome:
    """What a fetch learned besides its pages: the return value of `Source.fetch_pages`."""

    complete: bool  # the read provably saw the whole source: tasks it did not return are gone
    requests: int = 0  # HTTP requests made, retries included
    warnings: list[str] = field(default_factory=list)
    deleted_keys: list[str] = field(default_factory=list)  # explicit deletions seen by an incremental read
    checkpoint: Checkpoint | None = None  # what the next incremental read needs (None: nothing)


PageStream = Generator[Page, None, FetchOutcome]


def reported(stream: PageStream, progress: Progress, tasks_on: Callable[[Page], int]) -> PageStream:
    """The pages of `stream`, each reported to `progress` once fetched (with the tasks on it); the same outcome."""
    while True:
        try:
            page = next(stream)
        except StopIteration as end:
            return end.value
        progress.page(tasks=tasks_on(page))
        yield page


def drain(stream: PageStream) -> tuple[list[Page], FetchOutcome]:
    """Every page of a fetch, and its outcome."""
    pages: list[Page] = []
    while True:
        try:
            pages.append(next(stream))
        except StopIteration as end:
            return pages, end.value


@dataclass(slots=True)
class FetchResult:
    """What one source returned in one run.

    Deletions rest on `saw_everything`: a full read (`complete`) in which nothing went wrong. Any anomaly (a page
    that should exist does not, a body of the wrong shape, a record without an identity) clears that verdict, so
    no task is removed for being absent from such a read. A record the read saw but could not map is `kept`: the
    state keeps its last good version.
    """

    tasks: list[Task]
    complete: bool  # the source read everything it holds (a full read), not just what changed
    requests: int = 0
    warnings: list[str] = field(default_factory=list)
    deleted_keys: list[str] = field(default_factory=list)  # explicit deletions seen by an incremental read
    checkpoint: Checkpoint | None = None
    anomalies: list[str] = field(default_factory=list)  # why this read may lack records that still exist
    kept: dict[str, Problem] = field(default_factory=dict)  # key -> why it could not be mapped (last good kept)

    @property
    def saw_everything(self) -> bool:
        """True only for a full read without an anomaly: tasks absent from it are gone from the source."""
        return self.complete and not self.anomalies


class IntakeWriter(Protocol):
    """Writes intake labels and comments back to a source (`intake.enforce: label | comment`)."""

    @property
    def requests(self) -> int:
        """HTTP requests this writer made (retries included)."""
        ...

    def apply(self, write: WriteBack) -> None:
        """Send one write; raises ConfigError on 401/403 (stop writing), another SyncerError on other failures."""
        ...


class Source(Protocol):
    """A source of tasks: Jira Cloud, Asana, or a replay of saved raw pages. Everything the pipeline, `syncer fetch`
    and `syncer doctor` call is declared here."""

    name: str

    def fetch_pages(self, since: datetime | None, now: datetime, checkpoint: Checkpoint | None = None) -> PageStream:
        """The raw pages of a full (`since` None) or incremental read, in fetch order; returns the outcome."""
        ...

    def read(self, since: datetime | None, now: datetime, checkpoint: Checkpoint | None = None) -> FetchResult:
        """Fetch and map tasks changed since `since` (None: everything), from the last run's `checkpoint`."""
        ...

    def replay_meta(self) -> dict[str, Any]:
        """What `syncer fetch` records in the manifest so a replay maps the pages like this source."""
        ...

    def inspect(self) -> Inspection:
        """`syncer doctor`'s look: credentials, reachability, the fields and statuses offered. Never raises a
        SyncerError for what it finds (a finding says it)."""
        ...

    def intake_writer(self) -> IntakeWriter | None:
        """The write-back writer, or None where the source cannot be written to (a replay)."""
        ...


BUILTIN_SOURCES = {
    "jira": "syncer.sources.jira.source:JiraSource",
    "asana": "syncer.sources.asana.source:AsanaSource",
    "replay": "syncer.sources.replay:ReplaySource",
}


def source_class(kind: str) -> Any:
    """The Source class for a config `kind` (built in, or added by a package's `syncer.sources` entry point)."""
    return load_ref(registry("syncer.sources", BUILTIN_SOURCES)[kind])
