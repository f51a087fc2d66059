"""The note form over HTTP, end to end with the real bot on long polling (PUBLIC_URL set): personal text written
on the bot's own page never passes through the chat; links are bound to their person, question and time, and
store once; the page's security headers; the supervisor's details read on a page, audited. (The same in a real
browser: tests/test_note_form_browser.py.)"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.logs import configure_logging
from bot.webhook import Listener, WebhookServer
from bot.worker import InboxWorkers
from core.clock import ManualClock
from core.flow import DraftState
from core.i18n import t
from core.models import Role
from simulator.botapi import LocalBotApi, SimUser, launch_params
from simulator.webapp import init_data
from tests.harness import START, Harness, make_settings, running
from tests.test_serve import ServeHarness

STAFF = 4201
OTHER = 4202
SUPERVISOR = 4203
LABEL = "Aさん LABEL-7731"
REASON = "REASON-form-5521 一人暮らしで通院が難しい"
MEMO = "MEMO-form-9034 次回は民生委員と同行"
NOTE = "NOTE-form-3317 ケアマネに連絡済み"
FORM = t("flow.form.button")
HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def with_form(tmp_path: Path, **settings: Any) -> AsyncIterator[Harness]:
    port = free_port()
    async with running(tmp_path, public_url=f"http://127.0.0.1:{port}", serve_port=port, **settings) as h:
        yield h


class Browser:
    """What a browser does with the page: open it, read its CSRF token, post the form (with the Mini App's
    launch data from the address's fragment, as the page's script does)."""

    def __init__(self, url: str) -> None:
        parts = url.split("#", 1)
        self.url = parts[0]
        self.init_data = launch_params(url).get("tgWebAppData", "") if len(parts) > 1 else ""
        self.csrf = ""

    async def open(self, session: aiohttp.ClientSession) -> tuple[int, str]:
        async with session.get(self.url) as response:
            page = await response.text()
            found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
            self.csrf = found.group(1) if found else ""
            return response.status, page

    async def post(self, session: aiohttp.ClientSession, text: str | None = None, **fields: str) -> tuple[int, str]:
        data = {"csrf": self.csrf, "init_data": self.init_data, "action": "submit", **fields}
        if text is not None:
            data["text"] = text
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.url))
        async with session.post(self.url, data=data, headers={"Origin": origin}) as response:
            return response.status, await response.text()


async def submit(url: str, text: str | None = None) -> tuple[int, str]:
    browser = Browser(url)
    async with aiohttp.ClientSession() as session:
        status, _ = await browser.open(session)
        assert status == 200
        return await browser.post(session, text)


async def to_followup_label(user: SimUser) -> None:
    """A visit with one consultation flagged for follow-up: the bot asks for the person's nickname."""
    await user.send("/visit")
    for button in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "あった", "ニーズを抱えている個人の相談"):
        await user.press(button)
    for button in ("福祉サービス、相談機関の紹介", "なし（つないでいない）", "🚩 要フォローあり"):
        await user.press(button)


async def receipt(h: Harness, user: SimUser, before: int) -> str:
    """The message the bot sent after the form was stored (it arrives before the page answers)."""
    sent = [m for m in user.chat.bot_messages_after(before) if not m.deleted]
    assert sent, "no receipt in the chat"
    return sent[-1].text


async def form_outing(h: Harness, user: SimUser) -> list[str]:
    """A follow-up's nickname and reason and the outing's memo, all through the form; then saved. Returns the
    links' tokens."""
    await to_followup_label(user)
    urls = []
    for text in (LABEL, REASON):
        before = h.api.seq
        urls.append(user.open_web_app(FORM))
        status, page = await submit(urls[-1], text)
        assert status == 200, page
        assert t("form.done") in page
        assert (await receipt(h, user, before)).startswith(t("flow.form.received"))
    await user.press("1週間")
    await user.press("✅ 相談入力を終える")
    urls.append(user.open_web_app(FORM))
    status, page = await submit(urls[-1], MEMO)
    assert status == 200, page
    await user.press("💾 保存")
    return [url.split("#")[0].rsplit("/", 1)[1] for url in urls]


async def staff_id(h: Harness, telegram_id: int) -> int:
    found = await h.store.staff.by_telegram_id(telegram_id)
    assert found is not None
    return found.id


