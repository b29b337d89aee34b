"""Several sinks in one run (`sinks: [...]`): every one planned before any is written, then written in order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from syncer.config import AnySinkConfig, Config
from syncer.domain.frames import Frames
from syncer.errors import SyncerError
from syncer.progress import Progress
from syncer.retry import RetryPolicy
from syncer.sinks import Plan, Sink, sink_class
from syncer.sinks.marks import SinkMarks
from syncer.state import State
from syncer.tables import Cell, Table


class Writer(NamedTuple):
    """One sink of the run: where it writes (for messages), its kind (for progress), the sink."""

    target: str
    kind: str
    sink: Sink


def make_sink(cfg: Config, policy: RetryPolicy | None = None, sink_cfg: AnySinkConfig | None = None) -> Sink:
    """Instantiate the configured sink (`sink_cfg`, else the first)."""
    sink_cfg = sink_cfg or cfg.sink
    assert sink_cfg is not None
    return sink_class(sink_cfg.kind).from_config(sink_cfg, cfg, policy=policy)


def make_writers(cfg: Config, given: Sequence[Sink] | None, policy: RetryPolicy) -> list[Writer]:
    """The sinks of the run, in write order: the configured ones, or those `given` (tests, benchmarks)."""
    known = cfg.sink_configs
    if given is None:
        return [Writer(c.target, c.kind, make_sink(cfg, policy, c)) for c in known]
    return [Writer(known[i].target, known[i].kind, s) if i < len(known) else Writer(f"sinks[{i}]", "sink", s)
            for i, s in enumerate(given)]


def plan_all(writers: Sequence[Writer], tables: Mapping[str, Table], frames: Frames, progress: Progress,
             warnings: list[str]) -> list[Plan]:
    """Every sink's plan, in write order, before any sink is written; their warnings go to `warnings`."""
    plans = []
    for w in writers:
        progress.start(f"plan {w.kind}")
        plans.append(w.sink.plan(tables, frames))
        progress.end(rows=plans[-1].rows_written)
        warnings.extend(plans[-1].warnings)
    return plans


def recall_all(writers: Sequence[Writer], state: State, recheck: bool) -> None:
    """Tell each sink, before the run's first read, what the state remembers of it (see `Sink.recall`)."""
    for w in writers:
        w.sink.recall(SinkMarks.load(state.sink_marks(w.sink.ident)), recheck)


def remember_all(writes: Sequence[tuple[Writer, Plan]], state: State) -> None:
    """Keep what each sink written now holds (its plan's marks, set by `apply`) for the next run's recall."""
    for w, plan in writes:
        state.save_sink_marks(w.sink.ident, plan.marks.dump() if plan.marks else None)


def apply_all(writes: Sequence[tuple[Writer, Plan]], log_row: Sequence[Cell], progress: Progress) -> int:
    """Write each sink's plan in order; returns the API requests they used.

    When one fails after others were written, the error says which were: the run's cursor and state do not
    advance (the caller commits only after this returns), so the next run reads the same window again and
    writes every sink again; the sinks already written find their rows unchanged and write only a log row.
    """
    used = 0
    for i, (w, plan) in enumerate(writes):
        progress.start(f"write {w.kind}")
        try:
            requests = w.sink.apply(plan, log_row)
        except SyncerError as e:
            if i == 0:
                raise
            done = ", ".join(earlier.target for earlier, _ in writes[:i])
            raise type(e)(f"{w.target}: {e} (already written this run: {done}; the cursor did not advance, so "
                          "the next run writes every sink again)") from None
        progress.end(rows=plan.rows_written)  # its requests: those the policy counted in this phase
        used += requests
    return used
