"""State: one SQLite file with the canonical model as normalised frames, the cursors and one record per run.

The frames (tasks, stage changes, worklogs, ...) are stored one row each in `frames`, as Parquet (columnar,
compressed: a million worklogs load in a fraction of a second, where decoding one JSON blob per task took
seconds), written in the same transaction as the cursors and the run record, so a run is saved whole or not at
all, and a single file is all there is to back up or cache. An unchanged run rewrites no frame. One writer at a
time (`run_lock`). A state file from before the frames (one JSON blob per task in `tasks`) is read once and
migrated by the next commit."""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from syncer.errors import LockedError, SyncerError
from syncer.model import Problem, Spell, Stage, StageChange, Task, Worklog
from syncer.tables import RunRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
  source TEXT NOT NULL, key TEXT NOT NULL, hash TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (source, key)
);
CREATE TABLE IF NOT EXISTS cursors (
  source TEXT PRIMARY KEY, cursor TEXT NOT NULL, last_full TEXT
);
CREATE TABLE IF NOT EXISTS checkpoints (
  source TEXT PRIMARY KEY, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_at TEXT NOT NULL, mode TEXT NOT NULL, duration_s REAL,
  fetched INTEGER, changed INTEGER, deleted INTEGER, rows_written INTEGER, api_requests INTEGER, warnings TEXT
);
CREATE TABLE IF NOT EXISTS intake_marks (
  source TEXT NOT NULL, key TEXT NOT NULL, labelled INTEGER, digest TEXT,
  PRIMARY KEY (source, key)
);
CREATE TABLE IF NOT EXISTS sink_marks (
  sink TEXT NOT NULL, tab TEXT NOT NULL, digest TEXT NOT NULL, rows BLOB NOT NULL,
  PRIMARY KEY (sink, tab)
);
CREATE TABLE IF NOT EXISTS carried_warnings (
  id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS model_frames (
  name TEXT PRIMARY KEY, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS model_meta (
  id INTEGER PRIMARY KEY CHECK (id = 1), generation INTEGER NOT NULL, digest TEXT
);
CREATE TABLE IF NOT EXISTS closed_periods (
  id INTEGER PRIMARY KEY AUTOINCREMENT, row TEXT NOT NULL
);
"""


class StateError(SyncerError):
    """The state file cannot be opened or written."""


def task_to_dict(t: Task) -> dict[str, Any]:
    """A Task as plain JSON-able data (the stored form before the frames: still read, to migrate such a file)."""
    d: dict[str, Any] = {}
    for name in Task.__slots__:
        v = getattr(t, name)
        if name == "history":
            v = [[c.at.isoformat(), c.from_stage.value, c.to_stage.value, c.from_status, c.to_status] for c in v]
        elif name == "worklogs":
            v = [[w.author, w.started_at.isoformat(), w.hours] for w in v]
        elif name == "flagged":
            v = [[sp.start.isoformat(), sp.end.isoformat() if sp.end else None] for sp in v]
        elif name == "problems":
            v = [[p.rule, p.field, p.problem] for p in v]
        elif name == "defaulted_statuses":
            v = [[s, st.value] for s, st in v]
        elif name == "amount_first_seen":
            v = {k: w.isoformat() for k, w in v.items()}
        elif isinstance(v, datetime | date):
            v = v.isoformat()
        elif isinstance(v, Stage):
            v = v.value
        elif isinstance(v, tuple):
            v = list(v)
        d[name] = v
    return d


def task_from_dict(d: dict[str, Any]) -> Task:
    """Inverse of task_to_dict."""
    dt, day = datetime.fromisoformat, date.fromisoformat
    return Task(
        **{k: d[k] for k in ("source", "key", "title", "status", "url", "type", "owner", "requester", "campaign",
                             "activity", "gl_account", "category", "estimate_hours", "planned_cost",
                             "committed_amount", "invoiced_amount", "brief", "parent")},
        created_at=dt(d["created_at"]),
        stage=Stage(d["stage"]),
        created_stage=Stage(d["created_stage"]),
        due_date=day(d["due_date"]) if d["due_date"] else None,
        po_date=day(d["po_date"]) if d["po_date"] else None,
        invoice_date=day(d["invoice_date"]) if d["invoice_date"] else None,
        labels=tuple(d["labels"]),
        depends_on=tuple(d.get("depends_on") or ()),
        flagged=[Spell(dt(a), dt(b) if b else None) for a, b in d.get("flagged") or ()],
        history=[StageChange(dt(a), Stage(fs), Stage(ts), f, t) for a, fs, ts, f, t in d["history"]],
        worklogs=[Worklog(a, dt(s), h) for a, s, h in d["worklogs"]],
        amount_first_seen={k: dt(v) for k, v in d["amount_first_seen"].items()},
        problems=[Problem(*p) for p in d["problems"]],
        defaulted_statuses=[(s, Stage(st)) for s, st in d["defaulted_statuses"]],
    )


def encode(t: Task) -> tuple[str, str]:
    """(hash, json) of a task; the hash changes exactly when the stored task would."""
    data = json.dumps(task_to_dict(t), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(data.encode(), digest_size=16).hexdigest(), data


def _parquet(frame: pl.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.write_parquet(out, compression="lz4", statistics=False)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class EncodedFrames:
    """Saved frames as the state file holds them (Parquet), ready for `commit`."""

    blobs: list[tuple[str, bytes]]
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class SavedFrames:
    """What a commit saves of the model: named frames, and a digest of what the cached parts depend on."""

    frames: dict[str, pl.DataFrame]
    digest: str | None = None

    def encoded(self) -> EncodedFrames:
        """The frames encoded for the state file: a caller may do this beside other work before `commit`."""
        return EncodedFrames([(name, _parquet(frame)) for name, frame in self.frames.items()], self.digest)


@dataclass(slots=True)
class Cursor:
    """Where a source's incremental reads continue from."""

    cursor: datetime
    last_full: datetime | None


class State:
    """The state database. Reads anytime; `commit` writes everything of one run in one transaction."""

    def __init__(self, path: Path, read_only: bool = False):
        self.path = Path(path)
        try:
            if read_only:  # a dry run: read what is there, create nothing
                uri = f"{self.path.resolve().as_uri()}?mode=ro" if self.path.exists() else "file::memory:"
                self.db = sqlite3.connect(uri, uri=True)
                if not self.path.exists():
                    self.db.executescript(SCHEMA)
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path)
            self.db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise StateError(f"state.path: cannot open the state file {self.path} ({e})") from None

    def close(self) -> None:
        self.db.close()

    def cursor(self, source: str) -> Cursor | None:
        row = self.db.execute("SELECT cursor, last_full FROM cursors WHERE source = ?", (source,)).fetchone()
        if not row:
            return None
        return Cursor(datetime.fromisoformat(row[0]), datetime.fromisoformat(row[1]) if row[1] else None)

    def checkpoint(self, source: str) -> dict[str, Any] | None:
        """A source's own data from its last successful run (e.g. Jira's worklog index), or None."""
        row = self.db.execute("SELECT data FROM checkpoints WHERE source = ?", (source,)).fetchone()
        return json.loads(row[0]) if row else None

    def tasks(self) -> list[Task]:
        """Every stored task as a Python object, sorted by (source, key) (slow at scale: the sync reads frames)."""
        saved = self.frames()
        return tasks_of(saved[0]) if saved is not None else self.legacy_tasks()

    def legacy_tasks(self) -> list[Task]:
        """Tasks of a state file from before the frames (one JSON blob each); [] once migrated."""
        try:
            rows = self.db.execute("SELECT data FROM tasks ORDER BY source, key").fetchall()
        except sqlite3.OperationalError:
            return []
        return [task_from_dict(json.loads(data)) for (data,) in rows]

    def generation(self) -> tuple[int, str | None] | None:
        """(how many times frames were saved, the digest saved with them), or None before the first save."""
        try:
            row = self.db.execute("SELECT generation, digest FROM model_meta WHERE id = 1").fetchone()
        except sqlite3.OperationalError:  # a dry run reading a state file from before the frames
            return None
        return (row[0], row[1]) if row else None

    def frames(self) -> tuple[dict[str, pl.DataFrame], str | None] | None:
        """The stored frames by name and the digest saved with them, or None when none were saved yet."""
        gen = self.generation()
        if gen is None:
            return self._folder_frames()
        try:
            rows = self.db.execute("SELECT name, data FROM model_frames").fetchall()
            return {name: pl.read_parquet(io.BytesIO(data)) for name, data in rows}, gen[1]
        except (sqlite3.Error, pl.exceptions.PolarsError, OSError) as e:
            raise StateError(f"state.path: cannot read the saved tasks in {self.path} ({e})") from None

    def _folder_frames(self) -> tuple[dict[str, pl.DataFrame], str | None] | None:
        """Frames saved for a short while as Parquet files in a folder beside the file (`<state>.frames/<n>/`,
        named by the `frames` table): read once, moved into the file by the next commit."""
        try:
            row = self.db.execute("SELECT generation, digest FROM frames WHERE id = 1").fetchone()
        except sqlite3.OperationalError:
            return None
        folder = Path(f"{self.path}.frames") / str(row[0]) if row else None
        if folder is None or not (folder / "tasks.parquet").is_file():
            return None
        return {p.stem: pl.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}, row[1]

    def intake_marks(self) -> dict[tuple[str, str], tuple[bool | None, str | None]]:
        """What intake write-back last wrote per task: (labelled, comment digest)."""
        try:
            rows = self.db.execute("SELECT source, key, labelled, digest FROM intake_marks").fetchall()
        except sqlite3.OperationalError:  # a dry run reading a state file from before this table existed
            return {}
        return {(s, k): (None if lab is None else bool(lab), d) for s, k, lab, d in rows}

    def carried_warnings(self) -> list[str]:
        """Warnings the last run raised after its sink was written (e.g. a failed write-back), for this run's log."""
        try:
            return [t for (t,) in self.db.execute("SELECT text FROM carried_warnings ORDER BY id")]
        except sqlite3.OperationalError:  # as above
            return []

    def closed_rows(self) -> list[list[Any]]:
        """The rows of the Closed periods tab as last written (header left out), oldest first."""
        try:
            return [json.loads(r) for (r,) in self.db.execute("SELECT row FROM closed_periods ORDER BY id")]
        except sqlite3.OperationalError:  # a dry run reading a state file from before this table existed
            return []

    def save_closed_rows(self, rows: Iterable[list[Any]]) -> None:
        """Replace the stored Closed periods rows by those the sink now holds (the tab wins over the state)."""
        try:
            with self.db:
                self.db.execute("DELETE FROM closed_periods")
                self.db.executemany("INSERT INTO closed_periods (row) VALUES (?)",
                                    [(json.dumps(list(r), ensure_ascii=False),) for r in rows])
        except sqlite3.Error as e:
            raise StateError(f"state file {self.path}: could not save the closed periods ({e})") from None

    def sink_marks(self, sink: str) -> dict[str, tuple[str, bytes]]:
        """What a sink last wrote, as it described it: tab -> (digest, row digests); the tab "" is the sink's own
        stamp (e.g. a file's mtime and size). Empty when unknown."""
        try:
            rows = self.db.execute("SELECT tab, digest, rows FROM sink_marks WHERE sink = ?", (sink,)).fetchall()
        except sqlite3.OperationalError:  # a dry run reading a state file from before this table existed
            return {}
        return {tab: (digest, bytes(blob)) for tab, digest, blob in rows}

    def save_sink_marks(self, sink: str, marks: dict[str, tuple[str, bytes]] | None) -> None:
        """Replace what a sink last wrote (saved right after the sink write succeeded: it describes the sink, not
        this run's tasks, so it holds even if the run's own commit fails after it); None: the sink keeps none."""
        if marks is None:
            return
        try:
            with self.db:
                self.db.execute("DELETE FROM sink_marks WHERE sink = ?", (sink,))
                self.db.executemany("INSERT INTO sink_marks (sink, tab, digest, rows) VALUES (?, ?, ?, ?)",
                                    [(sink, tab, d, rows) for tab, (d, rows) in marks.items()])
        except sqlite3.Error as e:
            raise StateError(f"state file {self.path}: could not save what the sink holds ({e})") from None

    def runs(self) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT * FROM runs ORDER BY id")
        names = [c[0] for c in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur]

    def commit(
        self,
        frames: SavedFrames | EncodedFrames | None,
        cursors: dict[str, tuple[datetime, bool]],
        run: RunRecord,
        checkpoints: dict[str, dict[str, Any]] | None = None,
        marks: dict[tuple[str, str], tuple[bool | None, str | None]] | None = None,
        carried: list[str] | None = None,
    ) -> None:
        """Write the frames (when given: they changed), advanced cursors, source checkpoints and the run record
        atomically. `marks` (when given) replaces the intake write-back marks; `carried` the warnings for the next
        run's log."""
        encoded = frames.encoded() if isinstance(frames, SavedFrames) else frames
        try:
            with self.db:
                if encoded is not None:
                    gen = self.generation()
                    self.db.execute("DELETE FROM model_frames")
                    self.db.executemany("INSERT INTO model_frames (name, data) VALUES (?, ?)", encoded.blobs)
                    self.db.execute(
                        "INSERT INTO model_meta (id, generation, digest) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE "
                        "SET generation = excluded.generation, digest = excluded.digest",
                        ((gen[0] if gen else 0) + 1, encoded.digest))
                    self.db.execute("DELETE FROM tasks")  # the JSON blobs of an older state file, now migrated
                for source, (at, full) in cursors.items():
                    self.db.execute(
                        "INSERT INTO cursors (source, cursor, last_full) VALUES (?, ?, ?) ON CONFLICT (source) DO "
                        "UPDATE SET cursor = excluded.cursor, last_full = COALESCE(excluded.last_full, last_full)",
                        (source, at.isoformat(), at.isoformat() if full else None),
                    )
                self.db.executemany(
                    "INSERT INTO checkpoints (source, data) VALUES (?, ?) "
                    "ON CONFLICT (source) DO UPDATE SET data = excluded.data",
                    [(src, json.dumps(data, separators=(",", ":"))) for src, data in (checkpoints or {}).items()],
                )
                if marks is not None:
                    self.db.execute("DELETE FROM intake_marks")
                    self.db.executemany(
                        "INSERT INTO intake_marks (source, key, labelled, digest) VALUES (?, ?, ?, ?)",
                        [(s, k, None if lab is None else int(lab), d) for (s, k), (lab, d) in marks.items()],
                    )
                if carried is not None:
                    self.db.execute("DELETE FROM carried_warnings")
                    self.db.executemany("INSERT INTO carried_warnings (text) VALUES (?)", [(t,) for t in carried])
                self.db.execute(
                    "INSERT INTO runs (run_at, mode, duration_s, fetched, changed, deleted, rows_written, "
                    "api_requests, warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (run.run_at.isoformat(), run.mode, run.duration_s, run.fetched, run.changed, run.deleted,
                     run.rows_written, run.api_requests, json.dumps(list(run.warnings), ensure_ascii=False)),
                )
        except sqlite3.Error as e:
            raise StateError(f"state.path: could not save this run in {self.path} ({e}); nothing of it was kept, "
                             "the next run repeats it") from None
        if frames is not None:
            shutil.rmtree(f"{self.path}.frames", ignore_errors=True)  # the folder format, now in the file


