"""The Monte Carlo completion forecast of SPEC §12: weeks until the open tasks are done, from past weekly throughput."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from datetime import date

import numpy as np

TRIALS = 10_000
HISTORY_WEEKS = 12
_BLOCK_CELLS = 1 << 21  # draws per numpy block: bounds memory when a slow campaign needs thousands of weeks


def forecast_seed(campaign: str, today: date) -> int:
    """A seed from (campaign, today) that is the same in every process (Python's `hash` of text is not)."""
    digest = hashlib.sha256(f"{campaign}\x1f{today.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def weeks_needed(weekly: Sequence[int], open_tasks: int, seed: int, trials: int = TRIALS) -> np.ndarray:
    """Per trial, the number of weeks N whose throughput, drawn with replacement from `weekly`, first sums to at
    least `open_tasks`. `weekly` must hold a week with a completion (else no trial ends)."""
    counts = np.asarray(weekly, dtype=np.int64)
    if open_tasks <= 0 or counts.sum() <= 0:
        raise ValueError("a forecast needs open tasks and at least one completion in the weeks drawn from")
    rng = np.random.default_rng(seed)
    need = np.full(trials, open_tasks, dtype=np.int64)
    weeks = np.zeros(trials, dtype=np.int64)
    alive = np.arange(trials)
    mean = counts.mean()
    while alive.size:  # draw a block of weeks for every unfinished trial at once
        block = min(max(math.ceil(need[alive].max() / mean * 1.5), 1), max(_BLOCK_CELLS // alive.size, 1))
        sums = counts[rng.integers(0, counts.size, size=(alive.size, block))].cumsum(axis=1)
        hit = sums >= need[alive, None]
        done = hit.any(axis=1)
        weeks[alive[done]] += hit[done].argmax(axis=1) + 1
        weeks[alive[~done]] += block
        need[alive[~done]] -= sums[~done, -1]
        alive = alive[~done]
    return weeks


def nearest_rank(values: np.ndarray, p: float) -> int:
    """The p-th percentile by nearest rank: the smallest value with at least p of the values at or below it."""
    ordered = np.sort(values)
    return int(ordered[max(math.ceil(p * ordered.size), 1) - 1])


def forecast_weeks(weekly: Sequence[int], open_tasks: int, campaign: str, today: date) -> tuple[int, int] | None:
    """(p50, p85) weeks to finish `open_tasks` for a campaign, seeded from (campaign, today); None when there is
    nothing open or the weeks completed nothing."""
    if open_tasks <= 0 or sum(weekly) <= 0:
        return None
    n = weeks_needed(weekly, open_tasks, forecast_seed(campaign, today))
    return nearest_rank(n, 0.50), nearest_rank(n, 0.85)
