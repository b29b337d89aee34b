"""Replay source: reads a folder of raw API pages saved by `syncer fetch` and maps them like a live read."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import msgspec

from syncer.checks import Inspection, Level
from syncer.config import Config, ReplaySourceConfig
from syncer.errors import ConfigError, SourceError, SyncerError
from syncer.progress import NO_PROGRESS, Progress
from syncer.sources import Checkpoint, FetchOutcome, FetchResult, MapContext, Page, PageStream, reported
from syncer.sources.asana import mapping as asana
from syncer.sources.asana.inspect import listing as asana_listing
from syncer.sources.asana.slim import decode_page as asana_slim
from syncer.sources.jira import mapping as jira
from syncer.sources.jira.inspect import listing as jira_listing
from syncer.sources.jira.settings import FIELD_PATH, STATUS_PATH
from syncer.sources.jira.slim import decode_page as jira_slim

MANIFEST = "manifest.json"
MAPPERS = {"jira": jira.map_pages, "asana": asana.map_pages}  # one mapping per API, shared with the live sources
TASKS_ON = {"jira": jira.tasks_on, "asana": asana.tasks_on}
SlimDecoder = Callable[[str, dict[str, Any], bytes], Any]  # (endpoint, params, bytes) -> body, or None: decode all
# A sync's reads decode only what the mapping reads (`syncer fetch` and `doctor` see whole pages).
SLIM: dict[str, SlimDecoder] = {"jira": jira_slim, "asana": asana_slim}
FORMAT = 1


def read_manifest(folder: Path, where: str) -> dict[str, Any]:
    """Load and check `manifest.json`; a missing folder is a config error naming the key path, a damaged manifest a
    SourceError naming the file and the JSON path of what is wrong."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{where}.path: {folder} holds no {MANIFEST} (make one with `syncer fetch`)")
    manifest = _load_json(path)
    problems = manifest_problems(manifest)
    if problems:
        raise SourceError(f"{path}: {'; '.join(problems)} (expected {{'api': 'jira'|'asana', 'pages': "
                          "[{'file': ..., 'endpoint': ..., 'params': {...}}]}, as `syncer fetch` writes it)")
    return manifest


