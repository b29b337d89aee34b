"""The project's error types, each mapped to one CLI exit code."""

from __future__ import annotations


class SyncerError(Exception):
    """Base of every expected failure; `exit_code` is what the CLI returns."""

    exit_code = 1
    headline = "sync failed"  # how the CLI introduces the message


class ConfigError(SyncerError):
    """The configuration is wrong (or a credential is rejected): the user must change something."""

    exit_code = 2

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class SourceError(SyncerError):
    """A source API failed after retries, or answered in a way we cannot use."""


class SinkError(SyncerError):
    """The sink could not be read or written."""


class LockedError(SyncerError):
    """Another sync holds the state lock (not a failure: exit 0)."""

    exit_code = 0


class RefusedError(SyncerError):
    """A command asked for something that must not be done (closing a month that has not ended, twice, ...);
    `headline` says what was refused (`cannot close 2026-10`), the message why."""

    exit_code = 2

    def __init__(self, headline: str, why: str):
        super().__init__(why)
        self.headline = headline
