"""Tables the sink tests write: a Tasks row, and every owned tab (headers, those rows, one Capacity row)."""

from __future__ import annotations

from syncer.tables import CAPACITY, HEADERS, OWNED_TABS, TASKS


def task(key: str, title: str = "Brief", cost: float | None = 1200.5) -> list:
    row: list = [None] * len(HEADERS[TASKS])
    row[0], row[1], row[2], row[4] = "jira", key, title, "done"
    row[HEADERS[TASKS].index("Labour cost")] = cost
    row[HEADERS[TASKS].index("Estimate h")] = 4.0
    row[HEADERS[TASKS].index("Late")] = False
    row[HEADERS[TASKS].index("Created")] = "2026-02-03T09:00:00+01:00"
    return row


def tables(*task_rows: list) -> dict[str, list[list]]:
    out: dict[str, list[list]] = {t: [list(HEADERS[t])] for t in OWNED_TABS}
    out[TASKS] += [list(r) for r in task_rows]
    out[CAPACITY].append(["2026-W07", "web", "All", "design", 30.0, 32, 0.9375, False])
    return out
