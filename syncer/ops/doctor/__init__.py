"""`syncer doctor`: credentials, reachability and field / status mapping of every source and of the sink.

Each source and sink inspects itself (`Source.inspect`, `Sink.inspect`, in its own API's words); this module puts
the findings into one report, with the config's mapping checked against what the sources offer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from syncer.config import AnySourceConfig, Config
from syncer.domain.budget import load_budget
from syncer.errors import ConfigError, SyncerError
from syncer.ops.doctor.mapping import mapping_checks
from syncer.ops.doctor.report import BAD_CONFIG, UNREACHABLE, Report, Section
from syncer.pipeline import make_sources
from syncer.retry import RetryPolicy
from syncer.sinks import Sink
from syncer.sinks.fanout import make_sink
from syncer.sources import Source

T = TypeVar("T")


def doctor(cfg: Config, policy: RetryPolicy | None = None) -> Report:
    """Check every source and sink (and a budget file or tab); never raises for what it finds."""
    # Few, short retries: someone is waiting at a terminal, and a FAIL says more than a long wait.
    policy = policy or RetryPolicy(attempts=2, cap=5.0)
    sections = []
    for scfg, src in zip(cfg.sources, make_sources(cfg, policy=policy), strict=True):
        sec = Section(f"source {scfg.name} ({scfg.kind}: {_detail(scfg)})")
        _guard(sec, _check_source, sec, scfg, src)
        sections.append(sec)
    primary = None  # the first sink, when it opens: a budget tab is read from it
    for i, sink_cfg in enumerate(cfg.sink_configs):
        sec = Section(f"{f'sinks[{i}]' if cfg.sinks else 'sink'} ({sink_cfg.kind}: {sink_cfg.target})")
        sink = _guard(sec, make_sink, cfg, policy, sink_cfg)
        found = _guard(sec, sink.inspect) if sink is not None else None
        if found is not None:
            sec.findings(found)
        if i == 0 and found is not None and found.reachable:
            primary = sink
        sections.append(sec)
    if cfg.budget is not None:
        sec = Section(f"budget ({cfg.budget.file or f'tab {cfg.budget.tab!r} of the sink'})")
        _guard(sec, budget_checks, sec, cfg, primary)
        sections.append(sec)
    return Report(sections)


def _detail(scfg: AnySourceConfig) -> str:
    if scfg.kind == "jira":
        return scfg.url
    if scfg.kind == "asana":
        return ", ".join(scfg.projects)
    return str(scfg.path)


def _check_source(sec: Section, scfg: AnySourceConfig, src: Source) -> None:
    found = src.inspect()
    sec.findings(found)
    if found.listed:
        mapping_checks(sec, scfg, found)


def _guard(sec: Section, fn: Callable[..., T], *args: Any) -> T | None:
    try:
        return fn(*args)
    except SyncerError as e:
        sec.error("check", e)
    except Exception as e:  # a check that crashes is a finding, not a reason to stop checking the rest
        sec.fail("check", f"unexpected error: {type(e).__name__}: {e}", UNREACHABLE)
    return None


def budget_checks(sec: Section, cfg: Config, sink: Sink | None) -> None:
    """The budget file, or the sink's budget tab (`sink` None: it could not be opened), reads as budget lines."""
    assert cfg.budget is not None
    if cfg.budget.file is None and sink is None:
        return sec.warn("budget.tab", "not checked: the sink could not be opened")
    try:
        lines, warnings = load_budget(cfg.budget, sink.read_tab if sink is not None else lambda _tab: None)
    except ConfigError as e:
        key, _, detail = str(e).partition(": ")
        return sec.fail(key, detail, BAD_CONFIG)
    sec.ok("budget", f"{len(lines)} budget line(s)")
    for w in warnings[:5]:
        sec.warn("budget", w)
    if len(warnings) > 5:
        sec.warn("budget", f"... and {len(warnings) - 5} more row(s) skipped")
