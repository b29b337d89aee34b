"""A stateful fake of the Sheets API v4 and Google's token endpoint over an in-memory spreadsheet, for `responses`."""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

TOKEN_URL = "https://oauth2.googleapis.com/token"
# google-auth >= 2.6x looks up a service account's "regional access boundary" in a background thread after each token
BOUNDARY_URL = re.compile(r"https://iamcredentials\.googleapis\.com/v1/projects/-/serviceAccounts/[^/]+/allowedLocations")
API = "https://sheets.googleapis.com/v4/spreadsheets"
SCOPE = "https://www.googleapis.com/auth/spreadsheets"
MAX_CELLS = 10_000_000
MAX_CELL_CHARS = 50_000
EPOCH = datetime(1899, 12, 30)  # day 0 of Sheets' date serial numbers
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}


@functools.cache
def _keypair(email: str) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def service_account_info(email: str = "syncer@acme-ops.iam.gserviceaccount.com") -> dict[str, str]:
    """A service-account JSON key (as a dict) with a freshly generated RSA key, like the one Google hands out."""
    private, _ = _keypair(email)
    return {
        "type": "service_account", "project_id": "acme-ops", "private_key_id": "k1", "private_key": private,
        "client_email": email, "client_id": "1", "token_uri": TOKEN_URL,
    }


class ApiError(Exception):
    """An error answer of the fake: HTTP status, Google's status name and message."""

    def __init__(self, status: int, message: str, reason: str = "INVALID_ARGUMENT"):
        super().__init__(message)
        self.status, self.reason = status, reason


@dataclass
class Sheet:
    """One tab: grid size, frozen rows, cells {(row, col): value} and the formats applied (repeatCell).

    A cell holds a str, bool or float, or a date or datetime for a date-typed cell (what Sheets makes of `2026-05`
    typed by a user): read back as a serial number or, with dateTimeRenderOption=FORMATTED_STRING, as en_US text.
    """

    sheet_id: int
    title: str
    rows: int = 1000
    cols: int = 26
    frozen: int = 0
    cells: dict[tuple[int, int], Any] = field(default_factory=dict)
    formats: list[dict] = field(default_factory=list)
    sheet_type: str = "GRID"
    charts: list[dict] = field(default_factory=list)  # EmbeddedChart objects on this tab
    conditional: list[dict] = field(default_factory=list)  # ConditionalFormatRule objects

    def snapshot(self) -> Sheet:
        """A copy to change while a request runs (all or nothing): the cells' values are immutable, so the cell map
        is copied flat, the rest deep."""
        return replace(self, cells=dict(self.cells), formats=copy.deepcopy(self.formats),
                       charts=copy.deepcopy(self.charts), conditional=copy.deepcopy(self.conditional))

    def properties(self, index: int) -> dict:
        grid = {"rowCount": self.rows, "columnCount": self.cols}
        if self.frozen:
            grid["frozenRowCount"] = self.frozen
        props = {"sheetId": self.sheet_id, "title": self.title, "index": index, "sheetType": self.sheet_type}
        if self.sheet_type == "GRID":
            props["gridProperties"] = grid
        return props


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


_CELL = re.compile(r"^([A-Z]*)(\d*)$")


def parse_a1(a1: str) -> tuple[str, int, int, int | None, int | None]:
    """`'Tab'!A2:C` -> (title, row0, col0, row_end, col_end): 0-based, ends exclusive, None for unbounded."""
    m = re.match(r"^'((?:[^']|'')*)'(?:!(.*))?$", a1) or re.match(r"^([^!']+)(?:!(.*))?$", a1)
    if not m:
        raise ApiError(400, f"Unable to parse range: {a1}")
    title, cells = m.group(1).replace("''", "'"), m.group(2)
    if not cells:
        return title, 0, 0, None, None
    start, _, end = cells.partition(":")
    s, e = _CELL.match(start.upper()), _CELL.match((end or start).upper())
    if not s or not e or not (s.group(1) or s.group(2)):
        raise ApiError(400, f"Unable to parse range: {a1}")
    r0 = int(s.group(2)) - 1 if s.group(2) else 0
    c0 = col_index(s.group(1)) if s.group(1) else 0
    r1 = int(e.group(2)) if e.group(2) else None
    c1 = col_index(e.group(1)) + 1 if e.group(1) else None
    return title, r0, c0, r1, c1


