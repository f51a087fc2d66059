"""The note form in a real browser (Debian's chromium, headless, phone-sized; tests/browser.py): a follow-up's
nickname, reason and note and an outing's memo written on fieldbot's own page, end to end with the real bot on
long polling (PUBLIC_URL set), never reaching the chat, the DEBUG log, the database files or a backup in clear;
refused links (expired, used, another person's, forged) and two browsers on one link store nothing more; the
supervisor reads the notes on the page, audited; the pages pass axe-core with visible focus; a plain link works
without the Mini App. (The same flows over plain HTTP: tests/test_note_form.py.)

Selenium is synchronous: each browser step runs in a thread (`await asyncio.to_thread(...)`) so that the bot,
in the test's event loop, keeps serving. Nothing sleeps: the browser waits on page conditions (WebDriverWait),
the test on the simulator's state (`api.wait_for`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import ParamSpec, TypeVar

import aiohttp
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from bot.logs import configure_logging
from core.flow import LABEL_MAX, REASON_MAX
from core.i18n import t
from core.models import Role
from simulator.botapi import SimMessage, SimUser, launch_params
from simulator.webapp import init_data, launch_url
from storage.sqlite.backup import backup
from storage.sqlite.seal import place
from tests.browser import TIMEOUT, BrowserFactory, axe_violations, describe
from tests.harness import Harness
from tests.test_note_form import Browser as HttpBrowser
from tests.test_note_form import everything_sent, staff_id, to_followup_label, with_form

pytestmark = pytest.mark.slow

P = ParamSpec("P")
T = TypeVar("T")

STAFF = 4301
OTHER = 4302
SUPERVISOR = 4303
# Japanese, as staff write them (characters of the Basic Multilingual Plane: chromedriver's send_keys types them).
LABEL = "Aさん ブラウザ-7731"
REASON = "REASON-browser-5521 一人暮らしで通院が難しい"
MEMO = "MEMO-browser-9034 次回は民生委員と同行"
NOTE = "NOTE-browser-3317 ケアマネに連絡済み"
PERSONAL = (REASON, MEMO, NOTE)  # never in the chat or in clear (the nickname must name no one: it is shown)
FORM = t("flow.form.button")
SUBMIT = t("form.submit")
LINK_LIFETIME = timedelta(minutes=10)  # a plain link's, and the Mini App launch data's
DATABASE_FILES = ("fieldbot.sqlite3", "fieldbot.sqlite3-wal", "fieldbot.sqlite3-shm")


# --- the bot with its form (as tests/test_note_form.py) --------------------------------------------------------


async def draft_state(h: Harness, telegram_id: int) -> tuple[int, str]:
    """The person's draft: its version and its (opened) state."""
    draft = await h.store.drafts.for_staff(await staff_id(h, telegram_id))
    assert draft is not None
    return draft.version, draft.state


def receipts(user: SimUser) -> list[SimMessage]:
    return [m for m in user.messages if m.text.startswith(t("flow.form.received"))]


async def newest_after(h: Harness, user: SimUser, seq: int) -> SimMessage:
    """The newest live bot message the bot sent to the user after the server event `seq` (waits for one)."""

    def fresh() -> list[SimMessage]:
        return [m for m in user.chat.bot_messages_after(seq) if not m.deleted]

    await h.api.wait_for(lambda: bool(fresh()), what="a bot message after the form was posted")
    return fresh()[-1]


# --- the browser's side (synchronous: run in a thread) ---------------------------------------------------------


def wait(driver: webdriver.Chrome) -> WebDriverWait[webdriver.Chrome]:
    return WebDriverWait(driver, TIMEOUT)


def loaded(driver: webdriver.Chrome) -> bool:
    return bool(driver.execute_script("return document.readyState") == "complete")


def page_kind(driver: webdriver.Chrome) -> str:
    """Which page the browser shows (bot/notes.py names it in the body's class): form, read, shown, done, refused."""
    found: str = driver.execute_script("return document.body ? document.body.className : ''")
    return found.removeprefix("page-")


