"""Intake write-back: send the domain's decided writes through each source's IntakeWriter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from syncer.domain.enforce import WriteBack
from syncer.errors import ConfigError, SyncerError
from syncer.sources import IntakeWriter


def send_writes(
    writes: Sequence[WriteBack], writers: Mapping[str, IntakeWriter]
) -> tuple[list[WriteBack], list[str], int]:
    """Send the writes per source; returns (writes done, warnings, HTTP requests). Never raises a SyncerError:

    a source that refuses (401/403) or fails is a warning, and its remaining writes wait for the next run.
    `writers` holds a writer per source name that can be written to.
    """
    by_source: dict[str, list[WriteBack]] = {}
    for w in writes:
        by_source.setdefault(w.source, []).append(w)
    done: list[WriteBack] = []
    warnings: list[str] = []
    requests = 0
    for name, todo in by_source.items():
        writer = writers.get(name)
        if writer is None:
            warnings.append(f"intake write-back: source {name} cannot be written to; {len(todo)} writes skipped")
            continue
        failed = 0
        try:
            for w in todo:
                try:
                    writer.apply(w)
                    done.append(w)
                except ConfigError:
                    raise
                except SyncerError as e:
                    failed += 1
                    if failed <= 3:
                        warnings.append(f"intake write-back to {name} {w.key} failed: {e}")
        except ConfigError as e:
            left = len(todo) - len([w for w in done if w.source == name]) - failed
            warnings.append(f"intake write-back to {name} stopped ({left} writes left for the next run): {e}")
        if failed > 3:
            warnings.append(f"intake write-back to {name}: {failed - 3} more writes failed")
        requests += writer.requests
    return done, warnings, requests