def _out(v: Any, dates: str = "SERIAL_NUMBER") -> Any:
    """How UNFORMATTED_VALUE renders a stored value: integral doubles without a fraction, dates as serial numbers
    (days since 1899-12-30) or, as FORMATTED_STRING, in the en_US locale's date format (`5/1/2026`)."""
    if isinstance(v, date):
        if dates == "FORMATTED_STRING":
            return f"{v.month}/{v.day}/{v.year}"
        when = v if isinstance(v, datetime) else datetime(v.year, v.month, v.day)
        v = (when - EPOCH).total_seconds() / 86400
    return int(v) if isinstance(v, float) and v.is_integer() else v


def as_typed(rows: list[list]) -> list[list]:
    """Rows as Sheets stores them when a user types them in: `2026-05` and `2026-05-01` become date cells."""
    def cell(v: Any) -> Any:
        m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", v) if isinstance(v, str) else None
        return date(int(m[1]), int(m[2]), int(m[3] or 1)) if m else v
    return [[cell(v) for v in row] for row in rows]


def _clash(sheets: list[Sheet], title: str, skip: Sheet | None = None) -> None:
    """Tab titles are unique regardless of case, as in Sheets: `tasks` blocks `Tasks`."""
    if any(s is not skip and s.title.lower() == title.lower() for s in sheets):
        raise ApiError(400, f'A sheet with the name "{title}" already exists. Please enter another name.')


