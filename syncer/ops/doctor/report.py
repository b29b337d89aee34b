"""`syncer doctor`'s report: a section per source and sink, one line per check, and the exit code it asks for."""

from __future__ import annotations

from dataclasses import dataclass, field

from syncer.checks import Finding, Inspection, Level
from syncer.errors import ConfigError, SyncerError

OK, WARN, FAIL = Level.OK, Level.WARN, Level.FAIL
UNREACHABLE, BAD_CONFIG = 1, 2  # a FAIL's exit code


@dataclass(slots=True)
class Check:
    """One line of the report: OK / WARN / FAIL, what was checked, what was found."""

    status: Level
    what: str
    detail: str
    code: int = 0  # exit code a FAIL asks for


@dataclass(slots=True)
class Section:
    """One source or the sink: its checks in order, with plain listing lines between them."""

    title: str
    lines: list[Check | str] = field(default_factory=list)

    def ok(self, what: str, detail: str) -> None:
        self.lines.append(Check(OK, what, detail))

    def warn(self, what: str, detail: str) -> None:
        self.lines.append(Check(WARN, what, detail))

    def fail(self, what: str, detail: str, code: int) -> None:
        self.lines.append(Check(FAIL, what, detail, code))

    def error(self, what: str, exc: SyncerError) -> None:
        """A FAIL from one of our errors: config/credential problems exit 2, the rest (unreachable) 1."""
        if isinstance(exc, ConfigError):
            self.fail(what, "; ".join(exc.problems), BAD_CONFIG)
        else:
            self.fail(what, str(exc), UNREACHABLE)

    def note(self, text: str) -> None:
        self.lines.append(text)

    def finding(self, f: Finding) -> None:
        """A source's or sink's own finding (a FAIL the user fixes in the config exits 2, else 1)."""
        self.lines.append(Check(f.level, f.what, f.detail, (BAD_CONFIG if f.config else UNREACHABLE)
                                if f.level is Level.FAIL else 0))

    def findings(self, found: Inspection) -> None:
        """Every finding, then the notes (listings) of an inspection."""
        for f in found.findings:
            self.finding(f)
        for note in found.notes:
            self.note(note)


@dataclass(slots=True)
class Report:
    """Every section; `exit_code` is 0 without a FAIL, else the worst FAIL's (2 config beats 1 unreachable)."""

    sections: list[Section]

    @property
    def checks(self) -> list[Check]:
        return [c for s in self.sections for c in s.lines if isinstance(c, Check)]

    @property
    def exit_code(self) -> int:
        return max((c.code for c in self.checks if c.status == FAIL), default=0)

    def format(self) -> str:
        """The readable report: a heading per section, one line per check, a summary line."""
        out: list[str] = []
        for s in self.sections:
            out.append(s.title)
            for line in s.lines:
                out.append(f"  {line.status:<4}  {line.what}: {line.detail}" if isinstance(line, Check)
                           else f"        {line}")
        counts = {k: sum(c.status == k for c in self.checks) for k in (OK, WARN, FAIL)}
        out.append(f"{counts[OK]} OK, {counts[WARN]} WARN, {counts[FAIL]} FAIL (exit {self.exit_code})")
        return "\n".join(out)
