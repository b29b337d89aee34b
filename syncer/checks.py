"""What `syncer doctor` learns from a source or a sink: findings, and the fields and statuses a source offers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from syncer.model import Stage


class Level(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of `syncer doctor` about a source: reachable, signed in, the query finds issues..."""

    level: Level
    what: str
    detail: str
    config: bool = False  # a FAIL the user fixes in the config or the credentials (exit 2), not unreachability (1)


@dataclass(slots=True)
class Inspection:
    """What `syncer doctor` learns from a source or sink: findings, and (a source) the fields and statuses it offers."""

    findings: list[Finding] = field(default_factory=list)
    api: str = ""  # how the report names the source's fields: "Jira", "Asana custom"
    item: str = "status"  # what a stage is mapped from: "status" or "section"
    fields: list[tuple[str, str]] = field(default_factory=list)  # (id, name) of every field
    custom: list[tuple[str, str]] = field(default_factory=list)  # (id, name) of the custom ones
    # (status or section name, the stage a SPEC §4 default gives it, why)
    statuses: list[tuple[str, Stage, str]] = field(default_factory=list)
    attributes: frozenset[str] = frozenset()  # names that are read off the task itself (Asana: notes, name...)
    listed: bool = False  # whether fields and statuses were read (the mapping checks need them)
    notes: list[str] = field(default_factory=list)
    reachable: bool = True  # false when the source or sink could not be opened at all

    def add(self, level: Level, what: str, detail: str, config: bool = False) -> None:
        self.findings.append(Finding(level, what, detail, config))