class FakeSheets:
    """One spreadsheet behind the Sheets API v4, plus the OAuth token endpoint for service accounts.

    Records every API call in `calls` (kind, payload) and every rule broken by the client in `violations` (a write
    that is not RAW, a formula in cell data, a read that is not UNFORMATTED_VALUE or reads dates as locale text).
    `fail(kind, status, ...)` makes the next calls of a kind fail. `share(email)` lets a service account in;
    anything else gets 403. Like the API, it honours the metadata `fields` mask, refuses tab titles equal but for
    case, cells over 50,000 characters, sheet ids outside int32 and a grid whose rows are all frozen.
    """

    def __init__(self, spreadsheet_id: str = "sheet-1", title: str = "Marketing ops"):
        self.id, self.title = spreadsheet_id, title
        self.sheets: list[Sheet] = [Sheet(0, "Sheet1")]
        self.calls: list[tuple[str, Any]] = []
        self.violations: list[str] = []
        self.scopes: list[str] = []
        self.token_requests = 0
        self.shared: dict[str, str] = {}
        self.keys: dict[str, str] = {}
        self._tokens: dict[str, str] = {}
        self._failures: list[list] = []
        self.metadata: list[dict] = []  # the spreadsheet's developer metadata (DeveloperMetadata resources)

    # --- set-up -----------------------------------------------------------------------------------------------
    def share(self, email: str, role: str = "writer") -> dict[str, str]:
        """Register a service account's key, share the sheet with it, and return its JSON key as a dict."""
        self.keys[email] = _keypair(email)[1]
        self.shared[email] = role
        return service_account_info(email)

    def add_sheet(self, title: str, values: list[list] | None = None, **kw: Any) -> Sheet:
        """Add a tab (as a user would), with values from row 1."""
        _clash(self.sheets, title)
        sheet = Sheet(max((s.sheet_id for s in self.sheets), default=0) + 1, title, **kw)
        for r, row in enumerate(values or []):
            for c, v in enumerate(row):
                if v is not None and v != "":
                    sheet.cells[(r, c)] = float(v) if isinstance(v, int) and not isinstance(v, bool) else v
        self.sheets.append(sheet)
        return sheet

    def fail(self, kind: str, status: int, times: int | None = 1, headers: dict | None = None, body: str | None = None,
             after: bool = False) -> None:
        """Answer the next `times` calls of `kind` ("*" for any; None: forever) with `status` and Google's JSON error,
        or `body` as given (an HTML page from a proxy, say). `after`: carry the call out first, as when the answer
        is lost on its way back (a 502 or a timeout after Google committed the change)."""
        self._failures.append([kind, status, times, headers or {}, body, after])

    # --- inspection -------------------------------------------------------------------------------------------
    def sheet(self, title: str) -> Sheet:
        """The tab of that title."""
        return next(s for s in self.sheets if s.title == title)

    def values(self, title: str) -> list[list]:
        """A tab's values as rows (as UNFORMATTED_VALUE reads them)."""
        return self._read(self.sheet(title), 0, 0, None, None)

    def dump(self, title: str) -> str:
        """Everything about a tab, as text to compare before and after."""
        s = self.sheet(title)
        return json.dumps([s.sheet_id, s.rows, s.cols, s.frozen, sorted((list(k), v) for k, v in s.cells.items()),
                           s.formats], sort_keys=True, default=str)

    def count(self, *kinds: str) -> int:
        """API calls (token requests excluded), of the given kinds or all."""
        return sum(1 for k, _ in self.calls if not kinds or k in kinds)

    def kinds(self) -> Counter:
        """API calls per kind."""
        return Counter(k for k, _ in self.calls)

    def payloads(self, kind: str) -> list[Any]:
        """Payloads of the successful calls of a kind, in order."""
        return [p for k, p in self.calls if k == kind and p is not None]

    # --- wiring -----------------------------------------------------------------------------------------------
    def install(self, rsps: responses.RequestsMock) -> FakeSheets:
        """Route the token endpoint and every Sheets API URL of this spreadsheet to the fake."""
        rsps.add_callback(responses.POST, TOKEN_URL, callback=self._token)
        rsps.add(responses.GET, BOUNDARY_URL, json={"locations": [], "encodedLocations": "0x0"})
        rsps.add_callback(responses.GET, re.compile(re.escape(API) + r"/.+"), callback=self._route)
        rsps.add_callback(responses.POST, re.compile(re.escape(API) + r"/.+"), callback=self._route)
        return self

    def _token(self, request: Any) -> tuple[int, dict, str]:
        self.token_requests += 1
        form = parse_qs(request.body if isinstance(request.body, str) else request.body.decode())
        assertion = form.get("assertion", [""])[0]
        try:
            email = jwt.decode(assertion, verify=False)["iss"]
            claims = jwt.decode(assertion, certs=self.keys[email], audience=TOKEN_URL)
        except Exception:  # noqa: BLE001 - any bad assertion is what Google calls invalid_grant
            body = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            return 400, {}, json.dumps(body)
        self.scopes.append(claims.get("scope", ""))
        token = f"ya29.fake-{len(self._tokens)}"
        self._tokens[token] = email
        return 200, {}, json.dumps({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _route(self, request: Any) -> tuple[int, dict, str]:
        url = urlsplit(request.url)
        path = unquote(url.path)[len(urlsplit(API).path) + 1:]
        params = parse_qs(url.query)
        body = json.loads(request.body) if request.body else {}
        sid, _, rest = path.partition("/")
        sid, _, action = sid.partition(":")
        kind = action or {"": "metadata", "values:batchGet": "batchGet", "values:batchUpdate": "valuesBatchUpdate",
                          "values:batchClear": "batchClear"}.get(rest, "append" if rest.endswith(":append") else rest)
        self.calls.append((kind, None))
        try:
            self._authorise(request, kind)
            if sid != self.id:
                raise ApiError(404, "Requested entity was not found.", "NOT_FOUND")
            failure = next((f for f in self._failures if f[0] in (kind, "*") and (f[2] is None or f[2] > 0)), None)
            handler = getattr(self, f"_{kind}", None)
            if handler is None:
                raise ApiError(404, f"no such method {kind}", "NOT_FOUND")
            if failure is not None:
                if failure[2] is not None:
                    failure[2] -= 1
                if failure[5]:
                    handler(params, body, rest)
                error = {"code": failure[1], "message": "fake failure", "status": STATUS.get(failure[1], "UNAVAILABLE")}
                return failure[1], failure[3], failure[4] if failure[4] is not None else json.dumps({"error": error})
            answer = handler(params, body, rest)
        except ApiError as e:
            return e.status, {}, json.dumps({"error": {"code": e.status, "message": str(e), "status": e.reason}})
        self.calls[-1] = (kind, body or params)
        return 200, {}, json.dumps(answer)

    def _authorise(self, request: Any, kind: str) -> None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        email = self._tokens.get(token)
        if email is None:
            raise ApiError(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")
        role = self.shared.get(email)
        if role is None or (role == "reader" and kind not in ("metadata", "batchGet")):
            raise ApiError(403, "The caller does not have permission", "PERMISSION_DENIED")

    # --- reads ------------------------------------------------------------------------------------------------
    def _metadata(self, params: dict, body: dict, rest: str) -> dict:
        sheets = [{"properties": s.properties(i)} for i, s in enumerate(self.sheets)]
        out = {"spreadsheetId": self.id, "properties": {"title": self.title}, "sheets": sheets}
        if "fields" not in params:
            return out
        fields = params["fields"][0]  # the forms `a.b` and `sheets.properties(x,y)`, as the sink asks
        keep = re.search(r"properties\(([^)]*)\)", fields)
        names = set(keep[1].split(",")) if keep else set()
        wanted_meta = re.search(r"(?<![.\w])developerMetadata(?:\(([^)]*)\))?", fields)
        out = {k: v for k, v in out.items() if k in fields.replace("sheets.properties", "sheets")}
        if "sheets" in out:
            out["sheets"] = []
            for tab, s in zip(self.sheets, sheets, strict=True):
                entry: dict[str, Any] = {"properties": {k: v for k, v in s["properties"].items() if k in names}}
                if "charts" in fields and tab.charts:  # the API leaves empty lists out
                    entry["charts"] = copy.deepcopy(tab.charts)
                if "conditionalFormats" in fields and tab.conditional:
                    entry["conditionalFormats"] = copy.deepcopy(tab.conditional)
                out["sheets"].append(entry)
        if wanted_meta and self.metadata:  # the API leaves out an empty list
            keep_meta = set(wanted_meta[1].split(",")) if wanted_meta[1] else None
            out["developerMetadata"] = [{k: v for k, v in m.items() if keep_meta is None or k in keep_meta}
                                        for m in copy.deepcopy(self.metadata)]
        return out

    def _batchGet(self, params: dict, body: dict, rest: str) -> dict:
        if params.get("valueRenderOption") != ["UNFORMATTED_VALUE"]:
            self.violations.append(f"batchGet with valueRenderOption {params.get('valueRenderOption')}")
        dates = params.get("dateTimeRenderOption", ["SERIAL_NUMBER"])[0]  # the API's default
        if dates != "SERIAL_NUMBER":
            self.violations.append(f"batchGet with dateTimeRenderOption {dates}: dates in the sheet's locale format")
        out = []
        for a1 in params.get("ranges", []):
            title, r0, c0, r1, c1 = parse_a1(a1)
            sheet = self._sheet(title, a1)
            vr: dict[str, Any] = {"range": a1, "majorDimension": "ROWS"}
            values = self._read(sheet, r0, c0, r1, c1, dates)
            if values:
                vr["values"] = values
            out.append(vr)
        return {"spreadsheetId": self.id, "valueRanges": out}

    def _read(self, s: Sheet, r0: int, c0: int, r1: int | None, c1: int | None,
              dates: str = "SERIAL_NUMBER") -> list[list]:
        r1, c1 = min(r1 or s.rows, s.rows), min(c1 or s.cols, s.cols)
        rows = []
        for r in range(r0, r1):
            row = [_out(s.cells.get((r, c), ""), dates) for c in range(c0, c1)]
            while row and row[-1] == "":
                row.pop()
            rows.append(row)
        while rows and not rows[-1]:
            rows.pop()
        return rows

    def _sheet(self, title: str, a1: str = "") -> Sheet:
        for s in self.sheets:
            if s.title == title and s.sheet_type == "GRID":
                return s
        raise ApiError(400, f"Unable to parse range: {a1 or title}")

    def _by_id(self, sheets: list[Sheet], sheet_id: int) -> Sheet:
        for s in sheets:
            if s.sheet_id == sheet_id:
                return s
        raise ApiError(400, f"No grid with id: {sheet_id}")

    # --- value writes -----------------------------------------------------------------------------------------
    def _store(self, s: Sheet, r: int, c: int, v: Any) -> None:
        if r >= s.rows or c >= s.cols:
            raise ApiError(400, f"Range ('{s.title}' row {r + 1}, column {c + 1}) exceeds grid limits. "
                                f"Max rows: {s.rows}, max columns: {s.cols}")
        if v is None:
            return  # null leaves the cell as it is
        if isinstance(v, str) and len(v) > MAX_CELL_CHARS:
            raise ApiError(400, f"Your input contains more than the maximum of {MAX_CELL_CHARS} characters in a "
                                "single cell.")
        if v == "":
            s.cells.pop((r, c), None)
        elif isinstance(v, bool | str):
            s.cells[(r, c)] = v
        elif isinstance(v, int | float):
            s.cells[(r, c)] = float(v)
        else:
            raise ApiError(400, f"Invalid value at data.values: {v!r}")

    def _write(self, sheets: list[Sheet], a1: str, values: list[list]) -> int:
        title, r0, c0, r1, c1 = parse_a1(a1)
        if ":" not in a1.rpartition("!")[2]:
            r1 = c1 = None  # a single cell is where the values start
        s = next((x for x in sheets if x.title == title), None)
        if s is None:
            raise ApiError(400, f"Unable to parse range: {a1}")
        for i, row in enumerate(values):
            if r1 is not None and r0 + i >= r1 or c1 is not None and c0 + len(row) > c1:
                raise ApiError(400, f"Requested writing within range [{a1}], but tried writing beyond it")
            for j, v in enumerate(row):
                self._store(s, r0 + i, c0 + j, v)
        return sum(len(r) for r in values)

    def _valuesBatchUpdate(self, params: dict, body: dict, rest: str) -> dict:
        if body.get("valueInputOption") != "RAW":
            self.violations.append(f"values:batchUpdate with valueInputOption {body.get('valueInputOption')}")
        # All or nothing, as the real API: the tabs written to are copied first (only those: a copy of a 100k-row
        # sheet per call would make the fake, not the sink, what a benchmark measures).
        touched = {parse_a1(vr["range"])[0] for vr in body.get("data", [])}
        sheets = [s.snapshot() if s.title in touched else s for s in self.sheets]
        cells = sum(self._write(sheets, vr["range"], vr.get("values", [])) for vr in body.get("data", []))
        self.sheets = sheets
        return {"spreadsheetId": self.id, "totalUpdatedCells": cells, "responses": []}

    def _append(self, params: dict, body: dict, rest: str) -> dict:
        if params.get("valueInputOption") != ["RAW"]:
            self.violations.append(f"values:append with valueInputOption {params.get('valueInputOption')}")
        title = parse_a1(rest.removeprefix("values/").removesuffix(":append"))[0]
        s = self._sheet(title)
        last = max((r for r, _ in s.cells), default=-1)
        values = body.get("values", [])
        s.rows = max(s.rows, last + 1 + len(values))
        s.cols = max([s.cols] + [len(r) for r in values])
        self._write(self.sheets, f"'{title}'!A{last + 2}", values)
        return {"spreadsheetId": self.id, "updates": {"updatedRange": f"'{title}'!A{last + 2}"}}

    def _batchClear(self, params: dict, body: dict, rest: str) -> dict:
        for a1 in body.get("ranges", []):
            title, r0, c0, r1, c1 = parse_a1(a1)
            s = self._sheet(title, a1)
            for r, c in [k for k in s.cells if r0 <= k[0] < (r1 or s.rows) and c0 <= k[1] < (c1 or s.cols)]:
                del s.cells[(r, c)]
        return {"spreadsheetId": self.id, "clearedRanges": body.get("ranges", [])}

    # --- spreadsheets:batchUpdate (all or nothing) ------------------------------------------------------------
    def _batchUpdate(self, params: dict, body: dict, rest: str) -> dict:
        sheets = [s.snapshot() for s in self.sheets]
        saved_metadata = copy.deepcopy(self.metadata)
        try:
            return self._batch(sheets, body)
        except ApiError:
            self.metadata = saved_metadata  # all or nothing
            raise

    def _batch(self, sheets: list[Sheet], body: dict) -> dict:
        replies = []
        for i, req in enumerate(body.get("requests", [])):
            (name, arg), = req.items()
            handler = getattr(self, f"_req_{name}", None)
            if handler is None:
                raise ApiError(400, f"Invalid requests[{i}]: {name} is not supported by the fake")
            try:
                replies.append(handler(sheets, arg) or {})
            except ApiError as e:  # Google names the failing request, and applies none of the batch
                raise ApiError(e.status, f"Invalid requests[{i}].{name}: {e}", e.reason) from None
        total = sum(s.rows * s.cols for s in sheets if s.sheet_type == "GRID")
        if total > MAX_CELLS:
            raise ApiError(400, "This action would increase the number of cells in the workbook above the limit "
                                f"of {MAX_CELLS} cells.")
        self.sheets = sheets
        return {"spreadsheetId": self.id, "replies": replies}

    def _req_addSheet(self, sheets: list[Sheet], arg: dict) -> dict:
        p = arg.get("properties", {})
        title = p.get("title") or f"Sheet{len(sheets) + 1}"
        _clash(sheets, title)
        sid = p.get("sheetId", max(s.sheet_id for s in sheets) + 1)
        if not 0 <= sid < 2**31:
            raise ApiError(400, f"Invalid value at 'requests.add_sheet.properties.sheet_id' (TYPE_INT32), {sid}")
        if any(s.sheet_id == sid for s in sheets):
            raise ApiError(400, f"A sheet with the id {sid} already exists.")
        g = p.get("gridProperties", {})
        sheet = Sheet(sid, title, g.get("rowCount", 1000), g.get("columnCount", 26), g.get("frozenRowCount", 0))
        if sheet.frozen and sheet.frozen >= sheet.rows:
            raise ApiError(400, "You can't freeze all visible rows on the sheet.")
        index = p.get("index", len(sheets))
        if not 0 <= index <= len(sheets):
            raise ApiError(400, f"Invalid value at 'requests.add_sheet.properties.index', {index}")
        sheets.insert(index, sheet)
        return {"addSheet": {"properties": sheet.properties(index)}}

    # --- charts and conditional formats (https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets/charts)
    def _grid_range(self, sheets: list[Sheet], rng: dict, what: str) -> None:
        """A GridRange must name an existing grid and lie inside it, as the API checks."""
        s = self._by_id(sheets, rng.get("sheetId", 0))
        r0, r1 = rng.get("startRowIndex", 0), rng.get("endRowIndex", s.rows)
        c0, c1 = rng.get("startColumnIndex", 0), rng.get("endColumnIndex", s.cols)
        if not (0 <= r0 < r1 <= s.rows and 0 <= c0 < c1 <= s.cols):
            raise ApiError(400, f"{what}: range {rng} is not inside the grid of '{s.title}' ({s.rows}x{s.cols})")

    def _check_spec(self, sheets: list[Sheet], spec: dict) -> None:
        basic = spec.get("basicChart")
        if not basic or not basic.get("series"):
            raise ApiError(400, "Invalid chart spec: a basic chart needs at least one series")
        parts = [d["domain"] for d in basic.get("domains", [])] + [x["series"] for x in basic["series"]]
        for part in parts:
            for rng in part["sourceRange"]["sources"]:
                self._grid_range(sheets, rng, "sourceRange")

    def _req_addChart(self, sheets: list[Sheet], arg: dict) -> dict:
        chart = copy.deepcopy(arg["chart"])
        cid = chart.get("chartId", 1 + max([c["chartId"] for t in sheets for c in t.charts] + [0]))
        if not 0 <= cid < 2**31 or any(c["chartId"] == cid for t in sheets for c in t.charts):
            raise ApiError(400, f"Invalid chartId {cid}: an object with that id already exists" if cid >= 0
                           else f"Invalid chartId {cid}")
        self._check_spec(sheets, chart["spec"])
        anchor = chart["position"]["overlayPosition"]["anchorCell"]
        host = self._by_id(sheets, anchor["sheetId"])
        if not (0 <= anchor.get("rowIndex", 0) < host.rows and 0 <= anchor.get("columnIndex", 0) < host.cols):
            raise ApiError(400, f"anchorCell {anchor} is outside the grid of '{host.title}'")
        chart["chartId"] = cid
        host.charts.append(chart)
        return {"addChart": {"chart": chart}}

    def _req_updateChartSpec(self, sheets: list[Sheet], arg: dict) -> None:
        chart = next((c for t in sheets for c in t.charts if c["chartId"] == arg["chartId"]), None)
        if chart is None:
            raise ApiError(400, f"No chart with id: {arg['chartId']}")
        self._check_spec(sheets, arg["spec"])
        chart["spec"] = copy.deepcopy(arg["spec"])

    def _req_addConditionalFormatRule(self, sheets: list[Sheet], arg: dict) -> None:
        rule = copy.deepcopy(arg["rule"])
        for rng in rule["ranges"]:
            self._grid_range(sheets, rng, "conditional format range")
        tab = self._by_id(sheets, rule["ranges"][0]["sheetId"])
        tab.conditional.insert(arg.get("index", len(tab.conditional)), rule)

    def _req_updateSheetProperties(self, sheets: list[Sheet], arg: dict) -> None:
        p = arg["properties"]
        s = self._by_id(sheets, p["sheetId"])
        for f in arg["fields"].split(","):
            value = p.get("gridProperties", {}).get(f.removeprefix("gridProperties.")) if "grid" in f else p.get(f)
            attr = {"gridProperties.rowCount": "rows", "gridProperties.columnCount": "cols",
                    "gridProperties.frozenRowCount": "frozen", "title": "title"}.get(f)
            if attr is None:
                raise ApiError(400, f"the fake does not support field {f}")
            if attr == "title":
                _clash(sheets, value, skip=s)
            setattr(s, attr, value)
        if s.frozen >= s.rows:
            raise ApiError(400, "You can't freeze all visible rows on the sheet.")
        s.cells = {k: v for k, v in s.cells.items() if k[0] < s.rows and k[1] < s.cols}

    def _req_repeatCell(self, sheets: list[Sheet], arg: dict) -> None:
        self._by_id(sheets, arg["range"]["sheetId"]).formats.append(
            {"range": arg["range"], "cell": arg["cell"], "fields": arg["fields"]})

    def _req_deleteDimension(self, sheets: list[Sheet], arg: dict) -> None:
        rng = arg["range"]
        s = self._by_id(sheets, rng["sheetId"])
        a, b = rng["startIndex"], rng["endIndex"]
        if rng["dimension"] != "ROWS" or not 0 <= a < b <= s.rows:
            raise ApiError(400, f"Invalid deleteDimension range {rng}")
        if s.rows - (b - a) <= s.frozen:
            raise ApiError(400, "Sorry, it is not possible to delete all non-frozen rows.")
        s.cells = {(r - (b - a) if r >= b else r, c): v for (r, c), v in s.cells.items() if not a <= r < b}
        s.rows -= b - a

    def _req_insertDimension(self, sheets: list[Sheet], arg: dict) -> None:
        rng = arg["range"]
        s = self._by_id(sheets, rng["sheetId"])
        a, b = rng["startIndex"], rng["endIndex"]
        if rng["dimension"] != "ROWS" or not 0 <= a < b or a > s.rows or (a == 0 and arg.get("inheritFromBefore")):
            raise ApiError(400, f"Invalid insertDimension range {rng}")
        s.cells = {(r + (b - a) if r >= a else r, c): v for (r, c), v in s.cells.items()}
        s.rows += b - a

    def _req_createDeveloperMetadata(self, sheets: list[Sheet], arg: dict) -> dict:
        """Spreadsheet-level metadata only (all syncer writes); validated as the API does."""
        meta = copy.deepcopy(arg.get("developerMetadata") or {})
        if not meta.get("metadataKey"):
            raise ApiError(400, "developerMetadata.metadataKey is required")
        if meta.get("location") != {"spreadsheet": True}:
            raise ApiError(400, f"the fake supports spreadsheet-level metadata only, not {meta.get('location')}")
        if meta.get("visibility") not in ("DOCUMENT", "PROJECT"):
            raise ApiError(400, "developerMetadata.visibility must be DOCUMENT or PROJECT")
        mid = meta.get("metadataId")
        if mid is not None and (not isinstance(mid, int) or mid <= 0 or any(m["metadataId"] == mid
                                                                             for m in self.metadata)):
            raise ApiError(400, f"metadataId {mid} must be positive and not in use")
        meta["metadataId"] = mid or 1 + max((m["metadataId"] for m in self.metadata), default=0)
        meta["location"] = {"locationType": "SPREADSHEET", "spreadsheet": True}
        self.metadata.append(meta)
        return {"createDeveloperMetadata": {"developerMetadata": copy.deepcopy(meta)}}

    def _req_updateDeveloperMetadata(self, sheets: list[Sheet], arg: dict) -> dict:
        filters, fields = arg.get("dataFilters") or [], arg.get("fields")
        if not filters or not fields:
            raise ApiError(400, "updateDeveloperMetadata needs dataFilters and fields")
        ids = {(f.get("developerMetadataLookup") or {}).get("metadataId") for f in filters}
        found = [m for m in self.metadata if m["metadataId"] in ids]
        if not found:
            raise ApiError(400, "No developer metadata matches the data filters")
        for m in found:
            for name in fields.split(","):
                m[name] = arg["developerMetadata"][name]
        return {"updateDeveloperMetadata": {"developerMetadata": copy.deepcopy(found)}}

    def _req_updateCells(self, sheets: list[Sheet], arg: dict) -> None:
        if arg.get("fields") != "userEnteredValue":
            raise ApiError(400, f"the fake supports updateCells of userEnteredValue only, not {arg.get('fields')}")
        start = arg["start"]
        s = self._by_id(sheets, start["sheetId"])
        for i, row in enumerate(arg["rows"]):
            for j, cell in enumerate(row.get("values", [])):
                value = cell.get("userEnteredValue", {})
                if "formulaValue" in value:
                    self.violations.append(f"updateCells with a formula: {value['formulaValue']!r}")
                v = value.get("stringValue", value.get("numberValue", value.get("boolValue", "")))
                self._store(s, start["rowIndex"] + i, start.get("columnIndex", 0) + j, v)


# --- helpers for the gsheet tests ----------------------------------------------------------------------------------
@contextmanager
def running_fake() -> Iterator[FakeSheets]:
    """A FakeSheets routed through `responses`; on exit, google-auth's background lookups finish inside the mock."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake = FakeSheets().install(rsps)
        try:
            yield fake
        finally:
            for t in threading.enumerate():
                if type(t).__name__ == "_RegionalAccessBoundaryRefreshThread":
                    t.join(timeout=10)


def make_sink(fake: FakeSheets, info: dict, sleeps: list | None = None, **kw: Any) -> Any:
    """A GsheetSink built the real way (from_config with the JSON key), retries waiting into `sleeps`."""
    from syncer.config import GsheetSinkConfig
    from syncer.retry import RetryPolicy
    from syncer.sinks.gsheet.sink import GsheetSink

    cfg = GsheetSinkConfig(kind="gsheet", spreadsheet_id=fake.id, credentials=json.dumps(info))
    waits = sleeps if sleeps is not None else []
    return GsheetSink.from_config(cfg, None, policy=RetryPolicy(sleep=waits.append, **kw))