def open_page(driver: webdriver.Chrome, url: str) -> str:
    """Opens the URL as the Telegram app opens a fresh webview (the launch data in the fragment); the page's own
    script has run once it is loaded (it is deferred). Returns the page's kind."""
    # From a blank page: from the same address with another fragment, a browser only moves within the page.
    driver.get("about:blank")
    driver.get(url)
    wait(driver).until(loaded)
    return page_kind(driver)


def press(driver: webdriver.Chrome, label: str) -> str:
    """Presses the page's button of this label and waits for the page the post answers with; its kind."""
    driver.execute_script("window.__fieldbotPressed = true")  # gone with this page's window once it is replaced
    driver.find_element(By.XPATH, f"//button[normalize-space()='{label}']").click()
    wait(driver).until(answered)
    return page_kind(driver)


def answered(driver: webdriver.Chrome) -> bool:
    """The page a post answered with has replaced the one pressed, and is loaded. While the old page goes away,
    chromedriver may answer a script with any error (not only a stale element's): not yet, then."""
    try:
        script = "return window.__fieldbotPressed === undefined && document.readyState === 'complete'"
        return bool(driver.execute_script(script))
    except WebDriverException:
        return False


def type_text(driver: webdriver.Chrome, text: str) -> None:
    """Types into the form's field as a person does, and waits for the live counter to count it."""
    limit = int(driver.find_element(By.ID, "note-form").get_attribute("data-limit") or 0)
    assert limit > 0
    driver.find_element(By.ID, "text").send_keys(text)
    counted = t("form.counter", count=len(text), limit=limit)  # e.g. 12／300文字 (characters, not bytes)
    wait(driver).until(lambda d: d.find_element(By.ID, "counter").text == counted)


def write(driver: webdriver.Chrome, url: str, text: str) -> str:
    """Opens a form, types the text, sends it: the kind of page it answers with."""
    assert open_page(driver, url) == "form", driver.page_source
    type_text(driver, text)
    return press(driver, SUBMIT)


def message(driver: webdriver.Chrome) -> str:
    """What a done or refused page says (its one paragraph)."""
    return str(driver.find_element(By.CSS_SELECTOR, "main > p").text)


def lang(driver: webdriver.Chrome) -> str:
    return str(driver.execute_script("return document.documentElement.lang"))


def launch_data(driver: webdriver.Chrome) -> str:
    """What the page's script copied from the fragment into the form (Telegram's launch data, or nothing)."""
    return str(driver.find_element(By.NAME, "init_data").get_attribute("value") or "")


def assert_refused(driver: webdriver.Chrome, reason: str) -> None:
    """A plain page, in Japanese, saying what to do next: no form, no field, the catalogue's text."""
    assert page_kind(driver) == "refused", driver.page_source
    assert lang(driver) == "ja"
    assert driver.find_element(By.TAG_NAME, "h1").text == t("form.title.refused")
    assert driver.find_element(By.CSS_SELECTOR, "main > p[role=alert]").text == t(f"form.refused.{reason}")
    assert driver.find_elements(By.CSS_SELECTOR, "form, textarea, input") == []


def expired_on_opening(driver: webdriver.Chrome, url: str) -> bool:
    """Whether the page, opened, says at once that its plain link has expired (no form left to type into)."""
    open_page(driver, url)
    notice = driver.find_elements(By.ID, "plain-expired")
    if notice and notice[0].is_displayed():
        assert notice[0].text == t("form.refused.expired")
        assert driver.find_elements(By.CSS_SELECTOR, "form, textarea") == []
        return True
    return False


def no_violations(driver: webdriver.Chrome) -> None:
    violations = axe_violations(driver)
    assert violations == [], f"{page_kind(driver)} page:\n{describe(violations)}"


def tab_to(driver: webdriver.Chrome, selector: str) -> WebElement:
    """Moves the keyboard focus with TAB until it is on the element (as a keyboard user does: this is what
    makes :focus-visible apply); the element."""
    target = driver.find_element(By.CSS_SELECTOR, selector)
    for _ in range(10):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        if driver.switch_to.active_element == target:
            return target
    raise AssertionError(f"TAB never reached {selector}")


def outline(driver: webdriver.Chrome, element: WebElement) -> str:
    return str(driver.execute_script("return getComputedStyle(arguments[0]).outlineStyle", element))


