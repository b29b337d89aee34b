"""Progress of a run, as the pipeline, the sources and the retry policy report it; the CLI renders it.

A run is a sequence of phases (`fetch web`, `compute`, `write xlsx`), one at a time; within one, a source reports
each page it fetched, and the retry policy each request it sends and each wait (possibly from worker threads).
Nothing here prints: a renderer (`syncer.ops.console`) draws a live line per phase on a terminal, one line per
phase otherwise, or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Progress(Protocol):
    """Where a run reports what it is doing. Every method is cheap and may be called from any thread."""

    def start(self, phase: str) -> None:
        """A phase begins (`fetch web`, `compute`, `write gsheet`)."""
        ...

    def page(self, tasks: int = 0) -> None:
        """One page fetched in the current phase, holding `tasks` tasks."""
        ...

    def request(self) -> None:
        """The retry policy is sending one HTTP request (a first attempt or a retry)."""
        ...

    def waited(self, seconds: float) -> None:
        """The retry policy is about to wait this long before the next attempt."""
        ...

    def end(self, *, tasks: int | None = None, requests: int | None = None, rows: int | None = None) -> None:
        """The current phase is over; the exact totals where the caller knows them (they replace the running ones)."""
        ...


class NoProgress:
    """Reports go nowhere: the default everywhere (tests, the daemon, `--quiet`)."""

    def start(self, phase: str) -> None:
        pass

    def page(self, tasks: int = 0) -> None:
        pass

    def request(self) -> None:
        pass

    def waited(self, seconds: float) -> None:
        pass

    def end(self, *, tasks: int | None = None, requests: int | None = None, rows: int | None = None) -> None:
        pass


NO_PROGRESS = NoProgress()


@dataclass(slots=True)
class PhaseFigures:
    """What one phase did so far."""

    pages: int = 0
    tasks: int = 0
    requests: int = 0
    rows: int = 0
    waited: float = 0.0

    def text(self) -> str:
        """`12 pages, 1,200 tasks, 34 requests, waited 3.0 s` (figures that are zero are left out)."""
        parts = [f"{n:,} {word}{'s' * (n != 1)}" for n, word in ((self.pages, "page"), (self.tasks, "task"),
                                                                  (self.rows, "row"), (self.requests, "request"))
                 if n]
        if self.waited:
            parts.append(f"waited {self.waited:.1f} s on retries")
        return ", ".join(parts)
