"""End-to-end benchmark of `syncer run` at scale: `python bench/sync.py` (also `make bench`).

Builds the demo generator's data (`demo/`) once for --tasks tasks (default 100,000, about ten worklogs per started
task), saved as a replay under `.bench/` (reused by later runs), then prints, each sync timed end to end:

- xlsx sink: a full run, an unchanged run and a run in which 100 tasks changed, each in a fresh process (its own
  peak RSS);
- Google Sheets (the fake Sheets API of the tests, in process, no network): the same three runs in one process;
- the phases of each run (fetch = read + decode + map, compute = merge + figures + roll-ups + tabs, plan, write,
  the rest = state load and commit), and the run's time without the sink's plan and write;
- decode + map + figures + roll-ups of a full read against the floor (`bench/floor.py`), in one process.

The unchanged and incremental runs read as a live source does after its first full read: the replay source
answers an incremental read with no task (nothing changed) or with the 100 changed tasks (a title edited and one
more worklog each; built before the run, so their mapping is not timed: it is a few milliseconds). Timings are
wall seconds on a shared machine: figures, never assertions; run twice and read ranges.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/jira.py must not shadow `jira`
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the fake Sheets API

from syncer.config import load_config  # noqa: E402
from syncer.model import Task, Worklog  # noqa: E402
from syncer.perf import collect_frozen  # noqa: E402
from syncer.pipeline import RunOptions, run_sync  # noqa: E402
from syncer.sources import FetchResult  # noqa: E402
from syncer.sources.replay import ReplaySource, fetched_at  # noqa: E402
from syncer.state import State, tasks_of  # noqa: E402

CHANGED = 100
RUNS = ("full", "unchanged", "changed")


def replay_folder(n: int, worklogs: int, seed: int) -> Path:
    """The cached replay of the demo generator's data (built on first use)."""
    from demo.data import DEMO_SEED, write_demo

    folder = ROOT / ".bench" / f"replay-{n}-{worklogs}-{seed or DEMO_SEED}"
    if not (folder / "asana-content" / "manifest.json").is_file():
        t = time.perf_counter()
        print(f"building the {n:,}-task replay in {folder} (once) ...", flush=True)
        write_demo(folder, n_tasks=n, seed=seed or DEMO_SEED, worklogs_per_task=worklogs)
        print(f"  built in {time.perf_counter() - t:.0f} s", flush=True)
    return folder


def bench_config(folder: Path, work: Path, sink: dict[str, Any]) -> Any:
    """The demo config, its sources pointed at the replay, state and workbook in `work`."""
    import yaml

    data = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text(encoding="utf-8"))
    for src, sub in zip(data["sources"], ("jira-web", "asana-content"), strict=True):
        src["path"] = str(folder / sub)
    data["budget"] = {"file": str(folder / "budget.csv")}
    data["state"] = {"path": str(work / "state.db")}
    data["sink"] = sink
    path = work / "bench.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path, env={})


class BenchSource(ReplaySource):
    """The replay, read whole at first; later reads answer as a live incremental read would (`answer`)."""

    answer: list[Task] | None = None  # None: read the replay (a full read)

    def read(self, since: datetime | None, now: datetime, checkpoint: Any = None) -> FetchResult:
        if self.answer is None:
            return super().read(since, now, checkpoint)
        return FetchResult(tasks=[t for t in self.answer if t.source == self.name], complete=False)


