"""Small saved page sets (from the demo generator) in a temporary folder, a config syncing them to a workbook, and
ways to read what a run left behind: the probes of the bad-input and fuzz tests start from a good run of these."""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from demo.asana import PROJECT_GID
from demo.data import ASANA_URL, JIRA_URL, NOW, asana_pages, jira_pages
from syncer.cli import main
from syncer.sources import Page
from syncer.sources.replay import MANIFEST, write_pages

ROOT = Path(__file__).resolve().parent.parent
DEMO = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text(encoding="utf-8"))
JIRA_ISSUES, ASANA_TASKS = 12, 8


def split_search(pages: list[Page]) -> list[Page]:
    """The Jira search page cut in two, chained by a nextPageToken (the generator makes one page for few issues)."""
    out = []
    for page in pages:
        if page.endpoint.endswith("/search/jql"):
            issues, half = page.body["issues"], len(page.body["issues"]) // 2
            out.append(Page(page.endpoint, dict(page.params), {"issues": issues[:half], "nextPageToken": "tok-2"}))
            out.append(Page(page.endpoint, {**page.params, "nextPageToken": "tok-2"},
                            {"issues": issues[half:], "isLast": True}))
        else:
            out.append(page)
    return out


def split_tasks(pages: list[Page]) -> list[Page]:
    """The Asana task listing cut in two pages chained by `next_page.offset`, as Asana pages it."""
    out = []
    for page in pages:
        if page.endpoint.endswith("/tasks") and not page.params.get("offset"):
            data, half = page.body["data"], len(page.body["data"]) // 2
            nxt = {"offset": "off-2", "path": f"{page.endpoint.split(' ')[1]}?offset=off-2", "uri": "x"}
            out.append(Page(page.endpoint, dict(page.params), {"data": data[:half], "next_page": nxt}))
            rest = {"data": data[half:], "next_page": None}
            out.append(Page(page.endpoint, {**page.params, "offset": "off-2"}, rest))
        else:
            out.append(page)
    return out


def good_pages() -> dict[str, list[Page]]:
    """The two sources' raw pages: Jira issues over two search pages, Asana tasks over two listing pages."""
    return {"jira": split_search(jira_pages(JIRA_ISSUES)), "asana": split_tasks(asana_pages(ASANA_TASKS))}


def save(folder: Path, api: str, pages: list[Page]) -> None:
    meta = {"base_url": JIRA_URL, "projects": []} if api == "jira" else {"base_url": ASANA_URL,
                                                                         "projects": [PROJECT_GID]}
    write_pages(folder, api, pages, source="web" if api == "jira" else "content", fetched_at=NOW.isoformat(), **meta)


def setup(tmp: Path) -> Path:
    """Save both page sets and write a config syncing them (demo mapping) to tmp/out.xlsx; returns its path."""
    for api, pages in good_pages().items():
        save(tmp / api, api, pages)
    tree = copy.deepcopy(DEMO)
    tree["sources"][0]["path"], tree["sources"][1]["path"] = str(tmp / "jira"), str(tmp / "asana")
    (tmp / "budget.csv").write_text((ROOT / "config/demo/budget.csv").read_text(encoding="utf-8"), encoding="utf-8")
    tree["budget"] = {"file": str(tmp / "budget.csv")}
    tree["sink"] = {"kind": "xlsx", "path": str(tmp / "out.xlsx")}
    tree["state"] = {"path": str(tmp / "state" / "state.db")}
    return write_config(tmp, tree)


def write_config(tmp: Path, tree: dict[str, Any], name: str = "syncer.yaml") -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump(tree, sort_keys=False), encoding="utf-8")
    return path


def config_tree(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def sync(config: Path, *extra: str) -> Result:
    return cli("run", "--config", str(config), *extra)


def state_dump(tmp: Path) -> list[str]:
    """Everything the state file holds, as SQL: equal before and after means the run changed nothing."""
    db = sqlite3.connect(tmp / "state" / "state.db")
    try:
        return list(db.iterdump())
    finally:
        db.close()


def task_rows(tmp: Path) -> dict[tuple[str, str], tuple]:
    """(source, key) -> the Tasks tab row of the workbook."""
    wb = load_workbook(tmp / "out.xlsx", read_only=True)
    try:
        rows = list(wb["Tasks"].iter_rows(values_only=True))
    finally:
        wb.close()
    return {(r[0], r[1]): r for r in rows[1:] if r[0]}


def sync_log_warnings(tmp: Path) -> str:
    """The warnings of the newest Sync log row."""
    wb = load_workbook(tmp / "out.xlsx", read_only=True)
    try:
        rows = [r for r in wb["Sync log"].iter_rows(values_only=True) if any(v is not None for v in r)]
    finally:
        wb.close()
    header = list(rows[0])
    return str(rows[-1][header.index("Warnings")] or "")


def pages_of(folder: Path) -> tuple[dict[str, Any], list[Any]]:
    """A saved folder's manifest and page bodies, in order."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    return manifest, [json.loads((folder / e["file"]).read_text(encoding="utf-8")) for e in manifest["pages"]]


def rewrite(folder: Path, index: int, body: Any) -> None:
    """Replace the body of the folder's `index`-th page file."""
    manifest, _ = pages_of(folder)
    (folder / manifest["pages"][index]["file"]).write_text(json.dumps(body), encoding="utf-8")


def tab_rows(tmp: Path, title: str) -> list[tuple]:
    """The data rows of a tab of the workbook."""
    wb = load_workbook(tmp / "out.xlsx", read_only=True)
    try:
        return [r for r in list(wb[title].iter_rows(values_only=True))[1:] if any(v is not None for v in r)]
    finally:
        wb.close()


def stored_tasks(tmp: Path) -> dict[tuple[str, str], Any]:
    """(source, key) -> the task as the state file holds it."""
    from syncer.state import State

    state = State(tmp / "state" / "state.db", read_only=True)
    try:
        return {(t.source, t.key): t for t in state.tasks()}
    finally:
        state.close()
