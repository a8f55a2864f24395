"""The report site in a real browser: Debian's headless Chromium, driven by Selenium.

The site is built from the committed reports and served from a loopback `http.server`; index.html
is also opened from file://. The test reads the counts off the rendered matrix, clicks from a row to
an implementation's page, from a failing grid cell to its item and from a violation to the event
it names, and fails on anything the browser logs as SEVERE (a blocked style, a missing file).

Selenium uses /usr/bin/chromium and /usr/bin/chromedriver (`apt-get install chromium
chromium-driver`) and runs offline, so Selenium Manager downloads nothing; without them the module
is skipped, saying so.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_site import copy_reports

from conformance.site import build
from conformance.site.matrix import DISPLAY_ORDER

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
    pytest.skip(
        f"the browser test needs {CHROMIUM} and {CHROMEDRIVER} (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the dev extra: pip install -e '.[dev]'")
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT = 20


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the stdlib's name)
        pass


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_reports(tmp_path_factory.mktemp("reports") / "reports")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, reports: Path) -> Path:
    output = tmp_path_factory.mktemp("browser") / "site"
    build(reports, output)
    return output


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(60)
    try:
        yield browser
    finally:
        browser.quit()


def _severe(driver: WebDriver) -> list[str]:
    """What the browser logged as SEVERE since the last call (reading the log empties it)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _summaries(reports: Path) -> dict[str, dict[str, Any]]:
    return {
        path.parent.name: json.loads(path.read_text(encoding="utf-8"))["summary"]
        for path in sorted(reports.glob("*/report.json"))
    }


def _styled(driver: WebDriver) -> bool:
    """Whether the stylesheet applied (the top bar is dark only through it), waiting for it a while."""
    script = "return getComputedStyle(document.querySelector('header.top')).backgroundColor"
    try:
        WebDriverWait(driver, WAIT).until(lambda d: d.execute_script(script) == "rgb(31, 36, 48)")
    except TimeoutException:
        return False
    return True


def _in_view(driver: WebDriver, element: Any) -> bool:
    return driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); return r.bottom > 0 && r.top < window.innerHeight;", element
    )


def test_the_matrix_shows_each_reports_counts(driver: WebDriver, base_url: str, reports: Path) -> None:
    driver.get(base_url + "index.html")
    assert _styled(driver), _severe(driver)
    summaries = _summaries(reports)
    rows = driver.find_elements(By.CSS_SELECTOR, "table.matrix tbody tr")
    assert sorted(row.get_attribute("data-slug") for row in rows) == sorted(summaries)
    fails = []
    for row in rows:
        summary = summaries[row.get_attribute("data-slug")]
        shown = {
            cell.get_attribute("data-class"): int(cell.text)
            for cell in row.find_elements(By.CSS_SELECTOR, "td.num[data-class]")
        }
        assert shown == {
            **{name: summary[name] for name in DISPLAY_ORDER},
            "known_failures": summary["known_failures"],
            "total": summary["total"],
        }
        assert row.find_element(By.CSS_SELECTOR, ".gate").text.startswith(summary["gate"])
        bar = row.find_element(By.CSS_SELECTOR, ".bar")
        assert bar.get_attribute("role") == "img"
        assert f"{summary['pass']} pass" in bar.get_attribute("aria-label") or not summary["pass"]
        fails.append(summary["fail"])
    assert fails == sorted(fails)
    assert _severe(driver) == []


def test_a_row_drills_down_to_the_offending_event(driver: WebDriver, base_url: str, site: Path, reports: Path) -> None:
    driver.get(base_url + "index.html")
    slug, wanted = next(
        (row["slug"], ids)
        for row in json.loads((site / "data" / "matrix.json").read_text(encoding="utf-8"))["rows"]
        if (ids := _items_with_offending_events(reports, row["slug"]))
    )
    driver.find_element(By.CSS_SELECTOR, f'tr[data-slug="{slug}"] a.impl-link').click()
    WebDriverWait(driver, WAIT).until(lambda d: d.current_url.endswith(f"impl/{slug}.html"))
    assert _styled(driver), _severe(driver)
    cell = next(
        link
        for link in driver.find_elements(By.CSS_SELECTOR, "table.grid td.c-fail a[data-item]")
        if link.get_attribute("data-item") in wanted
    )
    item_id = cell.get_attribute("data-item")
    cell.click()
    WebDriverWait(driver, WAIT).until(lambda d: "#item-" in d.current_url)
    anchor = driver.current_url.rpartition("#")[2]
    section = driver.find_element(By.ID, anchor)
    assert section.get_attribute("data-item") == item_id
    assert _in_view(driver, section)
    link = section.find_element(By.CSS_SELECTOR, ".verdict.c-fail a.evlink")
    index = int(link.get_attribute("href").rpartition("-ev-")[2])
    link.click()
    WebDriverWait(driver, WAIT).until(lambda d: d.current_url.endswith(f"-ev-{index}"))
    event = driver.find_element(By.ID, f"{anchor}-ev-{index}")
    assert "ev-offending" in event.get_attribute("class").split()
    assert event.get_attribute("data-event") == str(index) and index in wanted[item_id]
    assert event.is_displayed() and _in_view(driver, event)
    assert event.find_element(By.CSS_SELECTOR, ".flag").text.lower() == "offending"
    assert _severe(driver) == []


def _items_with_offending_events(reports: Path, slug: str) -> dict[str, set[int]]:
    """The failing items of a report whose `fail` verdicts name an event, with those events."""
    items = json.loads((reports / slug / "report.json").read_text(encoding="utf-8"))["items"]
    found: dict[str, set[int]] = {}
    for row in items:
        for verdict in row.get("verdicts", {}).values():
            if isinstance(verdict, dict) and verdict["outcome"] == "fail":
                named = {v["event"] for v in verdict.get("violations", []) if v["event"] is not None}
                if named:
                    found.setdefault(row["id"], set()).update(named)
    return found


def test_pages_open_from_file_urls(driver: WebDriver, site: Path, reports: Path) -> None:
    driver.get((site / "index.html").as_uri())
    assert _styled(driver), _severe(driver)
    assert len(driver.find_elements(By.CSS_SELECTOR, "table.matrix tbody tr")) == len(_summaries(reports))
    driver.find_element(By.LINK_TEXT, "Coverage").click()
    WebDriverWait(driver, WAIT).until(lambda d: d.current_url.endswith("coverage.html"))
    assert _styled(driver), _severe(driver)
    assert driver.find_elements(By.CSS_SELECTOR, "table.coverage tbody tr")
    assert _severe(driver) == []


def test_a_narrow_window_scrolls_the_tables_not_the_page(driver: WebDriver, base_url: str) -> None:
    driver.set_window_size(760, 1000)
    try:
        for page in ("index.html", "coverage.html", "impl/passthrough.html"):
            driver.get(base_url + page)
            overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, page
    finally:
        driver.set_window_size(1400, 1000)
    assert _severe(driver) == []
