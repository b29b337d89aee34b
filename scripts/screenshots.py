"""Render the demo workbook's Dashboard and Campaigns tabs to PNG for the README (`make screenshots`).

Needs LibreOffice (`soffice`, e.g. `apt-get install libreoffice-calc-nogui`) and poppler's `pdftoppm`. Each tab is
copied alone into a temporary workbook laid out as one landscape page, converted to PDF by LibreOffice headless,
and the page rasterised. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from openpyxl import load_workbook

# tab -> (file, the share of the landscape page its content fills from the top: the rest is cut off)
TABS = {"Dashboard": ("dashboard.png", 0.62), "Campaigns": ("campaigns.png", 0.2)}


def single_tab(src: Path, title: str, out: Path) -> Path:
    """A copy of the workbook holding only `title`, fitted to one landscape page."""
    wb = load_workbook(src)
    for name in wb.sheetnames:
        if name != title:
            wb.remove(wb[name])
    ws = wb[title]
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = ws.page_margins.top = ws.page_margins.bottom = 0.3
    if title == "Dashboard":
        ws.print_area = "A1:X54"  # the headline and the five charts; the chart tables continue below
    path = out / f"{title}.xlsx"
    wb.save(path)
    return path


def render(xlsx: Path, png: Path, work: Path, dpi: int, share: float) -> None:
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(work), str(xlsx)],
                   check=True, capture_output=True, timeout=180)
    pdf = work / (xlsx.stem + ".pdf")
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True, timeout=60).stdout
    width_pt, height_pt = (float(x) for x in re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    crop = ["-W", str(round(width_pt / 72 * dpi)), "-H", str(round(height_pt / 72 * dpi * share))]
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-singlefile", *crop, str(pdf), str(png.with_suffix(""))],
                   check=True, capture_output=True, timeout=120)



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workbook", type=Path, default=Path("out/demo.xlsx"))
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--dpi", type=int, default=110)
    args = parser.parse_args()
    missing = [tool for tool in ("soffice", "pdftoppm") if shutil.which(tool) is None]
    if missing:
        print(f"screenshots need {' and '.join(missing)} (apt-get install libreoffice-calc-nogui poppler-utils)",
              file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for title, (name, share) in TABS.items():
            render(single_tab(args.workbook, title, work), args.out / name, work, args.dpi, share)
            print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
