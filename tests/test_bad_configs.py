"""Bad configs, as a careless or hostile user writes them: each exits 2 from `validate` and from `run` (before any
request), names its place (key path, file, line), and leaves the state of the last good run as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from page_sets import cli, config_tree, setup, state_dump, sync, write_config

from syncer.config_file import MAX_NODES


@pytest.fixture
def good(tmp_path: Path) -> Path:
    """A config whose first run succeeded; the state it left is what every bad config must not change."""
    config = setup(tmp_path)
    assert sync(config).exit_code == 0
    return config


def refused(config: Path, *places: str) -> str:
    """Both `validate` and `run` exit 2 listing every place; the state is untouched. Returns the message."""
    tmp = config.parent
    before = state_dump(tmp)
    checked = cli("validate", "--config", str(config))
    ran = sync(config)
    assert checked.exit_code == 2 and ran.exit_code == 2, (checked.output, ran.output)
    for place in places:
        assert place in checked.output and place in ran.output, (place, checked.output)
    assert "unexpected error" not in checked.output + ran.output and "Traceback" not in checked.output + ran.output
    assert state_dump(tmp) == before
    return checked.output


def edited(config: Path, change) -> Path:
    tree = config_tree(config)
    change(tree)
    return write_config(config.parent, tree)


def test_a_duplicate_key_is_refused_naming_both_lines(good: Path):
    text = good.read_text(encoding="utf-8")
    good.write_text(text + "sink:\n  kind: xlsx\n  path: elsewhere.xlsx\n", encoding="utf-8")
    first = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("sink:"))
    last = len(text.splitlines()) + 1
    out = refused(good, f"line {last}: duplicate key 'sink' (first at line {first})")
    assert "elsewhere" not in out


def test_a_duplicate_key_deep_in_a_source_is_refused(good: Path):
    text = good.read_text(encoding="utf-8").replace("  stages:\n", "  stages:\n    Done: done\n", 1)
    good.write_text(text, encoding="utf-8")
    refused(good, "duplicate key 'Done'")


def test_a_merge_key_may_be_overridden(tmp_path: Path):
    config = setup(tmp_path)
    text = config.read_text(encoding="utf-8")
    text = text.replace("rates:\n", "base: &base {default: 1}\nrates:\n  <<: *base\n", 1)
    config.write_text(text.replace("base: &base {default: 1}\n", "x-base: &base {default: 1}\n"), encoding="utf-8")
    out = cli("validate", "--config", str(config)).output
    assert "duplicate" not in out and "x-base: unknown key" in out  # only the extra key is wrong


def test_an_alias_bomb_is_refused_before_anything_walks_it(good: Path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    good.write_text(good.read_text(encoding="utf-8") + "\n".join(lines) + "\n", encoding="utf-8")
    refused(good, f"expands to more than {MAX_NODES:,} values through aliases")


def test_a_recursive_alias_is_refused(good: Path):
    good.write_text(good.read_text(encoding="utf-8") + "loop: &loop [*loop]\n", encoding="utf-8")
    refused(good, "refers to itself through an alias")


def test_a_latin1_config_names_the_file_line_and_byte(good: Path):
    text = good.read_text(encoding="utf-8").replace("currency: EUR", "# Währung\ncurrency: EUR")
    good.write_bytes(text.encode("latin-1"))
    line = text.splitlines().index("# Währung") + 1
    refused(good, f"{good} line {line}, column 4: byte 0xe4 is not UTF-8")


def test_deeply_nested_yaml_is_a_config_error(good: Path):
    good.write_text(good.read_text(encoding="utf-8") + "deep: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    refused(good, "nested too deeply")


def test_schema_problems_name_the_line_of_their_key(good: Path):
    out = refused(edited(good, lambda t: t.update(timezone="Mars/Olympus")), "timezone: unknown timezone")
    line = next(i for i, t in enumerate(good.read_text().splitlines(), 1) if t.startswith("timezone:"))
    assert f"({good} line {line})" in out


def _budget(tree: dict, tmp: Path, content: bytes) -> None:
    (tmp / "b.csv").write_bytes(content)
    tree["budget"]["file"] = str(tmp / "b.csv")


@pytest.mark.parametrize(("change", "place"), [
    (lambda t, tmp: t["budget"].update(file=str(tmp / "missing.csv")), "budget.file: {tmp}/missing.csv does not exist"),
    (lambda t, tmp: t["budget"].update(file=str(tmp)), "budget.file: {tmp} is a folder, not a CSV file"),
    (lambda t, tmp: _budget(t, tmp, "Campaign,Period,Amount\nCafé,2026-05,1\n".encode("latin-1")),
     "budget.file: {tmp}/b.csv is not UTF-8 text"),
    (lambda t, tmp: _budget(t, tmp, b"Name,When,How much\nx,2026-05,1\n"),
     "budget.file: b.csv row 1: the header has no Campaign, Period"),
    (lambda t, tmp: t["sources"][1].update(path=str(tmp / "nowhere")), "sources[1].path: {tmp}/nowhere does not exist"),
    (lambda t, tmp: t["sources"][0].update(path=str(tmp / "budget.csv")),
     "sources[0].path: {tmp}/budget.csv is a file"),
    (lambda t, tmp: t["sink"].update(path="out.csv"), "sink.path: out.csv must end in .xlsx"),
    (lambda t, tmp: t["sink"].update(path=str(tmp)), "sink.path: {tmp} must end in .xlsx"),
    (lambda t, tmp: (tmp / "dir.xlsx").mkdir() or t["sink"].update(path=str(tmp / "dir.xlsx")),
     "sink.path: {tmp}/dir.xlsx is a folder"),
    (lambda t, tmp: t["sink"].update(path=str(tmp / "budget.csv" / "x.xlsx")),
     "sink.path: {tmp}/budget.csv is a file, so the folder for"),
    (lambda t, tmp: t["state"].update(path=str(tmp / "state")), "state.path: {tmp}/state is a folder"),
    (lambda t, tmp: t.update(sink={"kind": "gsheet", "spreadsheet_id": "abc", "credentials": str(tmp / "key.json")}),
     "sink.credentials: neither a service-account JSON key nor the path of a readable key file"),
    (lambda t, tmp: t["sources"].__setitem__(0, {"name": "web", "kind": "jira", "url": "https://x.atlassian.net",
                                                 "email": "a@b.c", "token": "tok-123456", "jql": "  "}),
     "sources[0].jql: set a query such as 'project = MKT'"),
])
def test_files_and_folders_run_needs_are_checked_first(good: Path, change, place: str):
    tmp = good.parent
    refused(edited(good, lambda t: change(t, tmp)), place.format(tmp=tmp))


def test_a_damaged_replay_manifest_is_named_with_its_json_path(good: Path):
    (good.parent / "asana" / "manifest.json").write_text('{"api": "asana"}', encoding="utf-8")
    refused(good, f"sources[1].path: {good.parent}/asana/manifest.json: $.pages: expected a list of pages, found "
                  "nothing")


def test_a_page_file_the_manifest_lists_must_exist(good: Path):
    (good.parent / "jira" / "0003.json").unlink()
    refused(good, "sources[0].path: ", "lists page files that are not there: 0003.json")


def test_a_read_only_output_folder_is_reported_by_validate(good: Path, monkeypatch: pytest.MonkeyPatch):
    import os

    tmp, real = good.parent, os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp / "elsewhere" else real(p, mode))
    (tmp / "elsewhere").mkdir()
    config = edited(good, lambda t: t["sink"].update(path=str(tmp / "elsewhere" / "ops.xlsx")))
    refused(config, f"sink.path: cannot create files in {tmp}/elsewhere (the folder or its disk is read-only")


def test_validate_lists_five_different_problems_at_once(good: Path):
    """A schema problem, a missing file, a folder where a file belongs, a missing folder and a YAML duplicate."""
    tmp = good.parent

    def five(t: dict) -> None:
        t["timezone"] = "Europe/Berlinn"
        t["budget"]["file"] = str(tmp / "no-budget.csv")
        t["state"]["path"] = str(tmp)
        t["sources"][1]["path"] = str(tmp / "no-such-folder")

    config = edited(good, five)
    config.write_text(config.read_text(encoding="utf-8") + "currency: USD\n", encoding="utf-8")
    out = refused(config, "timezone: unknown timezone 'Europe/Berlinn'", f"budget.file: {tmp}/no-budget.csv does "
                  "not exist", f"state.path: {tmp} is a folder", f"sources[1].path: {tmp}/no-such-folder does not "
                  "exist", "duplicate key 'currency'")
    assert "config error (5 problems)" in out
