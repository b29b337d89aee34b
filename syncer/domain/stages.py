"""Status -> stage mapping: the config's explicit map first, then the SPEC §4 defaults."""

from __future__ import annotations

from collections.abc import Mapping

from syncer.model import Stage

# First match wins, in this order (SPEC §4). Substrings are matched case-insensitively.
NAME_DEFAULTS: tuple[tuple[tuple[str, ...], Stage], ...] = (
    (("review", "approval"), Stage.REVIEW),
    (("block", "hold", "waiting"), Stage.BLOCKED),
    (("cancel", "won't", "won’t", "rejected", "duplicate"), Stage.CANCELLED),
    (("request", "intake", "triage"), Stage.INTAKE),
)
JIRA_CATEGORY_DEFAULTS = {"new": Stage.BACKLOG, "indeterminate": Stage.IN_PROGRESS, "done": Stage.DONE}


def stage_by_name(name: str) -> Stage | None:
    """The default stage a status or section name implies, or None."""
    lowered = name.lower()
    for needles, stage in NAME_DEFAULTS:
        if any(n in lowered for n in needles):
            return stage
    return None


def lookup_explicit(name: str, explicit: Mapping[str, Stage]) -> Stage | None:
    """The configured stage for a status name (exact first, then case-insensitive)."""
    if name in explicit:
        return explicit[name]
    lowered = name.strip().lower()
    for k, v in explicit.items():
        if k.strip().lower() == lowered:
            return v
    return None


def jira_stage(name: str, category_key: str | None, explicit: Mapping[str, Stage]) -> tuple[Stage, bool]:
    """Stage of a Jira status; the bool says whether a default (not the config) decided it."""
    stage = lookup_explicit(name, explicit)
    if stage is not None:
        return stage, False
    stage = stage_by_name(name)
    if stage is None:
        stage = JIRA_CATEGORY_DEFAULTS.get((category_key or "").lower(), Stage.BACKLOG)
    return stage, True


def asana_stage(section: str | None, completed: bool, explicit: Mapping[str, Stage]) -> tuple[Stage, bool]:
    """Stage of an Asana task from its completion and section; the bool says a default decided it."""
    if completed:
        return Stage.DONE, False
    if section:
        stage = lookup_explicit(section, explicit)
        if stage is not None:
            return stage, False
        stage = stage_by_name(section)
        if stage is not None:
            return stage, True
    return Stage.BACKLOG, True
