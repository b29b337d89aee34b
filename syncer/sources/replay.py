"""Replay source: reads a folder of raw API pages saved by `syncer fetch` and maps them like a live read."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from syncer.config import Config, ReplaySourceConfig
from syncer.errors import ConfigError, SourceError
from syncer.sources import FetchResult, Page
from syncer.sources.asana import mapping as asana
from syncer.sources.jira import mapping as jira

MANIFEST = "manifest.json"
FORMAT = 1


def read_manifest(folder: Path, where: str) -> dict[str, Any]:
    """Load and check `manifest.json`; a missing folder is a config error naming the key path."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{where}.path: {folder} holds no {MANIFEST} (make one with `syncer fetch`)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SourceError(f"{path}: not readable JSON ({e})") from None
    if manifest.get("api") not in ("jira", "asana") or not isinstance(manifest.get("pages"), list):
        raise SourceError(f"{path}: expected {{'api': 'jira'|'asana', 'pages': [...]}}")
    return manifest


def fetched_at(folder: Path) -> datetime | None:
    """When a saved folder's pages were fetched (its manifest's `fetched_at`), or None if unknown."""
    try:
        stamp = json.loads((folder / MANIFEST).read_text(encoding="utf-8")).get("fetched_at")
        return datetime.fromisoformat(stamp) if stamp else None
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def read_pages(folder: Path, manifest: dict[str, Any]) -> Iterator[Page]:
    """The saved pages, in the order they were fetched."""
    for entry in manifest["pages"]:
        path = folder / entry["file"]
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise SourceError(f"{path}: not readable JSON ({e})") from None
        yield Page(entry["endpoint"], entry.get("params") or {}, body)


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

    def __init__(self, cfg: ReplaySourceConfig, settings: Config, where: str = "sources", **_: Any):
        self.name, self.cfg, self.settings, self.where = cfg.name, cfg, settings, where

    def fetch_pages(self, since: datetime | None = None, now: datetime | None = None) -> Iterator[Page]:
        manifest = read_manifest(self.cfg.path, self.where)
        return read_pages(self.cfg.path, manifest)

    def replay_meta(self) -> dict[str, Any]:
        """What `syncer fetch` records about this source (a replay of a replay keeps the original API)."""
        m = read_manifest(self.cfg.path, self.where)
        return {k: m[k] for k in ("api", "base_url", "projects") if k in m}

    def read(self, since: datetime | None, now: datetime) -> FetchResult:

        manifest = read_manifest(self.cfg.path, self.where)
        pages = list(read_pages(self.cfg.path, manifest))
        tz = self.settings.tz
        if manifest["api"] == "jira":
            tasks, warnings = jira.tasks_from_pages(
                pages, self.name, manifest.get("base_url", ""), self.cfg.fields, self.cfg.stages, tz, self.where,
                self.settings.currency,
            )
        else:
            tasks, warnings = asana.tasks_from_pages(
                pages, self.name, self.cfg.fields, self.cfg.stages, tz, manifest.get("projects") or (),
                self.settings.currency,
            )
        return FetchResult(tasks=tasks, complete=True, requests=0, warnings=warnings)
