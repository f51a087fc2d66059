"""Mini App (web_app) inline buttons: where Telegram allows them, and the signed launch link a press opens."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo
from telegram.error import BadRequest

from core.webapp import InitDataError, check_init_data
from simulator.botapi import LocalBotApi, SimUser, launch_params
from simulator.protocol import JSONDict
from tests.simulator.helpers import USER_ID, bad

FORM = "🔒 フォームで入力"
FORM_URL = "https://forms.example.org/form?t=abc"
NOW = 1_796_461_200  # 2026-12-05 09:00 UTC


def form_button(url: str = FORM_URL, label: str = FORM) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, web_app=WebAppInfo(url))]])


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest.fixture
async def clocked() -> AsyncIterator[LocalBotApi]:
    """A server whose clock stands still at NOW."""
    async with LocalBotApi(now=lambda: NOW) as server:
        yield server


async def test_a_web_app_button_in_a_private_chat_is_sent_and_shown(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    sent = await bot.send_message(USER_ID, "記録を入力してください", reply_markup=form_button())
    assert sent.reply_markup == form_button()
    last = user.last
    assert last is not None and last.message_id == sent.message_id
    assert last.buttons == [[FORM]] and last.web_app_urls == [[FORM_URL]]
    assert last.callback_data == [[None]] and last.button_urls == [[None]]
    # Loopback http is accepted too (a deliberate deviation: the tests and the demo serve the page locally).
    for local in ("http://127.0.0.1:8080/form", "http://[::1]:8080/form", "http://localhost/form"):
        await bot.edit_message_reply_markup(USER_ID, sent.message_id, reply_markup=form_button(local))
        assert user.last is not None and user.last.web_app_urls == [[local]]
    # Mixed with callback buttons in one keyboard.
    mixed = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("保存", callback_data="save")],
            [InlineKeyboardButton(FORM, web_app=WebAppInfo(FORM_URL))],
        ]
    )
    await bot.send_message(USER_ID, "または", reply_markup=mixed)
    assert user.last is not None and user.last.web_app_urls == [[None], [FORM_URL]]


async def test_a_web_app_button_is_refused_outside_private_chats(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    group = api.group(-1001, "西地区")
    with pytest.raises(BadRequest, match=bad("BUTTON_TYPE_INVALID")):
        await bot.send_message(group.id, "記録を入力", reply_markup=form_button())
    sent = await bot.send_message(group.id, "記録を入力")
    with pytest.raises(BadRequest, match=bad("BUTTON_TYPE_INVALID")):
        await bot.edit_message_text("記録を入力してください", group.id, sent.message_id, reply_markup=form_button())
    with pytest.raises(BadRequest, match=bad("BUTTON_TYPE_INVALID")):
        await bot.edit_message_reply_markup(group.id, sent.message_id, reply_markup=form_button())
    assert group.messages[-1].inline_markup is None


async def test_a_web_app_url_must_be_https_or_loopback_http(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    refused = (
        "http://forms.example.org/form",
        "http://127.0.0.1.example.org/form",
        "http://10.0.0.1/form",
        "ftp://127.0.0.1/form",
        "tg://resolve?domain=x",
        "javascript:alert(1)",
        "https://",
        "form",
    )
    for url in refused:
        with pytest.raises(BadRequest, match=bad("BUTTON_URL_INVALID")):
            await bot.send_message(USER_ID, "記録", reply_markup=form_button(url))
    assert user.messages == []


async def send_raw(api: LocalBotApi, markup: JSONDict) -> str:
    """sendMessage with a keyboard PTB would not build; Telegram's description of the refusal."""
    url = f"{api.base_url}{api.token}/sendMessage"
    async with httpx.AsyncClient() as client:
        answer = (await client.post(url, json={"chat_id": USER_ID, "text": "記録", "reply_markup": markup})).json()
    assert answer["ok"] is False and answer["error_code"] == 400
    return str(answer["description"])


async def test_a_button_with_two_actions_or_a_malformed_web_app_is_refused(api: LocalBotApi, user: SimUser) -> None:
    both = {"inline_keyboard": [[{"text": FORM, "web_app": {"url": FORM_URL}, "callback_data": "form"}]]}
    assert "more than one action (callback_data, web_app)" in await send_raw(api, both)
    for web_app in ("https://forms.example.org/", {}, {"url": 3}, None):
        described = await send_raw(api, {"inline_keyboard": [[{"text": FORM, "web_app": web_app}]]})
        assert described.startswith("Bad Request: can't parse inline keyboard button") and "web_app" in described
    assert user.messages == []