def everything_sent(h: Harness) -> str:
    return repr(h.api.calls) + repr([m.text for chat in h.api.chats.values() for m in chat._messages.values()])


async def test_a_follow_up_recorded_through_the_form_leaves_no_personal_text_in_the_chat_or_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    async with with_form(tmp_path) as h:
        configure_logging("DEBUG", secrets=[h.api.token])  # as `fieldbot run` does with LOG_LEVEL=DEBUG
        caplog.set_level(logging.DEBUG)
        try:
            user = await h.register(STAFF)
            tokens = await form_outing(h, user)
        finally:
            configure_logging("WARNING")
        logged = caplog.text + capfd.readouterr().err
        assert "Calling Bot API endpoint" in logged  # DEBUG was on, and the library logged its calls
        for secret in (LABEL, REASON, MEMO, *tokens):
            assert secret not in logged, secret
        assert user.last is not None and "保存しました" in user.last.text
        reason = await h.store.db.fetchone("SELECT reason, label FROM followups")
        assert reason is not None
        found = await h.store.followups.detail(1, None, h.clock.now())
        assert found is not None and found.reason == REASON and found.followup.label == LABEL
        memo = await h.store.db.fetchone("SELECT count(*) FROM submissions WHERE memo IS NOT NULL")
        assert memo is not None and memo[0] == 1
        sent = everything_sent(h)
        for text in (REASON, MEMO):  # the nickname is what cards and lists call the person: shown by design
            assert text not in sent
        assert await h.count("used_form_links") == 3
    raw = b"".join(p.read_bytes() for p in sorted(tmp_path.iterdir()) if p.name.startswith("fieldbot.sqlite3"))  # noqa: ASYNC240
    for text in (REASON, MEMO):  # (the nickname is stored as it is shown: it must name no one)
        assert text.encode() not in raw


@pytest.mark.parametrize("header", [*HEADERS, "frame-ancestors"])
async def test_the_page_its_answers_and_its_refusals_carry_each_security_header(tmp_path: Path, header: str) -> None:
    async with with_form(tmp_path) as h:
        user = await h.register(STAFF)
        await to_followup_label(user)
        browser = Browser(user.open_web_app(FORM))
        async with aiohttp.ClientSession() as session:
            answers = []
            async with session.get(browser.url) as response:  # the form
                answers.append(response.headers)
                browser.csrf = re.findall(r'name="csrf" value="([0-9a-f]+)"', await response.text())[0]
            async with session.get(browser.url + "x") as response:  # a refusal
                assert response.status in (403, 404)
                answers.append(response.headers)
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(browser.url))
            form = {"csrf": browser.csrf, "text": LABEL, "action": "submit"}
            async with session.post(browser.url, data=form, headers={"Origin": origin}) as response:  # stored
                assert response.status == 200 and '<html lang="ja">' in await response.text()
                answers.append(response.headers)
        for headers in answers:
            if header == "frame-ancestors":  # Telegram's web client frames a Mini App; nothing else may
                csp = headers["Content-Security-Policy"]
                assert "frame-ancestors 'self' https://web.telegram.org;" in csp + ";"
                assert "'unsafe-inline'" not in csp and "X-Frame-Options" not in headers
            else:
                assert HEADERS[header] in headers.get(header, ""), header


async def test_the_pages_own_script_and_style_are_served_as_what_they_are(tmp_path: Path) -> None:
    async with with_form(tmp_path) as h, aiohttp.ClientSession() as session:
        base = h.settings.public_url
        for name, kind in (("note.js", "text/javascript"), ("note.css", "text/css")):
            async with session.get(f"{base}/note-assets/{name}") as response:
                assert response.status == 200 and response.content_type == kind
                assert response.headers["X-Content-Type-Options"] == "nosniff"
        async with session.get(f"{base}/note-assets/other.js") as response:
            assert response.status == 404


