"""bench/close.py on a small run: every month closed in turn, one task in ten edited afterwards, and the
Budget rollup's Totals still the live ledger's (the benchmark asserts it; this keeps the benchmark running)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "close.py"


def test_the_close_benchmark_runs_and_its_totals_hold(capsys):
    spec = importlib.util.spec_from_file_location("bench_close", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--tasks", "400", "--worklogs-per-task", "2", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "months closed" in out and "Totals equal the live ledger's" in out
    assert " 0 adjustment rows" not in out  # the edits after the closes did reach closed months
