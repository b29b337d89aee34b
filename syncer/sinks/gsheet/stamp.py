"""The sheet's own mark of syncer's last write: a developer metadata value on the spreadsheet, changed with every
structural batch and remembered in the state, read in the run's one metadata read; with it the state remembers the
last Sync log row, which a run that writes values sends in its first request (the sink reads column A anyway).

When the sheet carries the value and the last log row the state remembers, and syncer's tabs have the grid sizes
syncer left, no other syncer (another state file) has written it since, no run stopped half-way, and no tab was
replaced, restored or had rows inserted or deleted by hand: the tabs hold what the state's marks say, so unchanged
tabs are neither read nor written. Cell values typed over syncer's by hand do not show; a full run (`recheck`)
reads the tabs back and repairs them.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from syncer.sinks.marks import SinkMarks, TabMark

STAMP_KEY = "syncer.written"
STAMP_ID = zlib.crc32(STAMP_KEY.encode()) & 0x7FFFFFFF or 1  # a stable positive id, so the update can name it
# the tabs, syncer's stamp, and the charts and colour rules of every tab (syncer's updated, never duplicated)
METADATA_FIELDS = ("sheets(properties(sheetId,title,sheetType,gridProperties),charts(chartId,spec),conditionalFormats),"
                   "developerMetadata(metadataId,metadataKey,metadataValue)")


def stamp_of(meta: Mapping[str, Any]) -> tuple[str | None, int | None]:
    """The value and id of syncer's stamp among the spreadsheet's developer metadata (None, None: not there)."""
    for m in meta.get("developerMetadata") or ():
        if m.get("metadataKey") == STAMP_KEY:
            return m.get("metadataValue"), m.get("metadataId")
    return None, None


def stamp_request(existing: int | None, value: str) -> dict:
    """The structural request that sets the stamp to `value` (creating it, or updating the one with id `existing`)."""
    # https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets/request#createdevelopermetadatarequest
    if existing is None:
        return {"createDeveloperMetadata": {"developerMetadata": {
            "metadataId": STAMP_ID, "metadataKey": STAMP_KEY, "metadataValue": value,
            "location": {"spreadsheet": True}, "visibility": "DOCUMENT"}}}
    return {"updateDeveloperMetadata": {
        "dataFilters": [{"developerMetadataLookup": {"metadataId": existing}}],
        "developerMetadata": {"metadataValue": value}, "fields": "metadataValue"}}


def known_tabs(marks: SinkMarks | None, stamp: str | None, grids: Mapping[str, tuple[int, int]],
               recheck: bool) -> dict[str, TabMark]:
    """The tabs whose marks describe the sheet as it is (see the module): the sheet carries the stamp the marks
    remember, and each tab is there with the grid size syncer left; none on a recheck."""
    if marks is None or recheck or stamp is None or marks.stamp.get("stamp") != stamp:
        return {}
    left = marks.stamp.get("grid") or {}
    return {t: m for t, m in marks.tabs.items() if t in grids and list(grids[t]) == left.get(t)}
