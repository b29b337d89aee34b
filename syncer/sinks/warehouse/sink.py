"""The warehouse sink: syncer's tables loaded through dlt into DuckDB (a local file, the default), PostgreSQL,
BigQuery, Snowflake or any other dlt destination, with dlt's own credentials conventions.

`plan` reads each table's `_syncer_key` and `_syncer_hash` (one query per table) and keeps only the rows that
differ (`rows.rows_to_load`); `apply` loads them in one dlt run: keyed tables merged on `_syncer_key` (rows gone
from a tab hard-deleted, dlt's `hard_delete` hint), the Sync log and Closed periods appended. dlt's working folder
lives beside the state file, never in the home folder, and its telemetry is off: nothing is sent anywhere but the
destination.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dlt
import polars as pl
import pyarrow as pa
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.destination import Destination
from dlt.common.exceptions import DltException, MissingDependencyException
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from pydantic import SecretStr

from syncer.checks import Inspection, Level
from syncer.domain.frames import Frames
from syncer.errors import ConfigError, SinkError, SyncerError
from syncer.log import RedactFilter, sink_secrets
from syncer.sinks import Plan
from syncer.sinks.marks import SinkMarks
from syncer.sinks.warehouse.rows import (
    DELETED,
    HASH,
    KEY,
    ROW,
    Shape,
    rows_to_load,
    tab_frame,
    table_name,
    to_cell,
    warehouse_frames,
)
from syncer.tables import HEADERS, KEY_COLUMNS, SYNC_LOG, Cell, Table, natural_key

if TYPE_CHECKING:
    from syncer.config import Config, WarehouseSinkConfig

log = logging.getLogger("syncer.warehouse")
SYNC_LOG_SHAPE = Shape(table_name(SYNC_LOG), SYNC_LOG, appended=True)


@dataclass(frozen=True, slots=True)
class WarehouseSettings:
    """Where the tables go: a dlt destination, its dataset and credentials (None: dlt's own config finds them)."""

    destination: str
    dataset: str
    credentials: str | None
    pipelines_dir: Path  # dlt's working folder (schemas, pending loads), beside syncer's state
    where: str = "sink"  # the config key path, for errors
    tz: tzinfo | None = None

    @property
    def pipeline_name(self) -> str:
        return f"syncer_{self.destination}_{self.dataset}"

    @property
    def duckdb_file(self) -> Path | None:
        """The DuckDB database file, or None for other destinations."""
        if self.destination != "duckdb":
            return None
        return Path((self.credentials or "").removeprefix("duckdb:///"))

    @property
    def label(self) -> str:
        target = f"{self.duckdb_file}" if self.duckdb_file else self.destination
        return f"{target} (dataset {self.dataset})"


@dataclass(slots=True)
class _Pending:
    loads: list[tuple[Shape, pl.DataFrame]]
    log_rows: int  # Sync log rows already in the warehouse (the new one's `_syncer_row`)


class WarehouseSink:
    """Tables in a warehouse through dlt; see the module docstring."""

    def __init__(self, settings: WarehouseSettings):
        self.settings = settings
        self.ident = f"warehouse:{settings.dataset}"
        file = settings.duckdb_file
        if file is not None and file.stem.casefold() == settings.dataset.casefold():
            # DuckDB names the database after the file, and cannot tell `x.x` apart from the dataset `x`
            raise ConfigError(f"{settings.where}.credentials: the DuckDB file {file.name} has the dataset's name "
                              f"{settings.dataset!r}; name the file differently")
        self._destination = self._make_destination()

    @classmethod
    def from_config(cls, sink: WarehouseSinkConfig, cfg: Config, policy: object = None) -> WarehouseSink:
        """The sink for a `kind: warehouse` entry; dlt retries its own loads, so `policy` is not used."""
        where = "sink" if not cfg.sinks else f"sinks[{cfg.sinks.index(sink)}]"
        twins = [f"sinks[{i}]" for i, s in enumerate(cfg.sinks) if isinstance(s, type(sink)) and s is not sink
                 and (s.destination, s.dataset) == (sink.destination, sink.dataset)]
        if twins:  # dlt keeps its working state per destination and dataset
            raise ConfigError(f"{where}: loads the same {sink.destination} dataset {sink.dataset!r} as "
                              f"{', '.join(twins)}; give each warehouse sink its own dataset")
        folder = Path(cfg.state.path).parent
        creds = sink.credentials.get_secret_value() if sink.credentials else None
        if sink.destination == "duckdb" and not creds:
            creds = str(folder / "warehouse.duckdb")
        return cls(WarehouseSettings(sink.destination, sink.dataset, creds, folder / "dlt", where, cfg.tz))

    @property
    def requests(self) -> int:
        """0: a warehouse is reached over its own protocol, not a metered HTTP API."""
        return 0

    def read_tab(self, title: str) -> Table | None:
        """A table as tab rows (syncer's header names, dates ISO, times in the zone), or None when it is missing.

        Appended tables come in the order they were appended, keyed ones in their tab's key order. A table that is
        not one of syncer's tabs (e.g. finance's `budget`) comes with its column names as the header.
        """
        name = table_name(title)
        with self._client() as client:
            if client is None:
                return None
            columns = self._columns(client, name)
            if not columns:
                return None
            data = [c for c in columns if not c.startswith(("_syncer_", "_dlt_"))]
            order = f" ORDER BY {ROW}" if ROW in columns else ""
            names = ", ".join(client.escape_column_name(c) for c in data)  # `at` and `by` are SQL words
            rows = self._query(client, f"SELECT {names} FROM {client.make_qualified_table_name(name)}{order}")
        tz = self.settings.tz
        cells = [[to_cell(v, tz) for v in row] if tz else list(row) for row in rows or []]
        header = HEADERS.get(title)
        if header is None or len(header) < len(data):
            return [data, *cells]
        where = [data.index(table_name(h)) if table_name(h) in data else None for h in header]
        table = [[None if i is None else row[i] for i in where] for row in cells]
        if not order and title in KEY_COLUMNS:
            keys = KEY_COLUMNS[title]
            table.sort(key=lambda r: tuple(natural_key(str(r[i] or "")) for i in keys))
        return [list(header), *table]

    def recall(self, marks: SinkMarks | None, recheck: bool = False) -> None:
        """Nothing to recall: dlt merges what each run loads by its keys."""

    def plan(self, tables: Mapping[str, Table], frames: Frames | None = None) -> Plan:
        """Read what each table holds (keys and hashes) and keep the rows that differ; writes nothing."""
        loads, changes = [], {}
        with self._client() as client:
            old_log = self._hashes(client, SYNC_LOG_SHAPE.name)
            for shape, new in warehouse_frames(tables, frames).items():
                change, load = rows_to_load(new, self._hashes(client, shape.name), shape.appended)
                changes[shape.title] = change
                if load.height:
                    loads.append((shape, load))
        return Plan(tabs=changes, state=_Pending(loads, 0 if old_log is None else old_log.height))

    def apply(self, plan: Plan, log_row: Sequence[Cell]) -> int:
        """Load the planned rows and the Sync log row in one dlt run; returns 0 requests."""
        pending: _Pending = plan.state
        log_frame = tab_frame(SYNC_LOG, [HEADERS[SYNC_LOG], list(log_row)])
        _, log_frame = rows_to_load(log_frame, None, appended=True, start=pending.log_rows)
        resources = [self._resource(shape, frame) for shape, frame in [*pending.loads, (SYNC_LOG_SHAPE, log_frame)]]
        with self._errors("load"), _dlt_logs_to(log):
            pipeline = self._pipeline(self.settings.pipelines_dir)
            # A load that failed earlier left its package behind; this run's plan is computed afresh against the
            # destination, so the old package is stale: drop it rather than let dlt load it first.
            pipeline.abort_packages()
            pipeline.run(resources).raise_on_failed_jobs()
        return 0

    # ---- doctor ----------------------------------------------------------------------------------------------
    def inspect(self) -> Inspection:
        """`syncer doctor`: a connection, the dataset (or that the first run creates it) and, where one query tells
        it (DuckDB, PostgreSQL), the right to create tables."""
        out, dataset = Inspection(), self.settings.dataset
        out.add(Level.OK, "destination", f"dlt destination {self.settings.destination!r}")
        try:
            with self._client() as client:
                if client is None:  # a DuckDB file that does not exist yet
                    out.add(Level.OK, "connection", "DuckDB (the file is created at the first run)")
                    exists, can_write, tables = False, _writable(self.settings.duckdb_file), []
                else:
                    out.add(Level.OK, "connection", self._server(client))
                    exists = client.has_dataset()
                    tables = [n for n in map(table_name, HEADERS) if exists and self._columns(client, n)]
                    can_write = self._can_write(client, exists)
        except SyncerError as e:
            out.add(Level.FAIL, "connection", str(e), config=isinstance(e, ConfigError))
            out.reachable = False
            return out
        if exists:
            out.add(Level.OK, "dataset", f"{dataset!r} exists ({', '.join(tables) or 'no syncer table yet'})")
        else:
            out.add(Level.OK, "dataset", f"{dataset!r} will be created at the first run")
        if can_write:
            out.add(Level.OK, "write", "may create and load tables" + (" in it" if exists else ""))
        elif can_write is False:
            out.add(Level.FAIL, "write", f"may not create tables in {dataset!r} (grant CREATE on it, or on the "
                                         "database)")
        else:
            out.notes.append("write access shows at the first run")
        return out

    # ---- dlt ---------------------------------------------------------------------------------------------------
    def _make_destination(self) -> Destination:
        s = self.settings
        try:
            return Destination.from_reference(s.destination, credentials=s.credentials)
        except MissingDependencyException:
            raise ConfigError(f"{s.where}.destination: {s.destination!r} needs packages syncer does not install: "
                              f"pip install 'dlt[{s.destination}]'") from None
        except DltException:
            raise ConfigError(f"{s.where}.destination: {s.destination!r} is not a dlt destination (e.g. duckdb, "
                              "postgres, bigquery, snowflake, motherduck, mssql, redshift, databricks)") from None

    def _pipeline(self, pipelines_dir: Path) -> dlt.Pipeline:
        return dlt.pipeline(pipeline_name=self.settings.pipeline_name, pipelines_dir=str(pipelines_dir),
                            destination=self._destination, dataset_name=self.settings.dataset)

    @contextmanager
    def _client(self) -> Iterator[Any]:
        """A SQL connection to the destination (None for a DuckDB file that does not exist: nothing to read, and
        connecting would create it). Reads use a throwaway dlt working folder, so a plan writes nothing."""
        file = self.settings.duckdb_file
        if file is not None and not file.exists():
            yield None
            return
        with (
            tempfile.TemporaryDirectory(prefix="syncer-dlt-") as tmp, self._errors("connect"), _dlt_logs_to(log),
            self._pipeline(Path(tmp)).sql_client() as client,
        ):
            yield client

    def _query(self, client: Any, sql: str) -> list[tuple] | None:
        """Rows of a query, or None when its table does not exist."""
        try:
            return list(client.execute_sql(sql) or [])
        except DatabaseUndefinedRelation:
            return None

    def _columns(self, client: Any, name: str) -> list[str]:
        """A table's columns in order ([] when it does not exist)."""
        try:
            with client.execute_query(f"SELECT * FROM {client.make_qualified_table_name(name)} WHERE 1 = 0") as cur:
                return [d[0] for d in cur.native_cursor.description or ()]
        except DatabaseUndefinedRelation:
            return []

    def _hashes(self, client: Any, name: str) -> pl.DataFrame | None:
        """A table's `_syncer_key` and `_syncer_hash` columns, or None when the table (or the file) is missing."""
        if client is None:
            return None
        try:
            with client.execute_query(f"SELECT {KEY}, {HASH} FROM {client.make_qualified_table_name(name)}") as cur:
                rows = cur.fetchall()
        except DatabaseUndefinedRelation:
            return None
        return pl.DataFrame(rows, schema={KEY: pl.String, HASH: pl.Int64}, orient="row")

    def _resource(self, shape: Shape, frame: pl.DataFrame) -> Any:
        """A dlt resource of one table's rows (an Arrow table: dlt loads it without touching each row)."""
        table = frame.to_arrow()
        fields = [f.with_nullable(f.name != KEY) for f in table.schema]  # the merge key is never null
        table = table.cast(pa.schema(fields))
        if shape.appended:
            return dlt.resource([table], name=shape.name, write_disposition="append")
        return dlt.resource([table], name=shape.name, write_disposition="merge", primary_key=KEY,
                            columns={DELETED: {"data_type": "bool", "hard_delete": True}})

    def _server(self, client: Any) -> str:
        if self.settings.destination == "postgres":
            return str(client.execute_sql("SHOW server_version")[0][0]).join(("PostgreSQL ", ""))
        if self.settings.destination == "duckdb":
            return f"DuckDB {client.execute_sql('SELECT version()')[0][0]} at {self.settings.duckdb_file}"
        client.execute_sql("SELECT 1")
        return self.settings.destination

    def _can_write(self, client: Any, dataset_exists: bool) -> bool | None:
        if self.settings.destination == "duckdb":
            return _writable(self.settings.duckdb_file)
        if self.settings.destination != "postgres":
            return None
        if dataset_exists:
            sql = f"SELECT has_schema_privilege('{self.settings.dataset}', 'CREATE')"
        else:
            sql = "SELECT has_database_privilege(current_database(), 'CREATE')"
        return bool(client.execute_sql(sql)[0][0])

    @contextmanager
    def _errors(self, step: str) -> Iterator[None]:
        """dlt's failures as syncer's errors: missing credentials are a config error, the rest a sink error."""
        s = self.settings
        try:
            yield
        except ConfigFieldMissingException as e:
            fields = ", ".join(e.fields) if getattr(e, "fields", None) else "credentials"
            raise ConfigError(f"{s.where}.credentials: not set, and dlt found no {fields} for {s.destination} "
                              f"in its environment variables or .dlt/secrets.toml") from None
        except SyncerError:
            raise
        except Exception as e:  # dlt wraps most failures, but each destination's driver raises its own types too
            cause = getattr(e, "exception", None) or e.__cause__ or e
            text = f"{type(cause).__name__}: {cause}".strip().splitlines()
            raise SinkError(self._redact(f"warehouse {s.label}: {step} failed: {' '.join(text)[:600]}")) from None

    def _redact(self, text: str) -> str:
        """No credential in a message: the whole value, and a URL's password on its own (a DuckDB file's path is
        no secret, and says which file)."""
        creds = "" if self.settings.duckdb_file else self.settings.credentials or ""
        return RedactFilter([creds, *sink_secrets(SecretStr(creds))]).redact(text)


@contextmanager
def _dlt_logs_to(target: logging.Logger) -> Iterator[None]:
    """dlt's log records go to syncer's logging (and its secret filter) instead of dlt's own stderr handler."""
    dlt_log = logging.getLogger("dlt")
    saved = dlt_log.handlers[:], dlt_log.propagate
    dlt_log.handlers, dlt_log.propagate = [], False
    forward = _Forward(target)
    dlt_log.addHandler(forward)
    try:
        yield
    finally:
        dlt_log.handlers, dlt_log.propagate = saved


class _Forward(logging.Handler):
    def __init__(self, target: logging.Logger):
        super().__init__()
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        self.target.log(record.levelno, "dlt: %s", record.getMessage())


def _writable(path: Path | None) -> bool:
    if path is None:
        return False
    folder = next((p for p in path.absolute().parents if p.exists()), Path("/"))
    return os.access(path if path.exists() else folder, os.W_OK)
