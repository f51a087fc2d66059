"""The browser-test infrastructure (tests/browser.py) works: a headless chromium opens a small Japanese form page
served by aiohttp in the test's event loop under a strict CSP, text is typed and sent, the server receives it, and
axe-core finds what it should on the page (nothing serious on a good one, a missing label on a bad one).

The pages here are test data. Selenium is synchronous, so the browser is driven from a thread while the loop serves.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import TIMEOUT, BrowserFactory, axe_violations, describe, insert_text

pytestmark = pytest.mark.slow

HEADERS = {"Content-Security-Policy": "default-src 'self'"}
HEAD = """<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">"""
PAGE = f"""<!doctype html>
<html lang="ja">
<head>
{HEAD}
<title>メモの入力</title>
<script src="/form.js" defer></script>
<script>document.documentElement.dataset.inline = "ran";</script>
</head>
<body>
<main>
<h1>メモの入力</h1>
<form method="post" action="/notes">
<label for="note">メモ</label>
<textarea id="note" name="note" rows="6" required></textarea>
<button type="submit" id="send" disabled>送信する</button>
</form>
</main>
</body>
</html>
"""
# The page's own script: the button is enabled once there is text; `ready` shows the script ran under the CSP.
SCRIPT = """const note = document.getElementById("note");
const send = document.getElementById("send");
note.addEventListener("input", () => { send.disabled = note.value.trim() === ""; });
document.documentElement.dataset.ready = "yes";
"""
SENT = f"""<!doctype html>
<html lang="ja"><head>{HEAD}<title>送信しました</title></head>
<body><main><h1 id="sent">送信しました</h1></main></body></html>
"""
UNLABELLED = f"""<!doctype html>
<html lang="ja"><head>{HEAD}<title>ラベルのない欄</title></head>
<body><main><h1>ラベルのない欄</h1><textarea id="note"></textarea></main></body></html>
"""
NOTE = "今日は雨でした。\n明日また伺います。"
EMOJI = "☔️🙂"  # outside the Basic Multilingual Plane: send_keys cannot type it, insert_text can


@dataclass
class NoteServer:
    url: str
    notes: asyncio.Queue[str]

    async def next_note(self) -> str:
        return await asyncio.wait_for(self.notes.get(), TIMEOUT)


@pytest.fixture
async def note_server() -> AsyncIterator[NoteServer]:
    notes: asyncio.Queue[str] = asyncio.Queue()

    def html(text: str) -> web.Response:
        return web.Response(text=text, content_type="text/html", headers=HEADERS)

    async def page(request: web.Request) -> web.Response:
        return html(PAGE)

    async def script(request: web.Request) -> web.Response:
        return web.Response(text=SCRIPT, content_type="text/javascript", headers=HEADERS)

    async def unlabelled(request: web.Request) -> web.Response:
        return html(UNLABELLED)

    async def receive(request: web.Request) -> web.Response:
        note = (await request.post())["note"]
        assert isinstance(note, str)
        notes.put_nowait(note)
        return html(SENT)

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/form.js", script)
    app.router.add_get("/unlabelled", unlabelled)
    app.router.add_post("/notes", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        yield NoteServer(f"http://127.0.0.1:{port}/", notes)
    finally:
        await runner.cleanup()


def wait(driver: webdriver.Chrome) -> WebDriverWait[webdriver.Chrome]:
    # While a page is replaced after a post, chromedriver may answer with any error ("Node … does not belong to
    # the document"), not only a stale element's: not yet, then.
    return WebDriverWait(driver, TIMEOUT, ignored_exceptions=(WebDriverException,))


def open_form(driver: webdriver.Chrome, url: str) -> None:
    driver.get(url)
    wait(driver).until(lambda d: d.execute_script("return document.documentElement.dataset.ready") == "yes")


def send_form(driver: webdriver.Chrome) -> None:
    send = driver.find_element(By.ID, "send")
    wait(driver).until(lambda _: send.is_enabled())
    send.click()
    wait(driver).until(lambda d: d.find_elements(By.ID, "sent"))


async def test_a_japanese_note_goes_from_the_phone_sized_browser_to_the_server(
    browser: webdriver.Chrome, note_server: NoteServer
) -> None:
    def fill_in_and_send() -> None:
        open_form(browser, note_server.url)
        assert browser.execute_script("return document.documentElement.dataset.inline") is None, "CSP not enforced"
        assert browser.execute_script("return [innerWidth, innerHeight]") == [390, 844]
        note = browser.find_element(By.ID, "note")
        note.send_keys(NOTE)
        insert_text(browser, note, EMOJI)
        assert note.get_property("value") == NOTE + EMOJI
        violations = axe_violations(browser)
        assert violations == [], describe(violations)
        send_form(browser)

    await asyncio.to_thread(fill_in_and_send)
    # A form sends a textarea's line breaks as CRLF (HTML's form submission normalises them).
    assert await note_server.next_note() == NOTE.replace("\n", "\r\n") + EMOJI


async def test_axe_finds_a_text_field_without_a_label(browser: webdriver.Chrome, note_server: NoteServer) -> None:
    def violations() -> list[str]:
        browser.get(note_server.url + "unlabelled")
        return [violation["id"] for violation in axe_violations(browser)]

    assert await asyncio.to_thread(violations) == ["label"]


async def test_two_browsers_send_the_same_form_at_once(new_browser: BrowserFactory, note_server: NoteServer) -> None:
    both_filled_in = threading.Barrier(2, timeout=TIMEOUT)

    def fill_in_and_send(text: str) -> None:
        driver = new_browser()
        open_form(driver, note_server.url)
        driver.find_element(By.ID, "note").send_keys(text)
        both_filled_in.wait()
        send_form(driver)

    await asyncio.gather(asyncio.to_thread(fill_in_and_send, "一人目"), asyncio.to_thread(fill_in_and_send, "二人目"))
    assert {await note_server.next_note(), await note_server.next_note()} == {"一人目", "二人目"}