class Phases:
    """A Progress that keeps each phase's wall seconds."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._at: tuple[str, float] | None = None

    def start(self, phase: str) -> None:
        self._at = (phase.split()[0], time.perf_counter())

    def end(self, **_: Any) -> None:
        if self._at:
            name, t = self._at
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t
            self._at = None

    def page(self, tasks: int = 0) -> None:
        pass

    def request(self) -> None:
        pass

    def waited(self, seconds: float) -> None:
        pass


def changed_tasks(cfg: Any, n: int) -> list[Task]:
    """`n` stored tasks (spread over both sources), each with its title edited and one more worklog."""

    state = State(cfg.state.path, read_only=True)
    try:
        frames = state.frames()[0]
    finally:
        state.close()
    keys = frames["tasks"].select("source", "key").gather_every(max(frames["tasks"].height // n, 1)).head(n)
    picked = tasks_of({name: f.join(keys, on=["source", "key"], how="semi") for name, f in frames.items()})
    at = fetched_at(cfg.sources[0].path) - timedelta(hours=1)
    return [replace(t, title=f"{t.title} (edited)", worklogs=[*t.worklogs, Worklog("bench@acme.com", at, 1.5)])
            for t in picked]


def one_run(cfg: Any, kind: str, sink: Any = None) -> dict[str, Any]:
    """One sync (`kind`: full, unchanged or changed); its wall time, phases, rows written and peak RSS so far."""
    sources = [BenchSource(s, cfg, where=f"sources[{i}]") for i, s in enumerate(cfg.sources)]
    answer = None if kind == "full" else [] if kind == "unchanged" else changed_tasks(cfg, CHANGED)
    for src in sources:
        src.answer = answer
    phases = Phases()  # the figures' reference time is the replay's fetch time, the cursors' the wall clock
    t = time.perf_counter()
    result = run_sync(cfg, RunOptions(full=kind == "full"), sources=sources, sink=sink, progress=phases)
    wall = time.perf_counter() - t
    return {"run": kind, "wall": wall, "phases": phases.seconds, "rows": result.plan.rows_written,
            "changed": result.run.changed, "tasks": sum(result.tasks_per_source.values()),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child(args: argparse.Namespace) -> int:
    """Run in a fresh process: one xlsx run, or the three Sheets runs; prints one JSON line per run."""
    folder, work = Path(args.folder), Path(args.work)
    if args.child == "floor":
        print(json.dumps(floor_child(folder, work)), flush=True)
        return 0
    if args.child == "sheets":
        from fake_sheets import make_sink, running_fake

        with running_fake() as fake:
            info = fake.share("syncer@acme-ops.iam.gserviceaccount.com")
            cfg = bench_config(folder, work, {"kind": "gsheet", "spreadsheet_id": fake.id,
                                              "credentials": json.dumps(info)})
            for kind in RUNS:
                print(json.dumps(one_run(cfg, kind, make_sink(fake, info))), flush=True)
                # The fake holds the whole spreadsheet as Python objects, which the real one keeps on Google's
                # servers: out of the collector's sight, so the next run does not pay for walking them.
                collect_frozen()
                gc.freeze()
        return 0
    cfg = bench_config(folder, work, {"kind": "xlsx", "path": str(work / "bench.xlsx")})
    print(json.dumps(one_run(cfg, args.child)), flush=True)
    return 0


def floor_child(folder: Path, work: Path) -> dict[str, Any]:
    """decode + map + figures + roll-ups as a sync does them, and the floor (bench/floor.py), in one process."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_floor", HERE / "floor.py")
    floor = sys.modules["bench_floor"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(floor)  # bench/ is kept off sys.path (bench/jira.py would shadow `jira`)
    from syncer.domain.budget import read_budget_csv
    from syncer.domain.rollups import budget_index, domain_of_frames, fold_tasks
    from syncer.perf import paused_gc
    from syncer.pipeline import snapshot_time

    cfg = bench_config(folder, work, {"kind": "xlsx", "path": str(work / "floor.xlsx")})
    folders = [s.path for s in cfg.sources]
    for f in folders:  # the page files in the OS cache for both, so neither pays the disk
        for page in f.glob("*.json"):
            page.read_bytes()
    as_of, lines = snapshot_time(cfg), read_budget_csv(cfg.budget.file)[0]
    with paused_gc():
        t = time.perf_counter()
        tasks = [t for s in cfg.sources for t in ReplaySource(s, cfg).read(None, as_of).tasks]
        mapped = time.perf_counter()
        tasks.sort(key=lambda x: (x.source, x.key))
        frames = fold_tasks(tasks, cfg, budget_index(cfg, lines))  # the frames, and the intake check of the tasks
        bridged = time.perf_counter()
        domain_of_frames(frames, cfg, as_of, lines)
        computed = time.perf_counter()
        del tasks, frames
        floor_decode, worklogs = floor.time_floor(folders)
    return {"map": mapped - t, "bridge": bridged - mapped, "compute": computed - bridged,
            "floor_decode": floor_decode, "worklogs": worklogs,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def spawn(kind: str, folder: Path, work: Path) -> list[dict[str, Any]]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--folder", str(folder),
           "--work", str(work)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def show(sink: str, r: dict[str, Any]) -> None:
    ph = r["phases"]
    rest = r["wall"] - sum(ph.values())
    parts = "  ".join(f"{k} {v:5.2f}" for k, v in ph.items())
    before_sink = r["wall"] - ph.get("plan", 0.0) - ph.get("write", 0.0)
    print(f"{sink:6} {r['run']:9} {r['wall']:7.2f} s   [{parts}  rest {rest:5.2f}]   without the sink "
          f"{before_sink:5.2f} s   rows written {r['rows']:>7,}  changed {r['changed']:>6,}  "
          f"peak RSS {r['rss_mb']:6,.0f} MiB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--worklogs", type=int, default=10, help="mean worklogs per started task (default 10)")
    ap.add_argument("--seed", type=int, default=0, help="demo seed (default: the demo's)")
    ap.add_argument("--no-sheets", action="store_true", help="skip the fake Google Sheets runs")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args)
    folder = replay_folder(args.tasks, args.worklogs, args.seed)
    print(f"syncer run on {args.tasks:,} demo tasks (replay in {folder.relative_to(ROOT)}); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for sink in ("xlsx", *(() if args.no_sheets else ("sheets",))):
        work = ROOT / ".bench" / f"run-{sink}"
        if work.exists():
            import shutil

            shutil.rmtree(work)
        work.mkdir(parents=True)
        results = [r for kind in RUNS for r in spawn(kind, folder, work)] if sink == "xlsx" else spawn(
            "sheets", folder, work)
        for r in results:
            show(sink, r)
    print("(peak RSS: per process; the xlsx runs each have their own, the Sheets runs share one)")
    (ROOT / ".bench" / "run-floor").mkdir(parents=True, exist_ok=True)
    show_floor(spawn("floor", folder, ROOT / ".bench" / "run-floor")[0])
    return 0


def show_floor(r: dict[str, Any]) -> None:
    """decode + map + figures + roll-ups of a full read against the floor, both measured in one process."""
    ours = r["map"] + r["bridge"] + r["compute"]
    floor = r["floor_decode"] + r["compute"]  # the floor's figures and roll-ups are the same frames' computation
    print(f"decode + map {r['map']:.2f} s, tasks to frames {r['bridge']:.2f} s, figures + roll-ups "
          f"{r['compute']:.2f} s: {ours:.2f} s; the floor (typed msgspec decode into columns {r['floor_decode']:.2f} s"
          f" + the same figures and roll-ups): {floor:.2f} s; ratio {ours / floor:.2f}x")


if __name__ == "__main__":
    raise SystemExit(main())
