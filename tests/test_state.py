"""SQLite state: round trip of tasks, atomic commits, cursors, and the one-writer lock."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from syncer.errors import LockedError
from syncer.model import Problem, Stage, StageChange, Task, Worklog
from syncer.state import State, encode, run_lock, task_from_dict, task_to_dict
from syncer.tables import RunRecord

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def sample() -> Task:
    return Task(
        source="web", key="MKT-1", title="Zoë's =SUM(A1)", created_at=NOW, stage=Stage.DONE, status="Done",
        created_stage=Stage.BACKLOG, due_date=date(2026, 6, 3), planned_cost=10.5, labels=("a", "b"),
        history=[StageChange(NOW, Stage.BACKLOG, Stage.DONE, "To Do", "Done")],
        worklogs=[Worklog("ana", NOW, 1.25)], amount_first_seen={"committed_amount": NOW},
        problems=[Problem("amount_unparseable", "committed_amount", "cannot read")],
        defaulted_statuses=[("Done", Stage.DONE)],
    )


def test_task_round_trips_through_its_stored_form():
    t = sample()
    assert task_from_dict(task_to_dict(t)) == t
    assert encode(t) == encode(task_from_dict(task_to_dict(t)))


def test_commit_writes_tasks_cursor_and_run_together(tmp_path):
    st = State(tmp_path / "s.db")
    h, data = encode(sample())
    st.commit([("web", "MKT-1", h, data)], [], {"web": (NOW, True)}, RunRecord(run_at=NOW, mode="full", fetched=1))
    st.close()
    st = State(tmp_path / "s.db")
    assert list(st.tasks()) == [sample()]
    assert st.cursor("web").cursor == NOW and st.cursor("web").last_full == NOW
    assert st.cursor("other") is None
    assert [r["mode"] for r in st.runs()] == ["full"]
    later = datetime(2026, 6, 2, tzinfo=UTC)
    st.commit([], [("web", "MKT-1")], {"web": (later, False)}, RunRecord(run_at=later, mode="incremental"))
    assert list(st.tasks()) == []
    assert st.cursor("web").cursor == later and st.cursor("web").last_full == NOW  # incremental keeps last_full


def test_a_failing_commit_changes_nothing(tmp_path):
    st = State(tmp_path / "s.db")
    h, data = encode(sample())
    with pytest.raises(Exception):  # noqa: B017 - any failure inside the transaction
        st.commit([("web", "MKT-1", h, data), ("web", None, h, data)], [], {"web": (NOW, True)},
                  RunRecord(run_at=NOW, mode="full"))
    assert list(st.tasks()) == [] and st.cursor("web") is None and st.runs() == []


def test_second_holder_of_the_lock_is_refused(tmp_path):
    path = tmp_path / "s.db"
    with run_lock(path), pytest.raises(LockedError, match="another sync holds the lock"), run_lock(path):
        pass
    with run_lock(path):  # released again
        pass