def manifest_problems(manifest: Any) -> list[str]:
    """What is wrong with a manifest, each named by its JSON path (`$.pages[2].file: missing`)."""
    if not isinstance(manifest, dict):
        return [f"$: expected an object, found {_kind(manifest)}"]
    out = [] if manifest.get("api") in ("jira", "asana") else [f"$.api: expected 'jira' or 'asana', found "
                                                                f"{manifest.get('api')!r}"]
    pages = manifest.get("pages")
    if not isinstance(pages, list):
        return [*out, f"$.pages: expected a list of pages, found {_kind(pages)}"]
    for i, entry in enumerate(pages):
        if not isinstance(entry, dict):
            out.append(f"$.pages[{i}]: expected an object, found {_kind(entry)}")
            continue
        for key in ("file", "endpoint"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                out.append(f"$.pages[{i}].{key}: expected a text, found {_kind(entry.get(key))}")
        if not isinstance(entry.get("params") or {}, dict):
            out.append(f"$.pages[{i}].params: expected an object, found {_kind(entry['params'])}")
    return out


def _kind(value: Any) -> str:
    return "nothing" if value is None else {dict: "an object", list: "a list", str: "a text"}.get(
        type(value), f"{type(value).__name__} {value!r}"[:60])


def _load_json(path: Path | str, slim: Callable[[bytes], Any] | None = None) -> Any:
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise SourceError(f"{path}: not readable JSON ({e})") from None
    body = slim(data) if slim else None
    if body is not None:
        return body
    try:
        try:  # msgspec builds the same dicts and lists, several times faster than the standard library
            return msgspec.json.decode(data)
        except msgspec.DecodeError:
            pass  # not strict JSON (a NaN, a BOM, bad UTF-8) or broken: the standard library decides, and words why
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise SourceError(f"{path}: the JSON is nested too deeply to be an API page") from None
    except ValueError as e:
        raise SourceError(f"{path}: not readable JSON ({e})") from None


def check_folder(folder: Path, where: str) -> list[str]:
    """What `validate` (and `run`, first) reports about a replay folder: missing, not a folder, no readable
    manifest, page files it lists that are not there."""
    if not folder.exists():
        return [f"{where}.path: {folder} does not exist (save a source there with `syncer fetch --out {folder}`)"]
    if not folder.is_dir():
        return [f"{where}.path: {folder} is a file, not a folder of saved pages"]
    try:
        manifest = read_manifest(folder, where)
    except (ConfigError, SourceError) as e:
        return [f"{where}.path: {p}" if not p.startswith(f"{where}.") else p for p in str(e).splitlines()]
    missing = [e["file"] for e in manifest["pages"] if not (folder / e["file"]).is_file()]
    if missing:
        return [f"{where}.path: {folder / MANIFEST} lists page files that are not there: {', '.join(missing[:5])}"
                + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")]
    return []


class _Stamp(msgspec.Struct):
    fetched_at: str | None = None  # the one field read: the rest of a 10k-page manifest is skipped, not built


def fetched_at(folder: Path) -> datetime | None:
    """When a saved folder's pages were fetched (its manifest's `fetched_at`), or None if unknown."""
    try:
        stamp = msgspec.json.decode((folder / MANIFEST).read_bytes(), type=_Stamp).fetched_at
        return datetime.fromisoformat(stamp) if stamp else None
    except (OSError, ValueError, msgspec.DecodeError):  # ValidationError is a DecodeError
        return None


def read_pages(folder: Path, manifest: dict[str, Any], slim: SlimDecoder | None = None) -> Iterator[Page]:
    """The saved pages, in the order they were fetched; with `slim`, each body decoded only as far as the
    mapping reads it (where the page's shape allows)."""
    base = str(folder)  # joined as text: a Path per page costs more than reading a small page (70k pages: 0.4 s)
    for entry in manifest["pages"]:
        path, endpoint, params = _joined(folder, base, entry["file"]), entry["endpoint"], entry.get("params") or {}
        decode = partial(slim, endpoint, params) if slim else None
        yield Page(endpoint, params, _load_json(path, decode), path)


def _joined(folder: Path, base: str, name: str) -> str:
    """`str(folder / name)`, joined as text for a plain file name (what `syncer fetch` writes)."""
    if os.sep in name or (os.altsep and os.altsep in name) or name in ("", ".", "..") or base == ".":
        return str(folder / name)
    return os.path.join(base, name)


class PageMark(NamedTuple):
    """What `missing_pages` needs of a page: its request's tokens and the token its body hands out."""

    endpoint: str
    sent: tuple[tuple[str, str], ...]  # (name, token) it was asked for with
    promise: tuple[str, str | None]  # (name, token) of the next page it promises
    origin: str


def mark_of(page: Page) -> PageMark:
    sent = tuple((name, str(page.params[name])) for name in ("nextPageToken", "offset") if page.params.get(name))
    return PageMark(page.endpoint, sent, _promise(page.body), page.origin)


def marked(pages: Iterable[Page], marks: list[PageMark]) -> Iterator[Page]:
    """The pages, each one's mark appended to `marks` as it passes (the pages themselves are not kept)."""
    for page in pages:
        marks.append(mark_of(page))
        yield page


def missing_pages(marks: list[PageMark]) -> list[str]:
    """Pages that promise a next page (a `nextPageToken`, Asana's `next_page.offset`) the save does not hold: the
    folder is not the whole source, so nothing may be inferred from what it lacks."""
    sent = {(m.endpoint, name, token) for m in marks for name, token in m.sent}
    out = []
    promised = set()
    for m in marks:
        name, token = m.promise
        promised.add((m.endpoint, name, token))
        if token and (m.endpoint, name, token) not in sent:
            out.append(f"{m.origin}: promises a next page ({name} {token[:40]!r}) that the saved folder does not "
                       "hold; the save is incomplete (save it again with `syncer fetch`)")
    for m in marks:  # and the other way round: a page asked for with a token no saved page handed out
        for name, token in m.sent:
            if (m.endpoint, name, token) not in promised:
                out.append(f"{m.origin}: was asked for with {name} {token[:40]!r}, but the page before it "
                           "is not in the saved folder; the save is incomplete (save it again with `syncer fetch`)")
    return out


def _promise(body: Any) -> tuple[str, str | None]:
    if not isinstance(body, dict):
        return "", None
    if body.get("nextPageToken") and body.get("isLast") is not True:
        return "nextPageToken", str(body["nextPageToken"])
    nxt = body.get("next_page")
    return ("offset", str(nxt["offset"])) if isinstance(nxt, dict) and nxt.get("offset") else ("", None)


def write_pages(folder: Path, api: str, pages: Iterable[Page], **meta: Any) -> int:
    """Save pages (bodies as returned) plus a manifest; returns how many pages were written.

    Page files of an earlier save in the same folder (numbered `0001.json` ...) are removed first, so the folder
    holds exactly these pages; no other file is touched.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        if old.stem.isdigit():
            old.unlink()
    entries = []
    for i, page in enumerate(pages, 1):
        name = f"{i:04d}.json"
        (folder / name).write_text(_dump(page.body), encoding="utf-8")
        entries.append({"file": name, "endpoint": page.endpoint, "params": page.params})
    manifest = {"format": FORMAT, "api": api, **meta, "pages": entries}
    (folder / MANIFEST).write_text(_dump(manifest), encoding="utf-8")
    return len(entries)


def _dump(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, indent=1) + "\n"


class ReplaySource:
    """A source that is a folder of saved pages; every read is complete (it is the whole source)."""

    def __init__(self, cfg: ReplaySourceConfig, settings: Config, where: str = "sources", policy: object = None,
                 progress: Progress = NO_PROGRESS):
        self.name, self.cfg, self.settings, self.where = cfg.name, cfg, settings, where
        self.progress = progress

    def fetch_pages(self, since: datetime | None, now: datetime, checkpoint: Checkpoint | None = None) -> PageStream:
        yield from read_pages(self.cfg.path, read_manifest(self.cfg.path, self.where))
        return FetchOutcome(complete=True)

    def replay_meta(self) -> dict[str, Any]:
        """What `syncer fetch` records about this source (a replay of a replay keeps the original API)."""
        m = read_manifest(self.cfg.path, self.where)
        return {k: m[k] for k in ("api", "base_url", "projects") if k in m}

    def intake_writer(self) -> None:
        return None  # saved pages are read-only

    def read(self, since: datetime | None, now: datetime, checkpoint: Checkpoint | None = None) -> FetchResult:
        """Every saved page mapped as it is read: a page is dropped once the mapping has taken what it reads."""
        manifest = read_manifest(self.cfg.path, self.where)
        api, marks = manifest["api"], []
        pages = read_pages(self.cfg.path, manifest, SLIM.get(api))
        mc = MapContext(self.name, self.cfg.fields, self.cfg.stages, self.settings.tz, self.where,
                        self.settings.currency, manifest.get("base_url", ""), tuple(manifest.get("projects") or ()))
        mapped = MAPPERS[api](marked(reported(pages, self.progress, TASKS_ON[api]), marks), mc)
        return FetchResult(tasks=mapped.tasks, complete=True, warnings=mapped.warnings,  # the whole source
                           anomalies=[*missing_pages(marks), *mapped.anomalies], kept=mapped.kept)

    def inspect(self) -> Inspection:
        """The saved pages' manifest, and the fields and statuses (or sections) the pages carry."""
        out = Inspection()
        try:
            manifest = read_manifest(self.cfg.path, self.where)
            pages = list(read_pages(self.cfg.path, manifest))
        except SyncerError as e:
            out.add(Level.FAIL, "saved pages", "; ".join(e.problems) if isinstance(e, ConfigError) else str(e),
                    config=isinstance(e, ConfigError))
            return out
        api = manifest["api"]
        out.add(Level.OK, "saved pages",
                f"{len(pages)} page(s) of {api}, fetched {manifest.get('fetched_at') or '(time unknown)'}")
        bodies = {p.endpoint.partition(" ")[2]: p.body for p in pages}
        if api == "jira" and FIELD_PATH in bodies and STATUS_PATH in bodies:
            out.api, out.item = "Jira", "status"
            return jira_listing(out, bodies[FIELD_PATH], bodies[STATUS_PATH])
        if api == "asana":  # no field or section list is saved: what the saved tasks carry stands in for them
            out.api, out.item = "Asana custom", "section"
            return asana_listing(out, *_asana_fields_and_sections(pages, manifest))
        return out


def _asana_fields_and_sections(pages: Iterable[Page], manifest: dict[str, Any]) -> tuple[list, list[str]]:
    projects, custom, sections = set(manifest.get("projects") or ()), {}, []
    for t in (t for p in pages if p.endpoint.endswith("/tasks") for t in (p.body or {}).get("data") or []):
        custom.update({str(c["gid"]): str(c.get("name", "")) for c in t.get("custom_fields") or [] if "gid" in c})
        sections += [str(m["section"].get("name")) for m in t.get("memberships") or [] if m.get("section")
                     and (not projects or (m.get("project") or {}).get("gid") in projects)]
    return sorted(custom.items()), sorted(set(sections))
