"""State: round trip of tasks through the frames, atomic commits, cursors, migration of the JSON-blob format, and
the one-writer lock."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime

import pytest

from syncer.domain.stored import frames_of
from syncer.errors import LockedError
from syncer.model import Problem, Spell, Stage, StageChange, Task, Worklog
from syncer.state import SavedFrames, State, encode, run_lock, task_from_dict, task_to_dict
from syncer.tables import RunRecord

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def sample() -> Task:
    return Task(
        source="web", key="MKT-1", title="Zoë's =SUM(A1)", created_at=NOW, stage=Stage.DONE, status="Done",
        created_stage=Stage.BACKLOG, due_date=date(2026, 6, 3), planned_cost=10.5, labels=("a", "b"),
        history=[StageChange(NOW, Stage.BACKLOG, Stage.DONE, "To Do", "Done")],
        worklogs=[Worklog("ana", NOW, 1.25)], amount_first_seen={"committed_amount": NOW},
        problems=[Problem("amount_unparseable", "committed_amount", "cannot read")],
        defaulted_statuses=[("Done", Stage.DONE)], depends_on=("MKT-2",), flagged=[Spell(NOW, None)],
    )


def saved(*tasks: Task) -> SavedFrames:
    return SavedFrames(frames_of(list(tasks)), "digest")


def test_task_round_trips_through_its_stored_form():
    t = sample()
    assert task_from_dict(task_to_dict(t)) == t
    assert encode(t) == encode(task_from_dict(task_to_dict(t)))


def test_commit_writes_tasks_cursor_and_run_together(tmp_path):
    st = State(tmp_path / "s.db")
    st.commit(saved(sample()), {"web": (NOW, True)}, RunRecord(run_at=NOW, mode="full", fetched=1))
    st.close()
    st = State(tmp_path / "s.db")
    assert st.tasks() == [sample()]
    assert st.frames()[1] == "digest"
    assert st.cursor("web").cursor == NOW and st.cursor("web").last_full == NOW
    assert st.cursor("other") is None
    assert [r["mode"] for r in st.runs()] == ["full"]
    later = datetime(2026, 6, 2, tzinfo=UTC)
    st.commit(saved(), {"web": (later, False)}, RunRecord(run_at=later, mode="incremental"))
    assert st.tasks() == []
    assert st.cursor("web").cursor == later and st.cursor("web").last_full == NOW  # incremental keeps last_full
    assert st.generation() == (2, "digest")


def test_an_unchanged_run_writes_no_frames(tmp_path):
    st = State(tmp_path / "s.db")
    st.commit(saved(sample()), {"web": (NOW, True)}, RunRecord(run_at=NOW, mode="full"))
    blobs = st.db.execute("SELECT name, data FROM model_frames ORDER BY name").fetchall()
    st.commit(None, {"web": (NOW, False)}, RunRecord(run_at=NOW, mode="incremental"))
    assert st.db.execute("SELECT name, data FROM model_frames ORDER BY name").fetchall() == blobs
    assert st.generation() == (1, "digest")
    assert st.tasks() == [sample()] and len(st.runs()) == 2


def test_a_failing_commit_changes_nothing(tmp_path):
    st = State(tmp_path / "s.db")
    with pytest.raises(AttributeError):  # any failure inside the transaction: a cursor that is no time
        st.commit(saved(sample()), {"web": (None, True)}, RunRecord(run_at=NOW, mode="full"))
    assert st.tasks() == [] and st.cursor("web") is None and st.runs() == [] and st.generation() is None


def test_a_state_file_of_json_blobs_is_read_then_migrated(tmp_path):
    path = tmp_path / "s.db"
    st = State(path)
    h, data = encode(sample())
    with st.db:  # the format before the frames: one JSON blob per task
        st.db.execute("INSERT INTO tasks (source, key, hash, data) VALUES (?, ?, ?, ?)", ("web", "MKT-1", h, data))
    assert st.frames() is None and st.tasks() == [sample()]
    st.commit(saved(*st.legacy_tasks()), {"web": (NOW, True)}, RunRecord(run_at=NOW, mode="full"))
    assert st.legacy_tasks() == [] and st.tasks() == [sample()]
    assert sqlite3.connect(path).execute("SELECT count(*) FROM tasks").fetchone() == (0,)


def test_second_holder_of_the_lock_is_refused(tmp_path):
    path = tmp_path / "s.db"
    with run_lock(path), pytest.raises(LockedError, match="another sync holds the lock"), run_lock(path):
        pass
    with run_lock(path):  # released again
        pass


def test_frames_saved_in_a_folder_beside_the_file_are_read_then_moved_in(tmp_path):
    # A short-lived format kept the frames as Parquet files in `<state>.frames/<generation>/`.
    path = tmp_path / "s.db"
    st = State(path)
    folder = tmp_path / "s.db.frames" / "3"
    folder.mkdir(parents=True)
    for name, frame in saved(sample()).frames.items():
        frame.write_parquet(folder / f"{name}.parquet")
    with st.db:
        st.db.execute("CREATE TABLE frames (id INTEGER PRIMARY KEY, generation INTEGER NOT NULL, digest TEXT)")
        st.db.execute("INSERT INTO frames VALUES (1, 3, 'old')")
    assert st.tasks() == [sample()] and st.frames()[1] == "old"
    st.commit(saved(*st.tasks()), {"web": (NOW, True)}, RunRecord(run_at=NOW, mode="full"))
    assert st.tasks() == [sample()] and not (tmp_path / "s.db.frames").exists()
