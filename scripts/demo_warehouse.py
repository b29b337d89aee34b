"""`make demo-warehouse`: `make demo` with a second sink, the DuckDB file `out/demo.duckdb` (`sinks: [...]`: the
workbook first, then the warehouse). Writes the config it runs to `out/demo-warehouse.yaml`."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # runnable from a plain checkout

from syncer.cli import main as syncer  # noqa: E402


def main() -> None:
    cfg = yaml.safe_load(Path("config/demo.yaml").read_text(encoding="utf-8"))
    del cfg["sink"]
    cfg["sinks"] = [
        {"kind": "xlsx", "path": "out/demo.xlsx"},
        {"kind": "warehouse", "destination": "duckdb", "dataset": "marketing_ops", "credentials": "out/demo.duckdb"},
    ]
    path = Path("out/demo-warehouse.yaml")
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    syncer(["run", "--config", str(path)])


if __name__ == "__main__":
    main()
