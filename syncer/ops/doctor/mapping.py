"""`syncer doctor`'s mapping checks: the config's `fields:` and `stages:` against what a source offers."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence

from syncer.checks import Inspection
from syncer.config import AnySourceConfig
from syncer.domain.stages import lookup_explicit
from syncer.model import Stage
from syncer.ops.doctor.report import BAD_CONFIG, Section

CLOSE = 0.6  # difflib cutoff for "renamed? closest match"


def closest(name: str, names: Iterable[str]) -> str | None:
    """The name `name` most likely became (case first, then difflib), or None."""
    names = list(names)
    same = [n for n in names if n.casefold() == name.casefold()]
    return (same or difflib.get_close_matches(name, names, n=1, cutoff=CLOSE) or [None])[0]


def field_checks(sec: Section, mapping: Mapping[str, str], available: Sequence[tuple[str, str]], api: str,
                 attributes: Iterable[str] = ()) -> dict[str, str]:
    """One check per configured field against the source's (id, name) fields; returns canonical -> field id.

    An unknown, renamed (closest match named) or ambiguous name FAILs: the sync would reject it (Jira) or read
    nothing (Asana). One source field mapped to two canonical fields WARNs.
    """
    names = {fid: name for fid, name in available}
    by_name: dict[str, list[str]] = {}
    for fid, name in available:
        by_name.setdefault(name, []).append(fid)
    resolved: dict[str, str] = {}
    for canonical, ref in mapping.items():
        what = f"fields.{canonical}"
        ids = [ref] if ref in names else by_name.get(ref, [])
        if len(ids) == 1:
            resolved[canonical] = ids[0]
            sec.ok(what, f"{ref!r} -> {names[ids[0]]!r} ({ids[0]})" if ref == ids[0] else f"{ref!r} ({ids[0]})")
        elif ids:
            sec.fail(what, f"{ref!r} is the name of {len(ids)} {api} fields ({', '.join(ids)}): duplicated name, "
                           "map it by id", BAD_CONFIG)
        elif ref in attributes:
            sec.ok(what, f"{ref!r} (a task attribute)")
        elif near := closest(ref, by_name):
            sec.fail(what, f"no {api} field named {ref!r}: renamed? closest match {near!r} "
                           f"({', '.join(by_name[near])})", BAD_CONFIG)
        else:
            sec.fail(what, f"no {api} field named {ref!r} (unknown)", BAD_CONFIG)
    twice: dict[str, list[str]] = {}
    for canonical, fid in resolved.items():
        twice.setdefault(fid, []).append(canonical)
    for fid, canonicals in twice.items():
        if len(canonicals) > 1:
            sec.warn("fields", f"{names[fid]!r} ({fid}) is mapped {len(canonicals)} times: {', '.join(canonicals)}")
    return resolved


def field_listing(sec: Section, label: str, fields: Sequence[tuple[str, str]], resolved: Mapping[str, str]) -> None:
    """The source's custom fields, each next to the canonical field(s) mapped to it."""
    mapped: dict[str, list[str]] = {}
    for canonical, fid in resolved.items():
        mapped.setdefault(fid, []).append(canonical)
    sec.note(f"{label} ({len(fields)}):")
    width = max((len(n) for _, n in fields), default=0)
    for fid, name in sorted(fields, key=lambda f: (f[1].casefold(), f[0])):
        sec.note(f"  {name:<{width}}  {fid:<20}  " + (f"<- {', '.join(mapped[fid])}" if fid in mapped else "-"))


def stage_checks(sec: Section, stages: Mapping[str, Stage], found: Iterable[tuple[str, Stage, str]], what: str) -> None:
    """`stages:` keys against the source's statuses / sections; each of those mapped (OK) or defaulted (WARN).

    `found` holds (name, the stage a default would give it, why).
    """
    found = sorted(set(found), key=lambda f: (f[0].casefold(), f[0], f[1].value))
    names = {n for n, _, _ in found}
    groups: dict[str, list[str]] = {}
    for key in stages:
        groups.setdefault(key.strip().casefold(), []).append(key)
    for keys in (k for k in groups.values() if len(k) > 1):
        sec.warn("stages", f"{' and '.join(repr(k) for k in keys)} are the same {what} (case is ignored): "
                           "duplicated name, keep one")
    for key, stage in stages.items():
        if key.strip().casefold() not in {n.casefold() for n in names}:
            near = closest(key.strip(), names)
            hint = f"renamed? closest match {near!r}" if near else "unknown"
            sec.warn(f"stages.{key}", f"no {what} named {key!r} ({hint}); its mapping to {stage.value} is unused")
    for name, default, why in found:
        stage = lookup_explicit(name, stages)
        if stage is not None:
            sec.ok(f"{what} {name!r}", f"-> {stage.value}")
        else:
            sec.warn(f"{what} {name!r}", f"not mapped: defaults to {default.value} ({why})")


def mapping_checks(sec: Section, scfg: AnySourceConfig, found: Inspection) -> None:
    """The source's custom fields listed next to the config's `fields:`, then each field and stage checked."""
    sub = Section("")  # the field checks go after the listing they refer to
    resolved = field_checks(sub, scfg.fields, found.fields, found.api, found.attributes)
    field_listing(sec, "custom fields", found.custom, resolved)
    sec.lines += sub.lines
    stage_checks(sec, scfg.stages, found.statuses, found.item)
