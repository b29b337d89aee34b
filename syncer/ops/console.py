"""How a run's progress looks (SPEC §2): a live line per phase on a terminal (rich), one line per phase when the
output is a log (CI), nothing with `--quiet`. Always on stderr, so stdout keeps only the summary."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import Progress as Bar
from rich.progress import ProgressColumn, SpinnerColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from syncer.progress import NO_PROGRESS, PhaseFigures, Progress

REDRAW_S = 0.1  # a live line is drawn at most this often on a report (rich's own refresh runs besides)


class _Phases:
    """The running figures of the current phase, kept under a lock (sources may report from worker threads)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock, self.lock = clock, threading.Lock()
        self.name, self.figures, self.began = "", PhaseFigures(), clock()

    def start(self, phase: str) -> None:
        with self.lock:
            self.name, self.figures, self.began = phase, PhaseFigures(), self.clock()
        self.shown()

    def page(self, tasks: int = 0) -> None:
        with self.lock:
            self.figures.pages += 1
            self.figures.tasks += tasks
        self.shown()

    def request(self) -> None:
        with self.lock:
            self.figures.requests += 1
        self.shown()

    def waited(self, seconds: float) -> None:
        with self.lock:
            self.figures.waited += seconds
        self.shown()

    def end(self, *, tasks: int | None = None, requests: int | None = None, rows: int | None = None) -> None:
        with self.lock:
            f = self.figures
            f.tasks, f.requests, f.rows = (f.tasks if tasks is None else tasks, f.requests if requests is None
                                           else requests, f.rows if rows is None else rows)
        self.ended(self.clock() - self.began)

    def shown(self) -> None:
        """The figures changed (a live display redraws)."""

    def ended(self, seconds: float) -> None:
        """The phase is over, after `seconds`."""


class PhaseLines(_Phases):
    """One line per phase, once it is over: `fetch web: 14 pages, 140 tasks, 37 requests (1.2 s)`."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic):
        super().__init__(clock)
        self.stream = stream

    def ended(self, seconds: float) -> None:
        figures = self.figures.text()
        self.stream.write(f"{self.name}: {figures + ' ' if figures else ''}({seconds:.1f} s)\n")
        self.stream.flush()


class _Figures(ProgressColumn):
    """The figures column: the running phase's read from its counters as the line is drawn (so a report costs no
    update of rich's task), a finished phase's as they ended."""

    def __init__(self, lines: LiveLines):
        super().__init__()
        self.lines = lines

    def render(self, task: Task) -> Text:
        running = task.id == self.lines.task
        return Text(self.lines.figures.text() if running else task.fields.get("figures", ""))


class LiveLines(_Phases):
    """A live line per phase (rich): a spinner, the figures so far, the time spent; finished phases stay listed.

    rich redraws ten times a second on its own; a report draws at once only when `redraw_s` has passed since the
    last drawing (a replay reports thousands of pages a second, and a drawing costs milliseconds)."""

    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic, redraw_s: float = REDRAW_S):
        super().__init__(clock)
        self.bar = Bar(SpinnerColumn(finished_text="[green]✓"), TextColumn("[bold]{task.description:<12}"),
                       _Figures(self), TimeElapsedColumn(), console=console,
                       redirect_stdout=False)  # stdout is the summary's; log lines on stderr print above the bar
        self.task: TaskID | None = None
        self.redraw_s, self.drawn = redraw_s, clock()

    def start(self, phase: str) -> None:
        if self.task is not None:  # a phase left open (the run failed in it): stop its clock
            self.bar.stop_task(self.task)
        self.task = self.bar.add_task(phase, total=None, figures="")
        super().start(phase)

    def shown(self) -> None:
        now = self.clock()
        if self.task is not None and now - self.drawn >= self.redraw_s:
            self.drawn = now
            self.bar.refresh()

    def ended(self, seconds: float) -> None:
        if self.task is not None:
            self.bar.update(self.task, figures=self.figures.text(), total=1, completed=1, refresh=True)
            self.bar.stop_task(self.task)
            self.task = None


@contextmanager
def run_progress(quiet: bool = False, stream: TextIO | None = None) -> Iterator[Progress]:
    """The progress display for one command: live on a terminal, phase lines otherwise, none when `quiet`."""
    stream = stream or sys.stderr
    if quiet:
        yield NO_PROGRESS
        return
    if not stream.isatty():
        yield PhaseLines(stream)
        return
    live = LiveLines(Console(file=stream))
    live.bar.start()
    try:
        yield live
    finally:
        live.bar.stop()
