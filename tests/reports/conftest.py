"""Fixtures of the report/study tests: a headless Chromium.

Browser tests need Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and
``selenium`` (the ``[test]`` extra); they skip, saying which is missing, without them. Override
the paths with ``EMOBENCH_CHROMIUM`` / ``EMOBENCH_CHROMEDRIVER``. Selenium is always given both
paths, so it never tries to download a browser or a driver.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest


def _browser_paths() -> tuple[str, str]:
    chromium = os.environ.get("EMOBENCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    driver = os.environ.get("EMOBENCH_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return chromium, driver


@pytest.fixture(scope="module")
def chrome() -> Iterator[object]:
    """A headless Chromium driven by selenium (skips with the reason when either is absent)."""
    chromium, driver_path = _browser_paths()
    for path, package in ((chromium, "chromium"), (driver_path, "chromium-driver")):
        if not Path(path).is_file():
            pytest.skip(f"{path} not found: install Debian's {package} (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install -e '.[test]')")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--allow-file-access-from-files", "--window-size=1200,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
