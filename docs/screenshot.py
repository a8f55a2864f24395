"""Regenerate docs/matrix.png, the picture of the report site's matrix in the README.

    nox -s screenshot
    python docs/screenshot.py --reports reports --output docs/matrix.png

It builds the site from the report folders into a temporary folder, opens its index.html in the
system's headless Chromium (Debian: `apt-get install chromium chromium-driver`) and saves the top of
the page, 1400 px wide: the legend, the matrix, and the first rows of the capture × route grid.
Selenium is pointed at /usr/bin/chromium and /usr/bin/chromedriver and runs offline, so Selenium
Manager downloads nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from conformance.site import build

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WIDTH = 1400
# Below the matrix, this much of the grid shows that the rows drill down.
GRID_SHOWN = 520


def _driver() -> webdriver.Chrome:
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={WIDTH},1000")
    options.add_argument("--force-device-scale-factor=1")
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


def screenshot(reports: Path, output: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder) / "site"
        build(reports, site)
        driver = _driver()
        try:
            driver.get((site / "index.html").as_uri())
            grid_top = driver.execute_script("return document.getElementById('grid').getBoundingClientRect().top")
            driver.set_window_size(WIDTH, int(grid_top) + GRID_SHOWN)
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_bytes(driver.get_screenshot_as_png())
        finally:
            driver.quit()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=Path, default=ROOT / "reports", help="folder of report folders")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "matrix.png", help="where to save the PNG")
    args = parser.parse_args(argv)
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        print(
            f"error: {', '.join(missing)} missing; install: apt-get install chromium chromium-driver", file=sys.stderr
        )
        return 2
    screenshot(args.reports, args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
