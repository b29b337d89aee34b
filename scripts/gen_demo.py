"""Write the bundled demo data: `python scripts/gen_demo.py --out config/demo [--tasks N] [--seed S]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a plain checkout

from demo.data import DEMO_SEED, DEMO_TASKS, DEMO_WORKLOGS, write_demo  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, write the demo folders and print a one-line summary."""
    ap = argparse.ArgumentParser(description="Generate deterministic demo raw pages and a budget CSV.")
    ap.add_argument("--out", type=Path, default=Path("config/demo"),
                    help="output folder (default: config/demo)")
    ap.add_argument("--tasks", type=int, default=DEMO_TASKS,
                    help=f"tasks over both sources, split 7:4 Jira:Asana (default {DEMO_TASKS})")
    ap.add_argument("--seed", type=int, default=DEMO_SEED, help=f"random seed (default {DEMO_SEED})")
    ap.add_argument("--worklogs", type=int, default=DEMO_WORKLOGS,
                    help=f"mean worklogs per started task (default {DEMO_WORKLOGS})")
    args = ap.parse_args(argv)
    if args.tasks < 2:
        ap.error("--tasks must be at least 2")
    data = write_demo(args.out, n_tasks=args.tasks, seed=args.seed, worklogs_per_task=args.worklogs)
    print(f"wrote {args.out}: {len(data.jira)} Jira pages, {len(data.asana)} Asana pages, "
          f"{data.budget_csv.count(chr(10)) - 1} budget lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
