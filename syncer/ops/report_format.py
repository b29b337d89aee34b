"""Rendering of `syncer report`: one set of sections, written as plain text or as markdown (chat, the GitHub step
summary). Markdown escapes every text that comes from a source (titles, owners, campaigns), so a `|` in a title
never breaks a table."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from syncer.config import Config
from syncer.domain.review import Week

SHOWN = 8  # items listed per group before "and N more"
FIGURES = ("Completed", "Started", "Created", "Newly blocked", "Reworked", "Review rounds", "First-pass yield",
           "Late", "Overdue at end", "Over estimate", "Intake gaps", "Logged h", "Utilization")
PERCENT = frozenset({"First-pass yield", "Utilization"})
# Inline markup characters; lines never start with source text (they start with "- " or "| "), so `#`, `-`, `+`
# and digits need no escape, and parentheses only form a link after `]`.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
Escape = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class Review:
    """Everything the report says about one week (rendered by `report_format`)."""

    week: Week
    as_of: datetime  # the figures' reference time
    cfg: Config
    rows: list[dict[str, Any]]  # the Weekly review rows of the week, `All` first
    moved: pl.DataFrame
    stuck: pl.DataFrame
    rework: pl.DataFrame
    notes: list[str]
    campaigns: list[dict[str, Any]] = field(default_factory=list)  # Campaigns rows delayed or at risk
    budget_over: list[dict[str, Any]] = field(default_factory=list)
    budget_unread: str | None = None  # why budget flags are not shown


@dataclass(slots=True)
class Section:
    """A heading and its content: paragraphs, one table (header, rows) and list items (each with sub-items)."""

    title: str
    lines: list[str] = field(default_factory=list)
    table: tuple[list[str], list[list[str]]] | None = None
    items: list[tuple[str, list[str]]] = field(default_factory=list)


def plain(text: str) -> str:
    return " ".join(str(text).split())


def md(text: str) -> str:
    """Markdown-safe inline text: one line, every markup character escaped."""
    return _MD_SPECIAL.sub(r"\\\1", plain(text))


def _value(name: str, v: Any) -> str:
    if v is None:
        return "–"
    if name in PERCENT:
        return f"{v:.0%}"
    return f"{v:.2f}" if name == "Review rounds" else f"{v:g}"


def _day(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b}"


def _stage(s: str) -> str:
    return s.replace("_", " ")


def _more(items: list[Any], shown: int = SHOWN) -> tuple[list[Any], str | None]:
    rest = len(items) - shown
    return items[:shown], (f"… and {rest} more" if rest > 0 else None)


def _task(r: dict[str, Any], esc: Escape) -> str:
    owner = esc(r["owner"]) if r.get("owner") else "no owner"
    return f"{esc(r['key'])} {esc(r['title'] or '')} — {owner}"


def _moved(review: Review, esc: Escape) -> Section:
    sec = Section("What moved")
    done = review.moved.filter(review.moved["what"] == "completed").to_dicts()
    started = review.moved.filter(review.moved["what"] == "started").to_dicts()
    created = review.rows[0]["Created"] if review.rows else 0
    sec.lines.append(f"{len(done)} completed, {len(started)} started, {created} new requests.")
    if review.moved.height:
        cats = review.moved.pivot("what", index="category", values="key", aggregate_function="len").fill_null(0)
        header = ["Category", *(c for c in ("completed", "started") if c in cats.columns)]
        sec.table = ([h.capitalize() for h in header],
                     [[esc(str(r[h.lower()])) for h in header] for r in cats.sort("category").to_dicts()])
    for label, rows in (("Completed", done), ("Started", started)):
        if rows:
            shown, more = _more(rows)
            sec.items.append((f"{label}:", [f"{_task(r, esc)}, {esc(r['category'])}" for r in shown]
                              + ([more] if more else [])))
    return sec


def _stuck(review: Review, esc: Escape) -> Section:
    when = "so far" if not review.week.complete else "at the end of the week"
    sec = Section(f"What got stuck ({when})")
    for (reason,), group in review.stuck.group_by("reason", maintain_order=True):
        rows = group.to_dicts()
        shown, more = _more(rows)
        subs = [f"{_task(r, esc)}, {_stage(r['stage'])}{_why(r, review, esc)}" for r in shown]
        sec.items.append((f"{str(reason).capitalize()}: {len(rows)}", subs + ([more] if more else [])))
    if not sec.items:
        sec.lines.append("Nothing was blocked, waiting, overdue or stale.")
    return sec


def _why(r: dict[str, Any], review: Review, esc: Escape) -> str:
    """The Attention row's own words: how long, and why."""
    reason, days, detail = r["reason"], r["days"], r["detail"]
    if reason == "waiting on":
        return f", waits on {esc(detail)}"
    if reason == "overdue":
        return f", {days:g} d past its due date {r['due_date']}"
    if reason == "stale":
        return f", no change for {days:g} d (since {r['since'].astimezone(review.cfg.tz):%Y-%m-%d})"
    return f", blocked for {days:g} d" + (f" ({esc(detail)})" if detail else "")