def tasks_of(frames: Mapping[str, pl.DataFrame]) -> list[Task]:
    """Python tasks of the stored frames (for callers that need the objects: write-back, re-checking intake)."""
    def grouped(name: str) -> dict[tuple[str, str], list[tuple]]:
        out: dict[tuple[str, str], list[tuple]] = {}
        for row in frames[name].rows():
            out.setdefault((row[0], row[1]), []).append(row[2:])
        return out

    changes, worklogs, flags = grouped("changes"), grouped("worklogs"), grouped("flags")
    problems, defaulted = grouped("problems"), grouped("defaulted")
    tasks = []
    for row in frames["tasks"].iter_rows(named=True):
        k = (row["source"], row["key"])
        seen = {"committed_amount": row.pop("committed_seen_at"), "invoiced_amount": row.pop("invoiced_seen_at")}
        row["stage"], row["created_stage"] = Stage(row["stage"]), Stage(row["created_stage"])
        row["labels"], row["depends_on"] = tuple(row["labels"] or ()), tuple(row["depends_on"] or ())
        tasks.append(Task(
            **row, amount_first_seen={a: w for a, w in seen.items() if w is not None},
            history=[StageChange(at, Stage(a), Stage(b), fs, ts) for at, a, b, fs, ts in changes.get(k, ())],
            worklogs=[Worklog(*w) for w in worklogs.get(k, ())], flagged=[Spell(*f) for f in flags.get(k, ())],
            problems=[Problem(*p) for p in problems.get(k, ())],
            defaulted_statuses=[(s, Stage(st)) for s, st in defaulted.get(k, ())],
        ))
    return tasks


@contextmanager
def run_lock(state_path: Path) -> Iterator[None]:
    """Hold an exclusive lock beside the state file; a second holder gets LockedError (exit 0)."""
    lock_path = Path(f"{state_path}.lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise StateError(f"state.path: cannot create the lock file {lock_path} beside the state file "
                         f"({e.strerror or e}); the folder must be writable") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(f"another sync holds the lock on {state_path}; nothing to do") from None
        yield
    finally:
        os.close(fd)
