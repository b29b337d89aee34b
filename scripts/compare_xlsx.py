"""Compare two workbooks tab by tab, cell by cell: `python scripts/compare_xlsx.py before.xlsx after.xlsx`.

The Sync log's run time and duration differ from run to run and are left out; every other cell must be equal.
Prints one line per tab and the first differing cells; exits 1 when anything differs."""

from __future__ import annotations

import sys

from openpyxl import load_workbook

VOLATILE = {"Sync log": {"Run at", "Duration s"}}


def tab_values(path: str) -> dict[str, list[tuple]]:
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}
    finally:
        wb.close()


def differences(title: str, a: list[tuple], b: list[tuple]) -> list[str]:
    skip = {i for i, h in enumerate(a[0] if a else ()) if h in VOLATILE.get(title, ())}
    out = [f"{title}: {len(a)} rows before, {len(b)} after"] if len(a) != len(b) else []
    for n, (ra, rb) in enumerate(zip(a, b, strict=False), start=1):
        for i in range(max(len(ra), len(rb))):
            x = ra[i] if i < len(ra) else None
            y = rb[i] if i < len(rb) else None
            if i not in skip and x != y:
                out.append(f"{title}!R{n}C{i + 1}: {x!r} -> {y!r}")
    return out


def main(argv: list[str]) -> int:
    before, after = tab_values(argv[0]), tab_values(argv[1])
    bad = 0
    for title in sorted(set(before) | set(after)):
        if title not in before or title not in after:
            print(f"{title}: only in {'after' if title in after else 'before'}")
            bad += 1
            continue
        diffs = differences(title, before[title], after[title])
        print(f"{title}: {len(before[title])} rows, {'identical' if not diffs else f'{len(diffs)} differences'}")
        for d in diffs[:10]:
            print(f"  {d}")
        bad += bool(diffs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