def _rework(review: Review, esc: Escape) -> Section:
    sec = Section("What caused rework")
    for (cat,), group in review.rework.group_by("category", maintain_order=True):
        rows = group.to_dicts()
        origins = ", ".join(f"{n} from {_stage(s)}" for s, n in _counts(r["from_stage"] for r in rows))
        shown, more = _more(rows)
        subs = [f"{_task(r, esc)}: {_stage(r['from_stage'])} → {_stage(r['to_stage'])}" for r in shown]
        sec.items.append((f"{esc(str(cat))}: {len(rows)} went back ({origins})", subs + ([more] if more else [])))
    if not sec.items:
        sec.lines.append("Nothing went back to an earlier stage.")
    return sec


def _counts(values: Iterable[str]) -> list[tuple[str, int]]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))


def _next(review: Review, esc: Escape) -> Section:
    sec = Section("What to look at next")
    cur = review.cfg.currency
    if review.notes:
        sec.items.append(("Notes:", [esc(n) for n in review.notes]))
    if review.campaigns:
        shown, more = _more(review.campaigns)
        sec.items.append(("Campaigns delayed or at risk:", [
            f"{esc(c['Campaign'])}: {c['Schedule']} (open {c['Open']}, overdue {c['Overdue']}, "
            f"last due {c['Last due'] or '–'}, forecast p50 {c['Forecast p50'] or '–'})" for c in shown]
            + ([more] if more else [])))
    if review.budget_over:
        shown, more = _more(review.budget_over)
        sec.items.append(("Budget over:", [
            f"{_budget_row(b, esc)}: remaining {b['Remaining']:,.2f} {cur}" for b in shown] + ([more] if more else [])))
    if review.budget_unread:
        sec.lines.append(f"Budget flags not shown: {review.budget_unread}.")
    if not sec.items and not sec.lines:
        sec.lines.append("Nothing is flagged.")
    return sec


def _budget_row(b: dict[str, Any], esc: Escape) -> str:
    if b["Activity"] == "Total":
        return f"{esc(b['Campaign'])} (campaign total)"
    gl = f" / {esc(b['G/L account'])}" if b["G/L account"] else ""
    return f"{esc(b['Campaign'])} / {esc(b['Activity'])}{gl}, {b['Period']}"


def sections(review: Review, esc: Escape) -> tuple[str, str, list[Section]]:
    """Title, subtitle and the sections of the report; `esc` makes source text safe for the output format."""
    w = review.week
    title = f"Weekly review {w.label} ({_day(w.monday)} – {_day(w.sunday)} {w.sunday.year})"
    as_of = review.as_of.astimezone(review.cfg.tz)
    subtitle = (f"Data as of {as_of:%Y-%m-%d %H:%M} ({review.cfg.timezone})"
                + ("; the week is not over yet, so it reads so far." if not w.complete else "."))
    teams = [r["Team"] for r in review.rows]
    figures = Section("The week in figures")
    if review.rows:
        figures.table = (["Figure", *map(esc, teams)], [[f, *(_value(f, r[f]) for r in review.rows)] for f in FIGURES])
    else:
        figures.lines.append("No activity this week.")
    return title, subtitle, [figures, _moved(review, esc), _stuck(review, esc), _rework(review, esc),
                             _next(review, esc)]


def _text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    fmt = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    return [fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)]


def render_text(review: Review) -> str:
    """The report as plain text (a terminal, a log)."""
    title, subtitle, secs = sections(review, plain)
    out = [title, subtitle]
    for s in secs:
        out += ["", s.title.upper(), *(f"  {line}" for line in s.lines)]
        if s.table:
            out += [f"  {line}" for line in _text_table(*s.table)]
        for head, subs in s.items:
            out += [f"  {head}", *(f"    - {x}" for x in subs)]
    return "\n".join(out) + "\n"


def render_markdown(review: Review) -> str:
    """The report as GitHub-flavoured markdown (chat, the Actions step summary)."""
    title, subtitle, secs = sections(review, md)
    out = [f"## {md(title)}", "", f"_{md(subtitle)}_"]
    for s in secs:
        out += ["", f"### {s.title}", ""]
        out += [*s.lines, *([""] if s.lines and (s.table or s.items) else [])]
        if s.table:
            header, rows = s.table
            out += [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}", *(f"| {' | '.join(r)} |" for r in rows)]
            out += [""] if s.items else []
        for head, subs in s.items:
            out += [f"- **{head}**", *(f"  - {x}" for x in subs)]
    return "\n".join(out) + "\n"


FORMATS: dict[str, Callable[[Review], str]] = {"text": render_text, "markdown": render_markdown}
