"""Browser tests: Debian's chromium, headless, driven through its chromedriver by selenium, and axe-core checks.

`browser` is a fresh headless chromium the size of a phone (390x844 CSS pixels, touch, as a page with
`<meta name="viewport" content="width=device-width">` sees it); `new_browser` opens as many independent ones as a
test needs (two people opening the same link at once), each with a profile of its own. Every browser is quit when
its test ends, however it ends, and its profile (in the test's tmp_path) and its temporary files (in a directory of
its own) are removed. Where /usr/bin/chromium or /usr/bin/chromedriver is missing, the tests that take them are
skipped with one line saying what to install; `.ci/run` installs both, so CI runs them. Nothing is downloaded: the
browser is the Debian package and axe-core comes bundled in axe-selenium-python (axe-core 3.1.1).

Selenium is synchronous: a test whose server runs in the test's own event loop drives the browser from a thread
(`await asyncio.to_thread(...)`) so that the loop keeps serving.

ChromeDriver types only characters of the Basic Multilingual Plane: `send_keys` types Japanese, but an emoji
fails ("ChromeDriver only supports characters in the BMP"). `insert_text` puts any text in, as an input method
would (a real `input` event, inputType "insertText").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import pytest
from axe_selenium_python import Axe  # type: ignore[import-untyped]
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SKIP_REASON = "no chromium/chromedriver: apt install chromium chromium-driver"

# Headless, no sandbox (CI and sessions run as root), and no traffic of the browser's own: no updates, sync,
# extensions, QUIC or proxy; the tests talk to 127.0.0.1 only.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-proxy-server",
)
# A phone: desktop chromium's windows are at least 500 pixels wide, so --window-size=390,844 would not do.
PHONE = {"width": 390, "height": 844, "pixelRatio": 3, "mobile": True, "touch": True}
TIMEOUT = 30  # seconds, for a page to load and for a script (axe) to finish

BrowserFactory = Callable[[], webdriver.Chrome]


def chromium_found() -> bool:
    return os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)


def chromium_driver(profile: Path, scratch: Path) -> webdriver.Chrome:
    """A headless chromium the size of a phone, its profile in `profile`, its temporary files (sockets, shared
    memory) in `scratch`: a short path, since a unix socket's path must fit in 108 bytes (a tmp_path does not, and
    chromium then exits at once: "session not created: Chrome instance exited"). The caller quits it."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
    service = Service(str(CHROMEDRIVER), env={**os.environ, "TMPDIR": str(scratch)})
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except BaseException:
        service.stop()  # selenium quits the session it failed to start, not a driver that did not come up
        raise
    try:
        driver.set_page_load_timeout(TIMEOUT)
        driver.set_script_timeout(TIMEOUT)
    except BaseException:
        driver.quit()
        raise
    return driver


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Where there is no chromium, the skips of all browser tests fold into one line of the summary (pytest would
    give each test a line of its own, at the test's place)."""
    report: pytest.TestReport = yield
    if report.skipped and isinstance(report.longrepr, tuple) and report.longrepr[2].endswith(SKIP_REASON):
        report.longrepr = cast(tuple[str, int, str], (__file__, None, report.longrepr[2]))  # no line: one place
    return report


@pytest.fixture
def new_browser(tmp_path: Path) -> Iterator[BrowserFactory]:
    """Opens a fresh, independent browser at each call (from any thread); all are quit when the test ends."""
    if not chromium_found():
        pytest.skip(SKIP_REASON)
    with contextlib.ExitStack() as cleanup:  # runs every step, last opened first, even when one of them fails

        def open_browser() -> webdriver.Chrome:
            profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path))
            cleanup.callback(shutil.rmtree, profile, ignore_errors=True)
            scratch = Path(tempfile.mkdtemp(prefix="fieldbot-chromium-"))
            cleanup.callback(shutil.rmtree, scratch, ignore_errors=True)
            driver = chromium_driver(profile, scratch)
            cleanup.callback(driver.quit)  # stops chromedriver too, even when the browser no longer answers
            return driver

        yield open_browser


@pytest.fixture
def browser(new_browser: BrowserFactory) -> webdriver.Chrome:
    return new_browser()


def insert_text(driver: webdriver.Chrome, field: WebElement, text: str) -> None:
    """Puts `text` at the end of a text field as an input method would: any character, emoji too, with the
    `input` event a person's typing fires (send_keys types only characters of the Basic Multilingual Plane)."""
    driver.execute_script(
        "const field = arguments[0]; field.focus(); field.selectionStart = field.selectionEnd = field.value.length;",
        field,
    )
    driver.execute_cdp_cmd("Input.insertText", {"text": text})


def axe_violations(driver: webdriver.Chrome, impacts: Sequence[str] = ("serious", "critical")) -> list[dict[str, Any]]:
    """The axe-core violations of these impacts on the page the browser shows (rules as axe-core 3.1.1 has them)."""
    axe = Axe(driver)
    axe.inject()
    results: dict[str, Any] = axe.run()
    return [violation for violation in results["violations"] if violation["impact"] in impacts]


def describe(violations: Sequence[dict[str, Any]]) -> str:
    """One line per violation, for an assertion's message: rule, impact, what it asks, where."""
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(str(n['target']) for n in v['nodes'])}"
        for v in violations
    )
