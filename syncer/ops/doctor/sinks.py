"""`syncer doctor`'s checks of the sink (a Google Sheet or an xlsx workbook) and of the budget file or tab."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from syncer.config import Config
from syncer.errors import ConfigError, SyncerError
from syncer.ops.doctor import BAD_CONFIG, UNREACHABLE, Section
from syncer.retry import RetryPolicy
from syncer.tables import HEADERS, OWNED_TABS, SYNC_LOG

SHEET_FIELDS = "properties.title,sheets.properties(title,sheetType)"  # the metadata doctor reads, nothing more


def _header_checks(sec: Section, first_rows: Mapping[str, Sequence[Any] | None]) -> None:
    """syncer's tabs that exist must carry syncer's header (or be empty): the run refuses to overwrite others."""
    from syncer.sinks.diff import normalise_row

    mine = (*OWNED_TABS, SYNC_LOG)
    present = [t for t in mine if t in first_rows]
    missing = [t for t in mine if t not in first_rows]
    sec.ok("tabs", (f"syncer's {', '.join(present)} present" if present else "no syncer tab yet")
           + (f"; {', '.join(missing)} will be created" if missing else ""))
    for title in present:
        row = first_rows[title]
        if row and list(normalise_row(row)) != HEADERS[title]:
            sec.fail(f"tab {title!r}", "has a header syncer did not write, so a run would refuse to overwrite it: "
                                       "rename that tab", UNREACHABLE)


def gsheet_checks(sec: Section, cfg: Config, policy: RetryPolicy) -> Any:
    """The service account's key, access to the sheet, and syncer's tabs in it; returns the sink, or None."""
    from syncer.sinks.gsheet.sink import GsheetSink

    try:
        sink = GsheetSink.from_config(cfg.sink, cfg, policy=policy)
    except SyncerError as e:
        return sec.error("credentials", e)
    sec.ok("credentials", f"service account {sink.email}")
    try:
        meta = sink.read_metadata(SHEET_FIELDS)  # the errors a run gives (naming the account)
    except SyncerError as e:
        return sec.error("sheet", e)
    tabs = [s.get("properties", {}).get("title", "") for s in meta.get("sheets", [])]
    sec.ok("sheet", f"{sink.email} can open {meta.get('properties', {}).get('title', sink.id)!r} "
                    "(write access shows at the first run)")
    sec.note(f"tabs ({len(tabs)}): {', '.join(tabs)}")
    try:
        _header_checks(sec, {t: (sink.read_tab(t) or [None])[0] for t in (*OWNED_TABS, SYNC_LOG) if t in tabs})
    except SyncerError as e:
        sec.error("tabs", e)
    return sink


def xlsx_checks(sec: Section, cfg: Config) -> Any:
    """The workbook's path is writable, the file (if any) readable with syncer's tabs; returns the sink, or None."""
    from openpyxl import load_workbook

    from syncer.sinks.xlsx import XlsxSink

    try:
        sink = XlsxSink.from_config(cfg.sink, cfg)
    except SyncerError as e:
        return sec.error("path", e)
    path: Path = sink.path
    # The workbook is rewritten through a temporary file beside it (its folder is made if missing): the nearest
    # existing folder must be writable, and the file too if it exists.
    folder, exists = next(p for p in path.absolute().parents if p.exists()), path.exists()
    if not (os.access(folder, os.W_OK | os.X_OK) and (not exists or os.access(path, os.W_OK))):
        sec.fail("path", f"{path} is not writable (check it and {folder})", UNREACHABLE)
    else:
        sec.ok("path", f"{path} is writable" if exists else f"{path} will be created ({folder} is writable)")
    if not exists:
        return sink
    try:
        wb = load_workbook(path, read_only=True)
    except Exception as e:  # openpyxl reports a damaged file with many exception types
        sec.fail("workbook", f"{path} is not a readable xlsx workbook ({type(e).__name__}: {e})", UNREACHABLE)
        return sink
    try:
        tabs = list(wb.sheetnames)
        first = {t: next(wb[t].iter_rows(max_row=1, values_only=True), None) for t in (*OWNED_TABS, SYNC_LOG)
                 if t in tabs}
    finally:
        wb.close()
    sec.ok("workbook", f"readable, {len(tabs)} tab(s)")
    sec.note(f"tabs: {', '.join(tabs)}")
    _header_checks(sec, first)
    return sink


def budget_checks(sec: Section, cfg: Config, sink: Any) -> None:
    """The budget file, or the sink's budget tab (`sink` None: it could not be opened), reads as budget lines."""
    from syncer.domain.budget import load_budget

    assert cfg.budget is not None
    if cfg.budget.file is None and sink is None:
        return sec.warn("budget.tab", "not checked: the sink could not be opened")
    try:
        lines, warnings = load_budget(cfg.budget, sink)
    except ConfigError as e:
        key, _, detail = str(e).partition(": ")
        return sec.fail(key, detail, BAD_CONFIG)
    sec.ok("budget", f"{len(lines)} budget line(s)")
    for w in warnings[:5]:
        sec.warn("budget", w)
    if len(warnings) > 5:
        sec.warn("budget", f"... and {len(warnings) - 5} more row(s) skipped")
