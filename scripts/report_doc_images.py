"""The images of docs/reports.md from a report of the synthetic sweep.

    emobench run --method ldm --protocol synthetic-sweep
    emobench run --method identity --protocol synthetic-sweep --set grid.guidance=[] --set grid.t0=[]
    emobench run --method groundtruth --protocol synthetic-sweep --set grid.guidance=[] --set grid.t0=[]
    emobench report runs/synthetic-sweep --out runs/synthetic-sweep/report
    python scripts/report_doc_images.py runs/synthetic-sweep/report docs/img

Writes ``report_table.png`` (the mean table as headless Chromium shows it in index.html) and
``report_curve.png`` (the trade-off curves), both small palette PNGs. Needs Debian's chromium and
chromium-driver and selenium (as the browser tests).
"""

from __future__ import annotations

import argparse
import io
import shutil
from pathlib import Path

from PIL import Image


def small_png(image: Image.Image, dest: Path, width: int) -> None:
    """Downscale to ``width`` pixels (never up) and save as a 256-colour PNG."""
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(dest, optimize=True)


def table_screenshot(index: Path, css: str) -> Image.Image:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1200",
                "--allow-file-access-from-files", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                              options=options)
    try:
        driver.get(index.resolve().as_uri())
        return Image.open(io.BytesIO(driver.find_element(By.CSS_SELECTOR, css).screenshot_as_png))
    finally:
        driver.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path, help="a report section (its index.html, figures/)")
    parser.add_argument("out", type=Path, help="folder for report_table.png and report_curve.png")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    small_png(table_screenshot(args.report / "index.html", "table.table.mean"), args.out / "report_table.png", 1100)
    with Image.open(args.report / "figures" / "tradeoff.png") as curve:
        small_png(curve, args.out / "report_curve.png", 1000)
    for name in ("report_table.png", "report_curve.png"):
        print(f"{args.out / name}: {(args.out / name).stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
