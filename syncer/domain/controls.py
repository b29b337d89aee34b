"""Intake rules per kind of request (SPEC §3 `intake.rules`) and finance's spend controls (SPEC §8), as
(rule, field, problem) findings for the Intake tab."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

from syncer.config import IntakeConfig, IntakeRule, RuleWhen
from syncer.domain.periods import LocalCalendar
from syncer.model import Stage, Task
from syncer.tables import to_cents

Finding = tuple[str, str, str]  # (rule, field, problem)
PO_OVER_PLANNED = "po_over_planned"
INVOICE_OVER_PO = "invoice_over_po"
INVOICE_WITHOUT_PO = "invoice_without_po"
PO_BEFORE_APPROVAL = "po_before_approval"


def _values(v: str | list[str] | None) -> list[str]:
    return [] if v is None else [v] if isinstance(v, str) else list(v)


def _norm(v: str | None) -> str:
    return (v or "").strip().casefold()


def rule_matches(when: RuleWhen, task: Task) -> bool:
    """Every key of `when` matches the task (a value, or any of a list), compared without case or outer spaces."""
    for key in ("source", "type", "category", "campaign"):
        wanted = _values(getattr(when, key))
        if wanted and _norm(getattr(task, key)) not in {_norm(w) for w in wanted}:
            return False
    return True


def rule_scope(when: RuleWhen) -> str:
    """The kind of request a rule is about, in words: `Webinar requests`, `Webinar or Event requests from web`,
    `requests in category Events of campaign Q4 Webinars`."""
    text = " or ".join(_values(when.type))
    text = f"{text} requests" if text else "requests"
    for key, word in (("source", "from"), ("category", "in category"), ("campaign", "of campaign")):
        values = _values(getattr(when, key))
        if values:
            text += f" {word} {' or '.join(values)}"
    return text


@dataclass(frozen=True, slots=True)
class Requirements:
    """What a task must carry: each required field with the rule that asks for it (None: `intake.required`), and
    the shortest brief allowed with the rule that sets it."""

    fields: Mapping[str, str | None]  # read-only: one kind's requirements are shared by its tasks
    brief_min_chars: int
    brief_scope: str | None


def requirements(task: Task, intake: IntakeConfig) -> Requirements:
    """`intake.required` and `brief_min_chars`, plus every `intake.rules` entry whose `when` matches the task:
    fields add up (the general rule named first), the strictest brief length wins."""
    fields: dict[str, str | None] = dict.fromkeys(intake.required)
    brief, brief_scope = intake.brief_min_chars, None
    rules: Iterable[IntakeRule] = (r for r in intake.rules if rule_matches(r.when, task))
    for rule in rules:
        scope = rule_scope(rule.when)
        for name in rule.required:
            fields.setdefault(name, scope)
        if rule.brief_min_chars is not None and rule.brief_min_chars > brief:
            brief, brief_scope = rule.brief_min_chars, scope
    return Requirements(MappingProxyType(fields), brief, brief_scope)


def requirements_by_kind(intake: IntakeConfig) -> Callable[[Task], Requirements]:
    """`requirements` of a task, worked out once per kind of request: a rule's `when` reads only the task's source,
    type, category and campaign, and a 100k-task check meets a few hundred such kinds (the result is shared, so its
    fields are read-only)."""
    found: dict[tuple[str, str, str | None, str | None], Requirements] = {}

    def of(task: Task) -> Requirements:
        kind = (task.source, task.type, task.category, task.campaign)
        need = found.get(kind)
        if need is None:
            need = found[kind] = requirements(task, intake)
        return need

    return of


def _money(cents: int) -> str:
    return f"{cents / 100:,.2f}"


def _approved_on(task: Task, cal: LocalCalendar) -> date | None:
    """The local day a request created in intake was first taken on: it entered a stage other than intake or
    cancelled (leaving intake for `cancelled` is a rejection, not an approval). None when that has not happened."""
    for ch in task.history:
        if ch.to_stage not in (Stage.INTAKE, Stage.CANCELLED):
            return cal.day(ch.at)
    return None


def spend_findings(task: Task, controls: Iterable[str], cal: LocalCalendar, unreadable: Iterable[str] = ()
                   ) -> list[Finding]:
    """The spend controls (SPEC §8) a task breaks, cancelled or not: money committed or billed counts either way.
    `unreadable`: amount fields that could not be parsed (already reported), which no control judges."""
    on, skip = set(controls), set(unreadable)
    planned, po, invoiced = (None if task_field in skip or v is None else to_cents(v) for task_field, v in (
        ("planned_cost", task.planned_cost), ("committed_amount", task.committed_amount),
        ("invoiced_amount", task.invoiced_amount)))
    out: list[Finding] = []
    if PO_OVER_PLANNED in on and po is not None and planned is not None and po > planned:
        out.append((PO_OVER_PLANNED, "committed_amount", f"the PO ({_money(po)}) is over the planned cost "
                                                         f"({_money(planned)}) by {_money(po - planned)}"))
    if INVOICE_OVER_PO in on and invoiced is not None and po is not None and invoiced > po:
        out.append((INVOICE_OVER_PO, "invoiced_amount", f"the invoices ({_money(invoiced)}) are over the PO "
                                                        f"({_money(po)}) by {_money(invoiced - po)}"))
    if INVOICE_WITHOUT_PO in on and invoiced and po is None and "committed_amount" not in skip:
        out.append((INVOICE_WITHOUT_PO, "invoiced_amount", f"{_money(invoiced)} is invoiced but there is no PO"))
    if PO_BEFORE_APPROVAL in on and task.po_date is not None and task.created_stage is Stage.INTAKE:
        approved = _approved_on(task, cal)
        if approved is None:
            out.append((PO_BEFORE_APPROVAL, "po_date", f"the PO is dated {task.po_date.isoformat()} but the "
                                                       "request was never approved (it did not leave intake for "
                                                       "work)"))
        elif task.po_date < approved:
            out.append((PO_BEFORE_APPROVAL, "po_date", f"the PO is dated {task.po_date.isoformat()}, before the "
                                                       f"request was approved on {approved.isoformat()}"))
    return out
