"""What progress reporting costs per page: none (--quiet, the daemon), phase lines (piped), live lines (terminal).

`python bench/progress.py --pages 20000` prints microseconds per page (one page report and one request report each)
and what 100,000 pages would cost. A live terminal is stood in for by a rich console writing to memory (it draws
ten times a second, as on a terminal).
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable

from rich.console import Console

from syncer.ops.console import LiveLines, PhaseLines
from syncer.progress import NO_PROGRESS, Progress


def seconds(progress: Progress, pages: int) -> float:
    started = time.perf_counter()
    progress.start("fetch bench")
    for _ in range(pages):
        progress.request()
        progress.page(tasks=1)
    progress.end(tasks=pages, requests=pages)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=20_000)
    args = parser.parse_args()
    live = LiveLines(Console(file=io.StringIO(), force_terminal=True, width=120))
    kinds: list[tuple[str, Callable[[], Progress]]] = [
        ("none", lambda: NO_PROGRESS), ("phase lines", lambda: PhaseLines(io.StringIO())), ("live lines", lambda: live)]
    for name, make in kinds:
        progress = make()
        if progress is live:
            live.bar.start()
        took = seconds(progress, args.pages)
        if progress is live:
            live.bar.stop()
        print(f"{name:<12} {took:7.3f} s for {args.pages:,} pages: {took / args.pages * 1e6:6.2f} us/page, "
              f"{took / args.pages * 1e5:5.2f} s per 100,000 pages")


if __name__ == "__main__":
    main()
