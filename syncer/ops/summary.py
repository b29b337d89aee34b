"""The human summary printed after a run."""

from __future__ import annotations

from typing import Any

from syncer.config import Config
from syncer.model import Stage
from syncer.tables import CLOSED_PERIODS


def _money(x: float, currency: str) -> str:
    return f"{x:,.2f} {currency}"


def format_summary(result: Any, cfg: Config) -> str:
    """Tasks per source, stages, per-tab changes, budget remaining, intake and cycle time, warnings."""
    run, plan = result.run, result.plan
    lines = [f"syncer {run.version}: {run.mode} sync in {run.duration_s:.2f} s"]
    for name, count in sorted(result.tasks_per_source.items()):
        lines.append(f"  source {name:<12} {count:>6} tasks")
    stages = ", ".join(f"{s.value} {result.stages.get(s.value, 0)}" for s in Stage)
    lines.append(f"  stages: {stages}")
    lines.append(f"  fetched {run.fetched}, changed {run.changed}, deleted {run.deleted}")
    verb = "would change" if run.mode == "dry-run" else "changed"
    assert cfg.sink is not None
    plans = result.plans or [(cfg.sink.target, plan)]
    for target, p in plans:  # one block per sink when there are several
        indent = "  " if len(plans) == 1 else "    "
        if len(plans) > 1:
            lines.append(f"  sink {target}:")
        for tab, ch in p.tabs.items():
            lines.append(f"{indent}tab {tab:<14} {verb}: +{ch.added} added, ~{ch.changed} changed, "
                         f"-{ch.removed} removed")
        lines.append(f"{indent}rows {'to write' if run.mode == 'dry-run' else 'written'}: {p.rows_written} -> "
                     f"{target}")
    s = result.summary or {}
    remaining = s.get("budget_remaining") or {}
    if remaining:
        lines.append("  budget remaining by campaign:")
        for campaign, amount in sorted(remaining.items()):
            lines.append(f"    {campaign:<24} {_money(amount, cfg.currency):>18}")
    if "intake_violations" in s:
        complete = s.get("intake_complete")
        share = f" (intake complete {complete:.0%})" if complete is not None else ""
        lines.append(f"  intake violations: {s['intake_violations']}{share}")
    schedules = s.get("campaigns_by_schedule") or {}
    for verdict in ("delayed", "at risk"):
        if schedules.get(verdict):
            lines.append(f"  campaigns {verdict}: {', '.join(schedules[verdict])}")
    if s.get("attention"):
        lines.append("  attention: " + ", ".join(f"{reason} {n}" for reason, n in s["attention"].items()))
    if "write_back" in s:
        wb = s["write_back"]
        verb = "would write back" if run.mode == "dry-run" else "wrote back"
        lines.append(f"  intake write-back ({cfg.intake.enforce}): {verb} {wb['labels']} label changes, "
                     f"{wb['comments']} comments")
    if s.get("median_cycle_days") is not None:
        lines.append(f"  median cycle time: {s['median_cycle_days']:.1f} days")
    if run.warnings:
        lines.append(f"  warnings: {len(run.warnings)} (listed in the Sync log tab)")
        lines.extend(f"    - {w}" for w in run.warnings[:10])
        if len(run.warnings) > 10:
            lines.append(f"    … and {len(run.warnings) - 10} more")
    return "\n".join(lines)


def format_period_change(result: Any, cfg: Config) -> str:
    """What `syncer close` / `syncer reopen` recorded: the Closed periods rows it appended, and where."""
    action, period = result.run.mode.split(" ", 1)
    rows = result.tables[CLOSED_PERIODS]
    last = rows[-1]
    by, at = last[3], last[2]
    target = getattr(cfg.sink, "path", None) or f"Google Sheet {getattr(cfg.sink, 'spreadsheet_id', '')}"
    if action == "reopen":
        head = f"reopened {period} (by {by} at {at}: {last[4]}); it is computed afresh from now on"
    else:
        frozen = sum(1 for r in rows[1:] if r[0] == period and r[1] == "close" and r[2] == at)
        head = (f"closed {period} (by {by} at {at}): {frozen} Budget rollup row{'s' * (frozen != 1)} frozen; "
                "later changes to it show as adjustment rows")
    return f"{head}\n  recorded in the {CLOSED_PERIODS} tab -> {target} ({result.run.rows_written} rows written)"