async def in_browser(step: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Runs a synchronous browser step in a thread: the bot, in this event loop, keeps serving meanwhile."""
    return await asyncio.to_thread(step, *args, **kwargs)


# --- flows through the browser ---------------------------------------------------------------------------------


async def answer_in_browser(h: Harness, driver: webdriver.Chrome, user: SimUser, text: str) -> tuple[SimMessage, str]:
    """Opens the form of the question the chat shows (its Mini App button), writes the text in the browser and
    sends it: the page says it was received, and the chat's newest message is the receipt. Returns the receipt
    and the URL opened."""
    before = h.api.seq
    url = user.open_web_app(FORM)

    def step() -> tuple[str, str, str]:
        assert open_page(driver, url) == "form"
        copied = launch_data(driver)
        type_text(driver, text)
        return copied, press(driver, SUBMIT), message(driver)

    copied, page, said = await in_browser(step)
    assert copied == launch_params(url)["tgWebAppData"]  # the page's script handed the launch data to the form
    assert (page, said) == ("done", t("form.done"))
    receipt = await newest_after(h, user, before)
    assert receipt is user.last and receipt.text.startswith(t("flow.form.received")), receipt
    return receipt, url


async def outing_in_browser(h: Harness, driver: webdriver.Chrome, user: SimUser) -> list[str]:
    """A follow-up's nickname and reason and the outing's memo, all written in the browser; the outing saved.
    Returns the tokens of the links used."""
    await to_followup_label(user)
    receipt, label_url = await answer_in_browser(h, driver, user, LABEL)
    assert t("flow.ask.followup_reason", limit=REASON_MAX) in receipt.text and FORM in str(receipt.buttons)
    receipt, reason_url = await answer_in_browser(h, driver, user, REASON)
    assert t("flow.ask.followup_due") in receipt.text
    await user.press("1週間")
    await user.press("✅ 相談入力を終える")
    receipt, memo_url = await answer_in_browser(h, driver, user, MEMO)
    assert MEMO not in receipt.text and t("flow.button.save") in str(receipt.buttons)
    await user.press(t("flow.button.save"))
    assert user.last is not None and "保存しました" in user.last.text
    return [token_of(url) for url in (label_url, reason_url, memo_url)]


def token_of(url: str) -> str:
    return url.split("#", 1)[0].rsplit("/", 1)[1]


def in_clear(paths: list[Path], *texts: str) -> list[str]:
    """Which of the texts appear as they are (UTF-8) in these files."""
    raw = b"".join(path.read_bytes() for path in paths)
    return [text for text in texts if text.encode() in raw]


# --- 1. end to end ---------------------------------------------------------------------------------------------


@pytest.mark.sqlite_only  # reads SQLite's files and makes a SQLite backup
async def test_a_follow_up_written_in_the_browser_reaches_the_chat_only_as_receipts(
    tmp_path: Path, browser: webdriver.Chrome, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    async with with_form(tmp_path) as h:
        caplog.set_level(logging.DEBUG)  # (first: the level it restores is the one before this test)
        # The test's own browser driver logs what it types into the page at DEBUG: that is the phone, not the bot.
        caplog.set_level(logging.INFO, logger="selenium")
        configure_logging("DEBUG", secrets=[h.api.token])  # as `fieldbot run` does with LOG_LEVEL=DEBUG
        try:
            user = await h.register(STAFF)
            tokens = await outing_in_browser(h, browser, user)
            await user.send("/followups")
            await user.press(LABEL)
            note = user.open_web_app(t("followup.button.note"))  # the card's 📝: a Mini App button
            assert await in_browser(write, browser, note, NOTE) == "done"
            await h.api.wait_for(lambda: user.last is not None and t("form.note_saved") in user.last.text)
            tokens.append(token_of(note))
        finally:
            configure_logging("WARNING")
        logged = caplog.text + capfd.readouterr().err
        assert "Calling Bot API endpoint" in logged  # DEBUG was on, and the library logged its calls
        for secret in (LABEL, REASON, MEMO, NOTE, *tokens):
            assert secret not in logged, secret
        # The sealed values open to what was typed in the browser.
        found = await h.store.followups.detail(1, None, h.clock.now())
        assert found is not None and (found.followup.label, found.reason) == (LABEL, REASON)
        assert [n.body for n in found.notes] == [NOTE]
        memo = await h.store.db.fetchone("SELECT id, memo FROM submissions WHERE memo IS NOT NULL")
        assert memo is not None and h.store.seal.open(memo[1], place("submissions", "memo", memo[0])) == MEMO
        assert await h.count("used_form_links") == 4
        # Nothing personal in the chat: the nickname is what cards and lists call the person, by design.
        sent = everything_sent(h)
        assert [text for text in PERSONAL if text in sent] == []
        # ... nor in the database's files as the bot runs (the WAL holds the latest pages), nor in a backup.
        live = [tmp_path / name for name in DATABASE_FILES if (tmp_path / name).exists()]
        assert tmp_path / "fieldbot.sqlite3-wal" in live
        assert in_clear(live, LABEL, *PERSONAL) == [LABEL]  # (the nickname, stored as shown: the files were read)
        copy = await asyncio.to_thread(backup, h.database, tmp_path / "backups" / "fieldbot-backup.sqlite3")
        assert copy.consultations == 1
        assert in_clear([copy.path], LABEL, *PERSONAL) == [LABEL]
    stopped = [tmp_path / name for name in DATABASE_FILES if (tmp_path / name).exists()]
    assert in_clear(stopped, LABEL, *PERSONAL) == [LABEL]


# --- 2. refused links ------------------------------------------------------------------------------------------


async def test_expired_foreign_and_forged_links_are_refused_in_the_browser_and_store_nothing(
    tmp_path: Path, browser: webdriver.Chrome
) -> None:
    async with with_form(tmp_path) as h:
        user = await h.register(STAFF)
        other = await h.register(OTHER)
        await to_followup_label(user)
        before = h.api.seq
        draft = await draft_state(h, STAFF)
        url = user.open_web_app(FORM)
        plain = url.split("#", 1)[0]
        launch = launch_params(url)["tgWebAppData"]
        forged = launch[:-1] + ("0" if launch[-1] != "0" else "1")  # the hash changed by one character
        now = h.api.now()
        foreign = init_data(h.api.token, other.to_json(), auth_date=now)  # signed by Telegram, for someone else
        stale = user.open_web_app(FORM, auth_date=now - int((LINK_LIFETIME + timedelta(minutes=1)).total_seconds()))
        cases = {
            "forged launch data": (launch_url(plain, forged), "forged"),
            "another person's launch data on this person's link": (launch_url(plain, foreign), "foreign"),
            "launch data older than 10 minutes": (stale, "expired"),
        }
        for case, (opened, reason) in cases.items():
            # The page cannot tell by itself (the launch data never reaches the server with the page's address):
            # it shows the form, and what is sent with the launch data is refused.
            assert await in_browser(write, browser, opened, LABEL) == "refused", case
            await in_browser(assert_refused, browser, reason)
        late = HttpBrowser(plain)
        async with aiohttp.ClientSession() as session:
            await late.open(session)  # a plain link's page opened in time, and sent when it had expired
            h.clock.advance(LINK_LIFETIME + timedelta(minutes=1))
            status, page = await late.post(session, LABEL)
            assert status == 410 and t("form.refused.expired") in page
        assert await in_browser(expired_on_opening, browser, plain)  # opened 11 minutes on: no form to type into
        assert await in_browser(expired_on_opening, browser, url) is False  # as a Mini App: its launch data tells
        assert await draft_state(h, STAFF) == draft  # the same version, no nickname in it
        assert await h.count("used_form_links") == 0
        assert [m for m in user.chat.bot_messages_after(before)] == []  # no receipt, no question again


async def test_a_used_link_is_refused_in_the_browser_whether_its_page_was_open_or_is_opened_again(
    tmp_path: Path, browser: webdriver.Chrome
) -> None:
    async with with_form(tmp_path) as h:
        user = await h.register(STAFF)
        await to_followup_label(user)
        version, _ = await draft_state(h, STAFF)
        url = user.open_web_app(FORM)

        def use_twice() -> None:
            assert open_page(browser, url) == "form"  # left open in a tab ...
            first = browser.current_window_handle
            browser.switch_to.new_window("tab")  # ... while the same button is opened again, and sent
            assert write(browser, url, LABEL) == "done"
            browser.switch_to.window(first)  # the tab left open is sent too: a stale page
            type_text(browser, LABEL + "-2")
            assert press(browser, SUBMIT) == "refused"
            assert_refused(browser, "used")
            assert open_page(browser, url) == "refused"  # and the link opened again
            assert_refused(browser, "used")

        await in_browser(use_twice)
        assert await h.count("used_form_links") == 1
        assert len(receipts(user)) == 1
        moved, state = await draft_state(h, STAFF)  # one step on, with the first text only
        assert moved == version + 1 and '"fu_reason' in state and LABEL in state and LABEL + "-2" not in state


# --- 3. two browsers, one link ---------------------------------------------------------------------------------


async def test_two_browsers_sending_the_same_link_at_once_store_it_once(
    tmp_path: Path, new_browser: BrowserFactory
) -> None:
    async with with_form(tmp_path) as h:
        user = await h.register(STAFF)
        await to_followup_label(user)
        version, _ = await draft_state(h, STAFF)
        url = user.open_web_app(FORM)
        drivers = [new_browser(), new_browser()]
        both_ready = threading.Barrier(len(drivers), timeout=TIMEOUT)

        def send(driver: webdriver.Chrome, text: str) -> tuple[str, str]:
            assert open_page(driver, url) == "form"
            type_text(driver, text)
            both_ready.wait()  # both pages filled in: the two posts leave at the same moment
            return press(driver, SUBMIT), message(driver)

        pages = await asyncio.gather(*(in_browser(send, d, f"{LABEL}-{k}") for k, d in enumerate(drivers)))
        assert sorted(kind for kind, _ in pages) == ["done", "refused"]
        refusal = next(said for kind, said in pages if kind == "refused")
        # The other one: the link used, or (had it passed that check first) its question answered meanwhile.
        assert refusal in (t("form.refused.used"), t("form.refused.moved"))
        await h.api.wait_for(lambda: len(receipts(user)) >= 1, what="the receipt")
        assert len(receipts(user)) == 1
        assert await h.count("used_form_links") == 1
        moved, state = await draft_state(h, STAFF)
        assert moved == version + 1 and '"fu_reason' in state
        stored = [text for text in (f"{LABEL}-0", f"{LABEL}-1") if text in state]
        assert len(stored) == 1


# --- 4. the supervisor reads the notes on the page -------------------------------------------------------------


async def test_the_supervisor_reads_the_reason_and_the_note_on_the_page_and_the_read_is_audited(
    tmp_path: Path, browser: webdriver.Chrome
) -> None:
    async with with_form(tmp_path) as h:
        user = await h.register(STAFF)
        supervisor = await h.register(SUPERVISOR, Role.SUPERVISOR, zone="west", area=None)
        await outing_in_browser(h, browser, user)
        await user.send("/followups")
        await user.press(LABEL)
        note = user.open_web_app(t("followup.button.note"))  # the card's 📝: a Mini App button, the form being on
        assert await in_browser(write, browser, note, NOTE) == "done"
        await h.api.wait_for(lambda: user.last is not None and t("form.note_saved") in user.last.text)
        await supervisor.send("/followups")
        await supervisor.press(LABEL)
        details = supervisor.open_web_app(t("followup.button.details"))

        def read() -> list[str]:
            browser.get(details)  # the page's script sends its form at once: the details are shown
            wait(browser).until(lambda d: loaded(d) and page_kind(d) == "shown")
            assert lang(browser) == "ja"
            return [item.text for item in browser.find_elements(By.CSS_SELECTOR, "ul.details li")]

        lines = await in_browser(read)
        assert t("form.reason", reason=REASON) in lines
        assert len(lines) == 2 and NOTE in lines[1]
        views = await h.store.db.fetchall("SELECT actor_id FROM audit WHERE action = 'followup.view'")
        assert [row[0] for row in views] == [await staff_id(h, SUPERVISOR)]  # the supervisor, once
        assert [text for text in (REASON, NOTE) if text in everything_sent(h)] == []


# --- 5. accessibility ------------------------------------------------------------------------------------------


async def test_the_form_page_is_labelled_japanese_with_visible_focus_and_passes_axe(
    tmp_path: Path, browser: webdriver.Chrome
) -> None:
    async with with_form(tmp_path) as h:
        user = await h.register(STAFF)
        await to_followup_label(user)
        await user.send(LABEL)  # typed in the chat (allowed by default): the reason's form has a textarea
        assert user.last is not None and FORM in str(user.last.buttons)
        url = user.open_web_app(FORM)

        def check() -> None:
            assert open_page(browser, url) == "form"
            assert lang(browser) == "ja"
            label = browser.find_element(By.CSS_SELECTOR, "label[for=text]")
            assert label.text == t("flow.form.reason", limit=REASON_MAX)
            assert browser.find_element(By.ID, "text").tag_name == "textarea"
            no_violations(browser)
            send = browser.find_element(By.XPATH, f"//button[normalize-space()='{SUBMIT}']")
            assert outline(browser, send) == "none"  # no outline until focused ...
            field = tab_to(browser, "#text")
            assert outline(browser, field) != "none"  # ... a visible one on the field and the button with focus
            send = tab_to(browser, "button.primary")
            assert outline(browser, send) != "none"
            assert outline(browser, field) == "none"

        await in_browser(check)


async def test_the_done_details_and_refusal_pages_pass_axe(tmp_path: Path, browser: webdriver.Chrome) -> None:
    async with with_form(tmp_path) as h:
        user = await h.register(STAFF)
        supervisor = await h.register(SUPERVISOR, Role.SUPERVISOR, zone="west", area=None)
        await to_followup_label(user)
        old = user.open_web_app(FORM, auth_date=h.api.now() - int((LINK_LIFETIME * 2).total_seconds()))
        label = user.open_web_app(FORM)

        def pages() -> None:
            assert write(browser, old, LABEL) == "refused"  # launch data too old
            assert_refused(browser, "expired")
            no_violations(browser)
            assert open_page(browser, label) == "form"
            assert browser.find_element(By.CSS_SELECTOR, "label[for=text]").text == t(
                "flow.form.label", limit=LABEL_MAX
            )
            no_violations(browser)  # the single-line field's form
            type_text(browser, LABEL)
            assert press(browser, SUBMIT) == "done"
            assert lang(browser) == "ja"
            no_violations(browser)
            assert open_page(browser, label) == "refused"
            assert_refused(browser, "used")
            no_violations(browser)

        await in_browser(pages)
        await user.send(REASON)  # the rest typed in the chat: what matters here is the details page
        await user.press("1週間")
        await user.press("✅ 相談入力を終える")
        await user.press(t("flow.button.save"))
        await supervisor.send("/followups")
        await supervisor.press(LABEL)
        details = supervisor.open_web_app(t("followup.button.details"))

        def details_page() -> None:
            browser.get(details)
            wait(browser).until(lambda d: loaded(d) and page_kind(d) == "shown")
            assert lang(browser) == "ja"
            no_violations(browser)

        await in_browser(details_page)


# --- 6. without the Mini App -----------------------------------------------------------------------------------


async def test_a_plain_link_opened_in_a_browser_stores_the_text(tmp_path: Path, browser: webdriver.Chrome) -> None:
    async with with_form(tmp_path) as h:
        user = await h.register(STAFF)
        await to_followup_label(user)
        before = h.api.seq
        plain = user.open_web_app(FORM).split("#", 1)[0]  # what any messenger's link, or the demo, opens

        def send() -> tuple[str, str, str]:
            assert open_page(browser, plain) == "form"
            copied = launch_data(browser)
            type_text(browser, LABEL)
            return copied, press(browser, SUBMIT), message(browser)

        assert await in_browser(send) == ("", "done", t("form.done"))  # no launch data: link mode
        receipt = await newest_after(h, user, before)
        assert receipt.text.startswith(t("flow.form.received"))
        assert t("flow.ask.followup_reason", limit=REASON_MAX) in receipt.text
        assert await h.count("used_form_links") == 1
        _, state = await draft_state(h, STAFF)
        assert LABEL in state and '"fu_reason' in state
