"""What `validate` checks beyond the schema, and `run` checks first: the files and folders a sync will need.

The checks read the config tree as written (variables filled in), so they run even where the schema finds other
problems, and every problem is listed at once (SPEC §2). Nothing here sends a request.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from syncer.config import Config, StateConfig, load_config
from syncer.domain.budget import check_budget_file
from syncer.errors import ConfigError
from syncer.sinks.gsheet.auth import load_service_account
from syncer.sources.replay import check_folder


def load_checked(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """The config, with every schema, YAML, file and folder problem in one ConfigError (exit 2)."""
    return load_config(path, env, checks=check_files)


def check_files(tree: dict[str, Any]) -> list[str]:
    """Problems of the files and folders a config names: the budget CSV, replay folders, workbooks, the state."""
    problems: list[str] = []
    budget = tree.get("budget")
    if isinstance(budget, dict) and isinstance(budget.get("file"), str):
        problems += check_budget_file(Path(budget["file"]))
    for i, src in _items(tree.get("sources"), "sources"):
        if src.get("kind") == "replay" and isinstance(src.get("path"), str):
            problems += check_folder(Path(src["path"]), i)
    sinks = [("sink", tree.get("sink"))] if tree.get("sink") is not None else list(_items(tree.get("sinks"), "sinks"))
    for where, sink in sinks:
        if isinstance(sink, dict) and sink.get("kind") == "xlsx" and isinstance(sink.get("path"), str):
            problems += check_output_file(Path(sink["path"]), f"{where}.path", "workbook", "out/marketing-ops.xlsx")
        if isinstance(sink, dict) and sink.get("kind") == "gsheet" and isinstance(sink.get("credentials"), str):
            problems += _key_problems(sink["credentials"], where)
    state = tree.get("state")
    state_path = state.get("path") if isinstance(state, dict) else str(StateConfig().path)
    if isinstance(state_path, str):
        problems += check_output_file(Path(state_path), "state.path", "state file", ".syncer/state.db")
    return problems


def _key_problems(credentials: str, where: str) -> list[str]:
    """A service-account key that is not one (or a path to no readable key file), read as the sink will read it."""
    try:
        load_service_account(credentials)
    except ConfigError as e:
        return [p.replace("sink.credentials", f"{where}.credentials", 1) for p in e.problems]
    return []


def _items(value: Any, key: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for i, item in enumerate(value if isinstance(value, list) else []):
        if isinstance(item, dict):
            yield f"{key}[{i}]", item


def check_output_file(path: Path, where: str, what: str, example: str) -> list[str]:
    """A file syncer replaces or creates: not a folder, and in a folder it may write (or create)."""
    target = Path(os.path.realpath(path))  # a symlink is written through: what counts is the file it points at
    if target.is_dir():
        return [f"{where}: {path} is a folder; give the {what}'s file name (e.g. {example})"]
    if target.exists() and not target.is_file():
        return [f"{where}: {path} is not a regular file"]
    if target.exists() and not os.access(target, os.R_OK | os.W_OK):
        return [f"{where}: {path} cannot be read and written by this user"]
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # syncer creates the missing folders: the nearest existing one must take them
    if not folder.is_dir():
        return [f"{where}: {folder} is a file, so the folder for {path} cannot be created"]
    if not os.access(folder, os.W_OK | os.X_OK):
        return [f"{where}: cannot create files in {folder} (the folder or its disk is read-only for this user)"]
    return []