async def test_refused_links_store_nothing_and_say_what_to_do(tmp_path: Path) -> None:
    async with with_form(tmp_path) as h:
        user = await h.register(STAFF)
        other = await h.register(OTHER)
        await to_followup_label(user)
        url = user.open_web_app(FORM)
        draft = await h.store.drafts.for_staff(await staff_id(h, STAFF))
        assert draft is not None
        path, fragment = url.split("#", 1)
        params = launch_params(url)
        init = params["tgWebAppData"]
        forged_hash = init[:-1] + ("0" if init[-1] != "0" else "1")  # the hash changed by one character
        foreign = init_data(h.api.token, other.to_json(), auth_date=int(h.clock.now().timestamp()))
        cases = {
            "forged launch data": (Browser(url), forged_hash, 403, "forged"),
            "another person's launch data": (Browser(url), foreign, 403, "foreign"),
            "a token changed by one character": (
                Browser(path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:] + "#" + fragment),
                init,
                403,
                "forged",
            ),
        }
        async with aiohttp.ClientSession() as session:
            for name, (browser, launch, status, reason) in cases.items():
                await browser.open(session)
                browser.init_data = launch
                got, page = await browser.post(session, LABEL)
                assert (got, t(f"form.refused.{reason}") in page) == (status, True), name
            plain = Browser(path)  # no launch data: a plain link lives 10 minutes
            await plain.open(session)
            h.clock.advance(timedelta(minutes=11))
            got, page = await plain.post(session, LABEL)
            assert got == 410 and t("form.refused.expired") in page
            stale = Browser(url)  # launch data older than 10 minutes
            await stale.open(session)
            got, page = await stale.post(session, LABEL)
            assert got == 410 and t("form.refused.expired") in page
        after = await h.store.drafts.for_staff(await staff_id(h, STAFF))
        assert after is not None and after.version == draft.version and LABEL not in after.state
        assert await h.count("used_form_links") == 0


async def test_a_link_stores_once_however_many_post_it_at_the_same_moment(tmp_path: Path) -> None:
    async with with_form(tmp_path) as h:
        for person, tabs in enumerate((2, 3, 5, 8)):  # as many browsers (or double taps) as that
            user = await h.register(STAFF + 100 + person)
            await to_followup_label(user)
            url = user.open_web_app(FORM)
            browsers = [Browser(url) for _ in range(tabs)]
            async with aiohttp.ClientSession() as session:
                for browser in browsers:
                    await browser.open(session)
                answers = await asyncio.gather(*(b.post(session, f"{LABEL}-{k}") for k, b in enumerate(browsers)))
                again = await browsers[0].post(session, LABEL)
            stored = [k for k, (status, page) in enumerate(answers) if status == 200 and t("form.done") in page]
            assert len(stored) == 1, answers
            # The others: the link used (410) or its question answered meanwhile (409); none stored.
            assert all(status in (409, 410) for k, (status, _) in enumerate(answers) if k not in stored)
            assert again[0] == 410 and t("form.refused.used") in again[1]
            draft = await h.store.drafts.for_staff(await staff_id(h, user.id))
            assert draft is not None and '"fu_reason' in draft.state
            found = DraftState.model_validate_json(draft.state).consultations[0].flagged
            assert found is not None and found.label == f"{LABEL}-{stored[0]}"
            receipts = [m for m in user.messages if m.text.startswith(t("flow.form.received"))]
            assert len(receipts) == 1
        assert await h.count("used_form_links") == 4


async def test_the_supervisor_reads_a_follow_up_on_the_page_and_the_read_is_audited(tmp_path: Path) -> None:
    async with with_form(tmp_path) as h:
        user = await h.register(STAFF)
        supervisor = await h.register(SUPERVISOR, Role.SUPERVISOR, zone="west", area=None)
        await form_outing(h, user)
        await user.send("/followups")
        await user.press(LABEL)
        status, page = await submit(user.open_web_app(t("followup.button.note")), NOTE)
        assert status == 200 and t("form.done") in page
        assert user.last is not None and t("form.note_saved") in user.last.text
        await supervisor.send("/followups")
        await supervisor.press(LABEL)
        url = supervisor.open_web_app(t("followup.button.details"))
        browser = Browser(url)
        async with aiohttp.ClientSession() as session:
            status, page = await browser.open(session)
            assert status == 200 and REASON not in page and NOTE not in page  # shown only once posted
            status, page = await browser.post(session, action="read")
            assert status == 200 and REASON in page and NOTE in page
            status, page = await browser.post(session, action="read")
            assert status == 410 and REASON not in page
        views = await h.store.db.fetchall("SELECT actor_id FROM audit WHERE action = 'followup.view'")
        assert [v[0] for v in views] == [await staff_id(h, SUPERVISOR)]  # the supervisor, once
        for text in (REASON, NOTE):
            assert text not in everything_sent(h)