async def test_opening_a_web_app_gives_the_url_with_init_data_the_bot_accepts(clocked: LocalBotApi) -> None:
    api = clocked
    user = api.user(USER_ID, "花子", "山田", username="hanako")
    async with Bot(api.token, base_url=api.base_url) as bot:
        await bot.send_message(USER_ID, "記録を入力してください", reply_markup=form_button())
        opened = user.open_web_app("フォーム")  # a unique partial label, as with press()
        prefix = FORM_URL + "#tgWebAppData="
        assert opened.startswith(prefix) and opened.endswith("&tgWebAppVersion=8.0&tgWebAppPlatform=unknown")
        params = launch_params(opened)
        assert params["tgWebAppVersion"] == "8.0" and params["tgWebAppPlatform"] == "unknown"
        init_data = params["tgWebAppData"]
        fields = dict(parse_qsl(init_data))
        assert set(fields) == {"query_id", "user", "auth_date", "hash"}
        assert fields["auth_date"] == str(NOW) and fields["query_id"]
        assert json.loads(fields["user"]) == {
            "id": USER_ID,
            "first_name": "花子",
            "last_name": "山田",
            "username": "hanako",
            "language_code": "ja",
        }

        launch = check_init_data(api.token, init_data, at(NOW) + timedelta(minutes=1))
        assert launch.user_id == USER_ID and launch.auth_date == at(NOW) and launch.query_id == fields["query_id"]
        with pytest.raises(InitDataError):  # signed for this bot only
            check_init_data("999:" + "B" * 35, init_data, at(NOW))

        # Pressing a web_app button sends the bot nothing.
        assert await bot.get_updates() == () and api.pending_updates == []


async def test_init_data_with_one_character_of_the_hash_changed_is_refused(
    api: LocalBotApi, bot: Bot, user: SimUser
) -> None:
    await bot.send_message(USER_ID, "記録を入力してください", reply_markup=form_button())
    init_data = user.web_app_init_data(FORM)
    fields = dict(parse_qsl(init_data))
    now = at(int(fields["auth_date"]))
    assert check_init_data(api.token, init_data, now).user_id == USER_ID
    for position in (0, 31, 63):
        digit = fields["hash"][position]
        changed = fields["hash"][:position] + ("0" if digit != "0" else "1") + fields["hash"][position + 1 :]
        with pytest.raises(InitDataError) as refused:
            check_init_data(api.token, urlencode({**fields, "hash": changed}), now)
        assert refused.value.reason == "forged"


async def test_auth_date_and_query_id_of_each_launch(clocked: LocalBotApi) -> None:
    api = clocked
    user = api.user(USER_ID, "花子")
    async with Bot(api.token, base_url=api.base_url) as bot:
        sent = await bot.send_message(USER_ID, "記録を入力してください", reply_markup=form_button())
        earlier = NOW - 11 * 60
        old = user.web_app_init_data(FORM, message_id=sent.message_id, auth_date=earlier)
        assert dict(parse_qsl(old))["auth_date"] == str(earlier)
        with pytest.raises(InitDataError) as refused:  # older than the bot's ten minutes
            check_init_data(api.token, old, at(NOW))
        assert refused.value.reason == "expired"
        first, second = (dict(parse_qsl(user.web_app_init_data(FORM))) for _ in range(2))
        assert first["query_id"] != second["query_id"]
        assert json.loads(first["user"]) == {"id": USER_ID, "first_name": "花子", "language_code": "ja"}


async def test_press_refuses_a_web_app_button_and_open_web_app_a_callback_button(bot: Bot, user: SimUser) -> None:
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton("保存", callback_data="save"), InlineKeyboardButton(FORM, web_app=WebAppInfo(FORM_URL))]]
    )
    sent = await bot.send_message(USER_ID, "記録", reply_markup=markup)
    with pytest.raises(AssertionError, match=r"is a web_app \(Mini App\) button.*open_web_app"):
        await user.press(FORM, wait=False)
    with pytest.raises(AssertionError, match=r"not a web_app \(Mini App\) button: it is a callback_data button"):
        user.open_web_app("保存")
    with pytest.raises(AssertionError, match="no inline button"):
        user.open_web_app("地図")
    await bot.delete_message(USER_ID, sent.message_id)
    with pytest.raises(AssertionError, match=f"no live message {sent.message_id}"):
        user.open_web_app(FORM, message_id=sent.message_id)
    assert await bot.get_updates() == ()
