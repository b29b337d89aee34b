"""Tables the sink tests write: a Tasks row, and every owned tab (headers, those rows, one Capacity row)."""

from __future__ import annotations

from syncer.charts import CHARTS
from syncer.tables import CAPACITY, DASHBOARD, HEADERS, OWNED_TABS, TASKS


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


CHART_TITLE = {c.key: c.title for c in CHARTS}


def dashboard(campaigns: int) -> list[list]:
    weeks = [f"2026-W{w}" for w in range(35, 47)]
    rows: list[list] = [list(HEADERS[DASHBOARD]), ["Open tasks", 3], []]
    rows += [[CHART_TITLE["spend"]], ["Month", "Budget", "Spent"], *([f"2026-{m:02d}", 100.0 * m, 40.0 * m] for m in
                                                                   range(4, 13)), []]
    rows += [[CHART_TITLE["flow"]], ["Week", "Throughput", "WIP"], *([w, 3, 5] for w in weeks), []]
    rows += [[CHART_TITLE["cycle"]], ["Week", "Cycle p50", "Cycle p85"], *([w, 2.5, 7.0] for w in weeks), []]
    rows += [[CHART_TITLE["utilization"]], ["Week", "content", "web"], *([w, 0.5, 0.75] for w in weeks), []]
    rows += [[CHART_TITLE["budget"]], ["Campaign", "Budgeted", "Spent", "Open commitments"],
             *([f"Campaign {i}", 1000.0, 400.0, 100.0] for i in range(campaigns))]
    return rows