async def test_typing_can_be_turned_off_where_the_form_is(tmp_path: Path) -> None:
    async with with_form(tmp_path, note_typing=False) as h:
        user = await h.register(STAFF)
        await to_followup_label(user)
        update = await user.send(LABEL)
        assert user.last is not None and t("flow.form.typing_off") in user.last.text
        typed = [m for m in user.chat._messages.values() if not m.from_bot and m.text == LABEL]
        assert typed and all(m.deleted for m in typed), update
        draft = await h.store.drafts.for_staff(await staff_id(h, STAFF))
        assert draft is not None and LABEL not in draft.state


async def test_without_a_public_address_there_is_no_form_and_help_tells_the_admin(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        user = await h.register(STAFF)
        await to_followup_label(user)
        assert user.last is not None and FORM not in str(user.last.buttons)
        admin = await h.register(4299, Role.ADMIN, zone=None, area=None)
        await admin.send("/help")
        assert admin.last is not None and "PUBLIC_URL" in admin.last.text
    async with with_form(tmp_path / "on") as h:
        admin = await h.register(4299, Role.ADMIN, zone=None, area=None)
        await admin.send("/help")
        assert admin.last is not None and t("help.form_on") in admin.last.text


@asynccontextmanager
async def serving_with_form(tmp_path: Path) -> AsyncIterator[ServeHarness]:
    """`fieldbot serve` with PUBLIC_URL: webhooks and the note form's pages on one listener, workers in process."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    clock = ManualClock(START)
    api = LocalBotApi(now=lambda: clock.now().timestamp())
    api.webhook.retry_delay = 0.05
    await api.start()
    h = ServeHarness(api, tmp_path / "fieldbot.sqlite3", clock, 2, 30.0)
    h.settings = make_settings(api, h.database, public_url=public, serve_port=port)
    workers = InboxWorkers(2, timedelta(seconds=30), poll=0.05, publishes_boot=True)
    h.server = WebhookServer(Listener("127.0.0.1", port), workers, h.settings.webhook_secret_token(), public)
    try:
        h.bot = h._bot(h.server, schedules=True)
        await h.bot.start()
        yield h
    finally:
        await h.stop()
        await api.stop()


async def test_serve_serves_the_form_next_to_the_webhooks_and_a_worker_process_links_to_it(tmp_path: Path) -> None:
    async with serving_with_form(tmp_path) as h:
        worker = await h.add_worker("work-1")  # a `fieldbot work` process: no listener, the same links
        assert worker.listener is None
        user = await h.register(STAFF)
        await to_followup_label(user)
        before = h.api.seq
        status, page = await submit(user.open_web_app(FORM), LABEL)
        assert status == 200 and t("form.done") in page
        assert (await receipt(h, user, before)).startswith(t("flow.form.received"))
        status, page = await submit(user.open_web_app(FORM), REASON)
        assert status == 200 and t("form.done") in page
        await user.press("1週間")  # the next question, answered through the webhook
        assert user.last is not None and "✅ 相談入力を終える" in str(user.last.buttons)
        assert REASON not in everything_sent(h)
        assert await h.count("used_form_links") == 2


async def test_a_post_from_another_site_or_without_the_pages_token_stores_nothing(tmp_path: Path) -> None:
    async with with_form(tmp_path) as h:
        user = await h.register(STAFF)
        await to_followup_label(user)
        browser = Browser(user.open_web_app(FORM))
        async with aiohttp.ClientSession() as session:
            await browser.open(session)
            form = {"csrf": browser.csrf, "init_data": browser.init_data, "text": LABEL, "action": "submit"}
            for headers, fields in (
                ({"Origin": "https://elsewhere.example"}, form),  # another site's page posting here
                ({}, {**form, "csrf": "0" * 64}),  # not the token of the page this link opened
                ({}, {k: v for k, v in form.items() if k != "csrf"}),
            ):
                async with session.post(browser.url, data=fields, headers=headers) as response:
                    assert response.status == 403 and t("form.refused.forged") in await response.text()
            assert await h.count("used_form_links") == 0
            # A browser honouring the page's no-referrer policy names no origin ("null"): the token tells.
            async with session.post(browser.url, data=form, headers={"Origin": "null"}) as response:
                assert response.status == 200 and t("form.done") in await response.text()
        assert await h.count("used_form_links") == 1
