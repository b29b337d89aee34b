"""Intake write-back (SPEC §3 `intake.enforce`): decide which labels and comments go back to the sources."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from syncer.domain.intake import Violation
from syncer.model import Stage, Task

LABEL = "intake-incomplete"
MARKER = "[syncer intake check]"
LIVE_KINDS = frozenset({"jira", "asana"})
ADD_LABEL, REMOVE_LABEL, COMMENT = "add_label", "remove_label", "comment"
_PREFIX = "Still in intake: "


@dataclass(frozen=True, slots=True)
class WriteBack:
    """One write to one task of a source: add or remove the label, or post one comment."""

    source: str
    key: str
    action: str  # ADD_LABEL | REMOVE_LABEL | COMMENT
    text: str = ""  # the comment (plain text, first line the marker and the digest)
    digest: str = ""  # the problem set's hash (comments only)


@dataclass(frozen=True, slots=True)
class Mark:
    """What syncer last wrote to one task: whether its label is on, and the digest of its last comment."""

    labelled: bool | None = None  # None: syncer never touched the label
    digest: str | None = None


@dataclass(slots=True)
class Decision:
    """The write-backs of one run, and a warning about sources that cannot be written to."""

    writes: list[WriteBack] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many labels (added or removed) and comments the writes are."""
        labels = sum(w.action != COMMENT for w in self.writes)
        return {"labels": labels, "comments": len(self.writes) - labels}


def digest(violations: Iterable[Violation]) -> str:
    """A short, stable hash of a task's problem set: which rules it breaks on which fields."""
    keys = sorted({f"{v.rule}|{v.field}" for v in violations})
    return hashlib.blake2b("\n".join(keys).encode(), digest_size=6).hexdigest()


def _plain(problem: str) -> str:
    text = problem.removeprefix(_PREFIX)
    return text[:1].upper() + text[1:]


def comment_text(violations: Sequence[Violation], problems_digest: str) -> str:
    """The comment for one task: the marker line, then each problem in plain language."""
    lines = [f"{MARKER} {problems_digest}",
             "This request is missing what marketing operations and finance need before it can be accepted:"]
    lines += [f"- {_plain(v.problem)}" for v in violations]
    lines.append("Please fix these in the task. syncer checks on every sync and comments again only if the list "
                 "changes.")
    return "\n".join(lines)


def decide(
    tasks: Iterable[Task],
    violations: Iterable[Violation],
    enforce: str,
    kinds: Mapping[str, str],
    marks: Mapping[tuple[str, str], Mark],
    fresh: set[tuple[str, str]] | frozenset = frozenset(),
) -> Decision:
    """The write-backs `enforce` asks for (pure).

    `kinds` maps source name -> kind (only jira and asana are written to; replay sources get one warning).
    `marks` is what syncer wrote before (the state); `fresh` the tasks read from the source this run, whose
    labels are current (an older stored copy may predate syncer's own label change, so the mark wins there).
    """
    out = Decision()
    if enforce not in ("label", "comment"):
        return out
    by_task: dict[tuple[str, str], list[Violation]] = {}
    for v in violations:
        by_task.setdefault((v.source, v.key), []).append(v)
    read_only: set[str] = set()
    for t in sorted(tasks, key=lambda t: (t.source, t.key)):
        k = (t.source, t.key)
        if kinds.get(t.source) not in LIVE_KINDS:
            read_only.add(t.source)
            continue
        found = by_task.get(k, []) if t.stage is Stage.INTAKE else []
        mark = marks.get(k, Mark())
        if enforce == "label":
            has = LABEL in t.labels if k in fresh or mark.labelled is None else mark.labelled
            if found and not has:
                out.writes.append(WriteBack(t.source, t.key, ADD_LABEL))
            elif not found and has:
                out.writes.append(WriteBack(t.source, t.key, REMOVE_LABEL))
        elif found:
            d = digest(found)
            if d != mark.digest:
                out.writes.append(WriteBack(t.source, t.key, COMMENT, comment_text(found, d), d))
    if read_only:
        out.warnings.append(f"intake.enforce: {enforce}: {', '.join(sorted(read_only))} "
                            f"{'is a replay source' if len(read_only) == 1 else 'are replay sources'} (read-only); "
                            "nothing is written back there")
    return out


def marks_after(marks: Mapping[tuple[str, str], Mark], done: Iterable[WriteBack]) -> dict[tuple[str, str], Mark]:
    """The marks to store once `done` (the writes that succeeded) went through."""
    out = dict(marks)
    for w in done:
        old = out.get((w.source, w.key), Mark())
        if w.action == COMMENT:
            out[(w.source, w.key)] = Mark(old.labelled, w.digest)
        else:
            out[(w.source, w.key)] = Mark(w.action == ADD_LABEL, old.digest)
    return out
