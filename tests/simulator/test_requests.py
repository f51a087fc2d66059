"""Requests: the bot's token, method names, how parameters arrive, and what the simulator refuses to fake."""

from __future__ import annotations

import json

import httpx
import pytest
from telegram import Bot, ForceReply, ReplyKeyboardRemove, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, EndPointNotFound, InvalidToken

from simulator.botapi import LocalBotApi, SimUser
from tests.simulator.helpers import USER_ID, bad


async def test_get_me_describes_the_bot(api: LocalBotApi, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username, me.first_name) == (123456789, True, "fieldbot_test_bot", "fieldbot")
    assert api.calls[0][0] == "getMe"


async def test_a_wrong_or_malformed_token_is_invalid(api: LocalBotApi) -> None:
    for token in ("123456789:wrong-token", "not-a-token"):
        intruder = Bot(token, base_url=api.base_url)
        try:
            with pytest.raises(InvalidToken, match="rejected by the server"):
                await intruder.initialize()
        finally:
            await intruder.shutdown()
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{api.base_url}999:nope/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_an_unknown_method_is_404(api: LocalBotApi, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("frobnicate")
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{api.base_url}{api.token}/frobnicate")
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


@pytest.mark.parametrize("method", ["getChat", "copyMessage", "forwardMessage", "sendChatAction", "sendPoll"])
async def test_methods_fieldbot_never_calls_are_404_and_cannot_be_faulted(api: LocalBotApi, method: str) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{api.base_url}{api.token}/{method}", json={"chat_id": USER_ID})
    assert response.status_code == 404
    assert api.calls_to(method) == [{"chat_id": USER_ID}]  # still recorded, so a test can see it was tried
    with pytest.raises(ValueError, match="unknown Bot API method"):
        api.inject(method)


async def test_parameters_come_from_json_bodies_query_strings_and_forms(api: LocalBotApi, user: SimUser) -> None:
    url = f"{api.base_url}{api.token}/sendMessage"
    markup = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}
    async with httpx.AsyncClient() as client:
        by_json = await client.post(url, json={"chat_id": USER_ID, "text": "json", "reply_markup": markup})
        by_query = await client.get(url, params={"chat_id": str(USER_ID), "text": "123"})
        by_form = await client.post(
            url, data={"chat_id": str(USER_ID), "text": "form", "reply_markup": json.dumps(markup)}
        )
    assert [r.json()["ok"] for r in (by_json, by_query, by_form)] == [True, True, True]
    assert [m.text for m in user.messages] == ["json", "123", "form"]
    assert user.messages[0].buttons == [["OK"]] and user.messages[2].callback_data == [["ok"]]
    assert api.calls_to("sendMessage")[1] == {"chat_id": USER_ID, "text": "123"}
    assert by_json.json()["result"]["reply_markup"] == markup


async def test_formatted_text_is_refused_not_sent_raw(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    sent = await bot.send_message(USER_ID, "確認")
    with pytest.raises(BadRequest, match=bad("parse_mode is not supported by the simulator")):
        await bot.send_message(USER_ID, "<b>出向き</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=bad("parse_mode is not supported by the simulator")):
        await bot.edit_message_text(r"*確認*", USER_ID, sent.message_id, parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match=bad("parse_mode is not supported by the simulator")):
        await bot.send_document(USER_ID, b"x", filename="a.txt", caption="<b>集計</b>", parse_mode=ParseMode.HTML)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{api.base_url}{api.token}/sendMessage",
            json={"chat_id": USER_ID, "text": "太字", "entities": [{"type": "bold", "offset": 0, "length": 2}]},
        )
    assert response.status_code == 400
    assert response.json()["description"] == "Bad Request: entities is not supported by the simulator"
    assert [m.text for m in user.messages] == ["確認"] and not user.messages[0].edited


async def test_replies_threads_and_other_reply_markups_are_refused(bot: Bot, user: SimUser) -> None:
    sent = await bot.send_message(USER_ID, "最初")
    with pytest.raises(BadRequest, match=bad("reply_parameters is not supported by the simulator")):
        await bot.send_message(USER_ID, "返信", reply_parameters=ReplyParameters(sent.message_id))
    with pytest.raises(BadRequest, match=bad("message_thread_id is not supported by the simulator")):
        await bot.send_message(USER_ID, "話題", message_thread_id=7)
    with pytest.raises(BadRequest, match=bad("force_reply is not supported by the simulator")):
        await bot.send_message(USER_ID, "メモを入力してください", reply_markup=ForceReply())
    with pytest.raises(BadRequest, match=bad("remove_keyboard is not supported by the simulator")):
        await bot.send_message(USER_ID, "閉じました", reply_markup=ReplyKeyboardRemove())
    assert [m.text for m in user.messages] == ["最初"]
