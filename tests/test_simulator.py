"""The embedded local Bot API server, exercised through a real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    ChatMemberAdministrator,
    ChatMemberMember,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from simulator.botapi import ApiError, LocalBotApi, SimUser, parse_html, parse_markdown_v2, png_bytes

USER_ID = 1001


def bad(description: str) -> str:
    """A pattern for a BadRequest: PTB drops "Bad Request: " and capitalize()s the rest, lowercasing it."""
    return "(?i)" + re.escape(description)


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in rows])


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    async with LocalBotApi() as server:
        yield server


@pytest.fixture
async def bot(api: LocalBotApi) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url, base_file_url=api.base_file_url) as client:
        yield client


@pytest.fixture
def user(api: LocalBotApi) -> SimUser:
    return api.user(USER_ID, "花子", "山田", username="hanako")


# ---------------------------------------------------------------------------------------------- basics


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


# ---------------------------------------------------------------------------------------------- sending


async def test_a_message_with_an_inline_keyboard_is_read_back(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    sent = await bot.send_message(
        USER_ID,
        "<b>出向き</b>を記録しますか？ 🙂 <i>today</i>",
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard([("はい", "yes"), ("いいえ", "no")], [("あとで", "later")]),
        disable_notification=True,
    )
    assert sent.text == "出向きを記録しますか？ 🙂 today"
    assert sent.chat.id == USER_ID and sent.from_user is not None and sent.from_user.id == bot.id
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 3), ("italic", 15, 5)]
    assert sent.text_html == "<b>出向き</b>を記録しますか？ 🙂 <i>today</i>"
    assert sent.reply_markup == keyboard([("はい", "yes"), ("いいえ", "no")], [("あとで", "later")])
    last = user.last
    assert last is not None and last.message_id == sent.message_id
    assert last.text == sent.text and (last.raw_text or "").startswith("<b>") and last.parse_mode == "HTML"
    assert last.buttons == [["はい", "いいえ"], ["あとで"]]
    assert last.callback_data == [["yes", "no"], ["later"]]
    assert last.disable_notification and not last.edited
    second = await bot.send_message(USER_ID, "next", reply_parameters=ReplyParameters(sent.message_id))
    assert second.message_id == sent.message_id + 1
    assert second.reply_to_message is not None and second.reply_to_message.message_id == sent.message_id
    assert [e[:3] for e in api.events if e.kind == "send"] == [
        ("send", USER_ID, sent.message_id),
        ("send", USER_ID, second.message_id),
    ]


async def test_reply_keyboards_are_shown_and_removed(bot: Bot, user: SimUser) -> None:
    await bot.send_message(
        USER_ID, "メニュー", reply_markup=ReplyKeyboardMarkup([[KeyboardButton("出向き記録"), "相談記録"], ["ヘルプ"]])
    )
    assert user.keyboard == [["出向き記録", "相談記録"], ["ヘルプ"]]
    assert user.last is not None and user.last.reply_keyboard == user.keyboard and user.last.buttons == []
    await bot.send_message(USER_ID, "メモを入力してください", reply_markup=ForceReply())
    assert user.last is not None and user.last.force_reply and user.keyboard is not None
    await bot.send_message(USER_ID, "閉じました", reply_markup=ReplyKeyboardRemove())
    assert user.keyboard is None


async def test_markup_errors_are_reported_like_telegram(bot: Bot, user: SimUser) -> None:
    with pytest.raises(BadRequest, match=bad('can\'t parse entities: Unsupported start tag "3" at byte offset 2')):
        await bot.send_message(USER_ID, "I <3 <b>you</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=bad("Character '.' is reserved")):
        await bot.send_message(USER_ID, "残り 3.5 件", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match=bad('Can\'t find end tag corresponding to start tag "b"')):
        await bot.send_message(USER_ID, "<b>bold", parse_mode=ParseMode.HTML)
    ok = await bot.send_message(USER_ID, r"*太字* と \#タグ と __下線__", parse_mode=ParseMode.MARKDOWN_V2)
    assert ok.text == "太字 と #タグ と 下線"
    assert [(e.type, e.offset, e.length) for e in ok.entities] == [("bold", 0, 2), ("underline", 11, 2)]
    assert user.messages == [user.last]


async def test_text_validation(bot: Bot, user: SimUser) -> None:
    with pytest.raises(BadRequest, match=bad("message text is empty")):
        await bot.send_message(USER_ID, "   \n ")
    with pytest.raises(BadRequest, match=bad("message text is empty")):
        await bot.send_message(USER_ID, "<b> </b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=bad("message is too long")):
        await bot.send_message(USER_ID, "あ" * 4097)
    long_markup = "<b>" + "あ" * 4096 + "</b>"  # over 4096 as sent, exactly 4096 after parsing
    assert len((await bot.send_message(USER_ID, long_markup, parse_mode=ParseMode.HTML)).text or "") == 4096
    with pytest.raises(BadRequest, match=bad("message caption is too long")):
        await bot.send_document(USER_ID, b"x", filename="a.txt", caption="c" * 1025)
    with pytest.raises(BadRequest, match=bad("chat not found")):
        await bot.send_message(424242, "who?")
    assert len(user.messages) == 1


async def test_callback_data_longer_than_64_bytes_is_rejected(bot: Bot, user: SimUser) -> None:
    with pytest.raises(BadRequest, match=bad("BUTTON_DATA_INVALID")):
        await bot.send_message(USER_ID, "選択", reply_markup=keyboard([("長い", "あ" * 22)]))  # 66 bytes
    await bot.send_message(USER_ID, "選択", reply_markup=keyboard([("ちょうど", "a" * 64)]))
    assert user.last is not None and user.last.callback_data == [["a" * 64]]


async def test_a_blocked_user_makes_sending_forbidden(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    user.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER_ID, "hello?")
    updates = await bot.get_updates()
    assert updates[0].my_chat_member is not None
    assert updates[0].my_chat_member.new_chat_member.status == "kicked"
    user.unblock(notify=False)
    await bot.send_message(USER_ID, "hello again")


# ---------------------------------------------------------------------------------------------- editing


async def test_editing_follows_telegram_rules(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    sent = await bot.send_message(USER_ID, "確認", reply_markup=keyboard([("保存", "save")]))
    with pytest.raises(
        BadRequest, match=bad("message is not modified: specified new message content and reply markup")
    ):
        await bot.edit_message_text("確認", USER_ID, sent.message_id, reply_markup=keyboard([("保存", "save")]))
    with pytest.raises(BadRequest, match=bad("message is not modified")):
        await bot.edit_message_reply_markup(USER_ID, sent.message_id, reply_markup=keyboard([("保存", "save")]))
    edited = await bot.edit_message_text("確認", USER_ID, sent.message_id)  # no markup: the keyboard goes away
    assert isinstance(edited, type(sent)) and edited.edit_date is not None
    assert user.last is not None and user.last.edited and user.last.buttons == []
    await bot.edit_message_reply_markup(USER_ID, sent.message_id, reply_markup=keyboard([("戻す", "undo")]))
    assert user.last.buttons == [["戻す"]]
    with pytest.raises(BadRequest, match=bad("message to edit not found")):
        await bot.edit_message_text("x", USER_ID, 999)
    assert await bot.delete_message(USER_ID, sent.message_id)
    assert user.messages == []
    with pytest.raises(BadRequest, match=bad("message to delete not found")):
        await bot.delete_message(USER_ID, sent.message_id)
    with pytest.raises(BadRequest, match=bad("message to edit not found")):
        await bot.edit_message_text("x", USER_ID, sent.message_id)
    assert [e.kind for e in api.events if e.kind in ("send", "edit", "delete")] == ["send", "edit", "edit", "delete"]


async def test_the_bot_cannot_edit_what_a_user_wrote(bot: Bot, user: SimUser) -> None:
    await user.send("メモです", wait=False)
    [update] = await bot.get_updates()
    assert update.message is not None
    with pytest.raises(BadRequest, match=bad("message can't be edited")):
        await bot.edit_message_text("改ざん", USER_ID, update.message.message_id)


# ---------------------------------------------------------------------------------------------- files


async def test_a_document_upload_is_stored_and_downloadable(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    content = "地区,件数\n西,3\n".encode()
    sent = await bot.send_document(USER_ID, content, filename="tally.csv", caption="<b>集計</b>", parse_mode="HTML")
    assert sent.document is not None and sent.document.file_name == "tally.csv"
    assert sent.caption == "集計" and sent.caption_entities[0].type == "bold"
    document = user.last.document if user.last else None
    assert document is not None
    assert (document.filename, document.content, document.mime_type) == ("tally.csv", content, "text/csv")
    file = await bot.get_file(sent.document.file_id)
    assert file.file_path is not None and file.file_path.startswith(api.base_file_url)
    assert bytes(await file.download_as_bytearray()) == content
    assert api.calls[-1] == (
        "download",
        {"file_path": file.file_path.removeprefix(api.base_file_url + api.token + "/")},
    )
    again = await bot.send_document(USER_ID, sent.document.file_id)
    assert again.document is not None and again.document.file_unique_id == sent.document.file_unique_id
    with pytest.raises(BadRequest, match=bad("wrong file identifier")):
        await bot.send_document(USER_ID, "BQACAgUAAxkBAAI-no-such-file")
    with pytest.raises(BadRequest, match=bad("file must be non-empty")):
        await bot.send_document(USER_ID, b"", filename="empty.txt")


async def test_a_photo_upload_returns_sizes(bot: Bot, user: SimUser) -> None:
    image = png_bytes(1000, 500)
    sent = await bot.send_photo(USER_ID, image, caption="現場")
    assert [(p.width, p.height) for p in sent.photo] == [(90, 45), (320, 160), (800, 400), (1000, 500)]
    assert user.last is not None and user.last.photo == image and user.last.text == "現場"
    file = await sent.photo[-1].get_file()
    assert bytes(await file.download_as_bytearray()) == image
    resent = await bot.send_photo(USER_ID, sent.photo[0].file_id)
    assert len(resent.photo) == 4
    with pytest.raises(BadRequest, match=bad("IMAGE_PROCESS_FAILED")):
        await bot.send_photo(USER_ID, b"not an image")
    with pytest.raises(BadRequest, match=bad("type of file mismatch")):
        await bot.send_document(USER_ID, sent.photo[-1].file_id)


async def test_files_sent_by_users_can_be_downloaded(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    await user.send_document("memo.txt", b"hello", wait=False)
    await user.send_photo(png_bytes(10, 10), caption="写真", wait=False)
    first, second = await bot.get_updates()
    assert first.message is not None and first.message.document is not None
    assert first.message.document.mime_type == "text/plain"
    assert bytes(await (await first.message.document.get_file()).download_as_bytearray()) == b"hello"
    assert second.message is not None and second.message.caption == "写真"
    assert second.message.photo[-1].width == 10


# ---------------------------------------------------------------------------------------------- polling


async def test_long_polling_wakes_up_on_a_new_update(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await api.wait_for(lambda: api.polls_waiting == 1, what="the poll to be held open")
    update_id = await user.send("こんにちは", wait=False)
    updates = await asyncio.wait_for(poll, 10)
    assert [(u.update_id, u.message.text if u.message else None) for u in updates] == [(update_id, "こんにちは")]
    message = updates[0].message
    assert message is not None and message.from_user is not None and message.from_user.is_bot is False
    assert message.from_user.language_code == "ja" and message.chat.type == "private" and message.chat.id == USER_ID


async def test_offsets_confirm_updates_and_unconfirmed_ones_are_redelivered(
    api: LocalBotApi, bot: Bot, user: SimUser
) -> None:
    ids = [await user.send(f"m{i}", wait=False) for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [u.update_id for u in await bot.get_updates()] == ids
    # A new client (the bot after a restart) that confirmed nothing gets the same updates again.
    async with Bot(api.token, base_url=api.base_url) as restarted:
        assert [u.update_id for u in await restarted.get_updates(offset=ids[0])] == ids
        assert [u.update_id for u in await restarted.get_updates(offset=ids[2])] == ids[2:]
    assert api.deliveries(ids[0]) == 2 and api.deliveries(ids[2]) == 3
    # Confirmed updates are gone forever, even for a client that asks from the start.
    assert [u.update_id for u in await bot.get_updates()] == ids[2:]
    assert await bot.get_updates(offset=ids[2] + 1) == ()
    assert api.pending_updates == []


async def test_allowed_updates_filter_and_are_remembered(bot: Bot, user: SimUser) -> None:
    sent = await bot.send_message(USER_ID, "押してください", reply_markup=keyboard([("押す", "p")]))
    await user.send("text", wait=False)
    await user.press("押す", wait=False)
    only_callbacks = await bot.get_updates(allowed_updates=[Update.CALLBACK_QUERY])
    assert [u.callback_query.data for u in only_callbacks if u.callback_query] == ["p"]
    assert len(only_callbacks) == 1
    callback = only_callbacks[0].callback_query
    assert callback is not None and callback.message is not None and callback.message.message_id == sent.message_id
    assert len(await bot.get_updates()) == 1  # the previous allowed_updates still apply
    assert len(await bot.get_updates(allowed_updates=[])) == 2  # back to the default: everything


async def test_a_second_poller_terminates_the_first_with_conflict(api: LocalBotApi, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await api.wait_for(lambda: api.polls_waiting == 1)
    async with Bot(api.token, base_url=api.base_url) as other:
        assert await other.get_updates() == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 10)


async def test_delete_webhook_can_drop_pending_updates(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    await user.send("old", wait=False)
    assert await bot.set_webhook("https://example.org/hook")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert (await bot.get_webhook_info()).pending_update_count == 1
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


# ---------------------------------------------------------------------------------------------- faults


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_429_raises_retry_after(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    fault = api.inject("sendMessage", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER_ID, "hi")
    assert str(caught.value) == "Flood control exceeded. Retry in 7 seconds"
    assert user.messages == [] and fault.hits == 1
    await bot.send_message(USER_ID, "hi")
    assert api.count("sendMessage") == 2 and len(user.messages) == 1


async def test_500_and_502_raise_network_errors(
    api: LocalBotApi, bot: Bot, user: SimUser, caplog: pytest.LogCaptureFixture
) -> None:
    api.inject("sendMessage", status=500)
    with pytest.raises(NetworkError, match="Internal Server Error") as internal:
        await bot.send_message(USER_ID, "a")
    assert not isinstance(internal.value, BadRequest | TimedOut)
    api.inject("sendMessage", status=502)
    with (
        caplog.at_level(logging.CRITICAL, logger="telegram"),
        pytest.raises(NetworkError, match=r"Bad Gateway \(502\)"),
    ):
        await bot.send_message(USER_ID, "b")
    assert user.messages == []
    await bot.send_message(USER_ID, "c")
    assert [m.text for m in user.messages] == ["c"]


async def test_a_dropped_connection_is_a_network_error(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    api.inject("sendMessage", drop=True, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match=r"RemoteProtocolError|ReadError"):
            await bot.send_message(USER_ID, "lost")
    assert user.messages == []
    await bot.send_message(USER_ID, "delivered")
    assert [m.text for m in user.messages] == ["delivered"]


async def test_after_effect_sends_but_loses_the_answer(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    api.inject("sendMessage", status=502, after_effect=True)
    with pytest.raises(NetworkError):
        await bot.send_message(USER_ID, "sent anyway")
    api.inject("sendMessage", drop=True, after_effect=True)
    with pytest.raises(NetworkError):
        await bot.send_message(USER_ID, "sent too")
    assert [m.text for m in user.messages] == ["sent anyway", "sent too"]


async def test_a_slow_answer_times_out_after_the_effect(api: LocalBotApi, user: SimUser) -> None:
    api.inject("sendMessage", status=200, delay=60, after_effect=True)
    request = HTTPXRequest(read_timeout=0.2)
    async with Bot(api.token, base_url=api.base_url, request=request) as impatient:
        with pytest.raises(TimedOut):
            await impatient.send_message(USER_ID, "slow")
    assert [m.text for m in user.messages] == ["slow"]


async def test_clear_faults_and_unknown_methods(api: LocalBotApi, bot: Bot) -> None:
    api.inject("getMe", times=-1)
    for _ in range(3):
        with pytest.raises(NetworkError):
            await bot.get_me()
    api.clear_faults()
    assert (await bot.get_me()).username == "fieldbot_test_bot"
    with pytest.raises(ValueError, match="unknown Bot API method"):
        api.inject("sendMesage")


# ---------------------------------------------------------------------------------------------- callbacks


async def test_callback_answers_are_checked(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    await bot.send_message(USER_ID, "?", reply_markup=keyboard([("A", "a")]))
    await user.press("A", wait=False)
    [update] = await bot.get_updates()
    query = update.callback_query
    assert query is not None and query.from_user.id == USER_ID and query.data == "a"
    assert await query.answer("了解", show_alert=True)
    assert user.answers[-1].text == "了解" and user.answers[-1].show_alert
    with pytest.raises(BadRequest, match=bad("query is too old and response timeout expired or query ID is invalid")):
        await query.answer()
    with pytest.raises(BadRequest, match=bad("query is too old")):
        await bot.answer_callback_query("12345")
    await user.press_data(user.messages[0].message_id, "forged", wait=False)
    api.expire_callback_queries()
    [forged] = await bot.get_updates(offset=update.update_id + 1)
    assert forged.callback_query is not None and forged.callback_query.data == "forged"
    with pytest.raises(BadRequest, match=bad("query is too old")):
        await forged.callback_query.answer()


async def test_press_finds_buttons_by_label(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    await bot.send_message(USER_ID, "old", reply_markup=keyboard([("西地区", "area:w")]))
    await bot.send_message(USER_ID, "new", reply_markup=keyboard([("東地区", "area:e"), ("北地区", "area:n")]))
    await user.press("西地区", wait=False)  # an older message still has it
    await user.press("東", wait=False)  # a unique partial match
    with pytest.raises(AssertionError, match="ambiguous"):
        await user.press("地区", wait=False)
    with pytest.raises(AssertionError, match=r"no inline button '南地区'.*東地区"):
        await user.press("南地区", wait=False)
    assert [u.callback_query.data for u in await bot.get_updates() if u.callback_query] == ["area:w", "area:e"]


# ---------------------------------------------------------------------------------------------- chats


async def test_group_chats_have_negative_ids_and_members(api: LocalBotApi, bot: Bot) -> None:
    group = api.group(-1001234567890, "西地区 担当")
    boss = api.user(2002, "課長")
    staff = api.user(2003, "職員")
    group.add(boss, status="administrator").add(staff)
    await staff.send("/report@fieldbot_test_bot 今週", chat=group, wait=False)
    [update] = await bot.get_updates()
    message = update.message
    assert message is not None and message.chat.id == -1001234567890 and message.chat.type == "supergroup"
    assert message.chat.title == "西地区 担当" and message.entities[0].type == "bot_command"
    assert message.entities[0].length == len("/report@fieldbot_test_bot")
    await bot.send_message(group.id, "集計です")
    assert group.last is not None and group.last.text == "集計です" and staff.messages == []
    assert isinstance(await bot.get_chat_member(group.id, boss.id), ChatMemberAdministrator)
    assert isinstance(await bot.get_chat_member(group.id, staff.id), ChatMemberMember)
    assert (await bot.get_chat_member(group.id, bot.id)).status == "member"
    chat = await bot.get_chat(group.id)
    assert chat.title == "西地区 担当" and chat.type == "supergroup"
    assert api.group(-4242, "小グループ").type == "group"
    group.bot_status = "kicked"
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(group.id, "still here?")


async def test_commands_and_menu_button_are_stored_per_scope(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    await bot.set_my_commands([BotCommand("visit", "出向き記録"), BotCommand("help", "ヘルプ")])
    await bot.set_my_commands([BotCommand("staff", "職員一覧")], scope=BotCommandScopeChat(USER_ID))
    await bot.set_my_commands([BotCommand("visit", "Record an outing")], language_code="en")
    assert [c.command for c in await bot.get_my_commands()] == ["visit", "help"]
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(USER_ID))] == ["staff"]
    assert api.commands(language_code="en") == [{"command": "visit", "description": "Record an outing"}]
    with pytest.raises(BadRequest, match=bad("BOT_COMMAND_INVALID")):
        await bot.set_my_commands([BotCommand("Visit-Now", "x")])
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    assert await bot.set_chat_menu_button()
    assert (await bot.get_chat_menu_button()).type == "commands"
    assert await bot.send_chat_action(USER_ID, "typing")
    assert api.events[-1][:2] == ("action", USER_ID)


# ---------------------------------------------------------------------------------------------- simulated users


async def test_user_helpers_produce_realistic_updates(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    await user.send_location(35.70, 139.57, wait=False)
    await user.send_contact("+81-90-0000-0000", wait=False)
    await user.send_sticker(wait=False)
    await user.forward("転送された文", sender_name="匿名さん", wait=False)
    update_id = await user.send("誤字あり", wait=False)
    written = user.chat.history[-1].message_id
    await user.edit(written, "誤字なし", wait=False)
    await user.send_update(
        {"message": {"venue": {"location": {"latitude": 1.0, "longitude": 2.0}, "title": "公民館", "address": "1-1"}}},
        wait=False,
    )
    updates = await bot.get_updates()
    assert updates[0].message is not None and updates[0].message.location is not None
    assert updates[0].message.location.latitude == pytest.approx(35.70)
    assert updates[1].message is not None and updates[1].message.contact is not None
    assert updates[1].message.contact.user_id == USER_ID
    assert updates[2].message is not None and updates[2].message.sticker is not None
    forwarded = updates[3].message
    assert forwarded is not None and forwarded.forward_origin is not None
    assert forwarded.forward_origin.type == "hidden_user"
    assert updates[4].update_id == update_id
    edited = updates[5].edited_message
    assert edited is not None and edited.text == "誤字なし" and edited.message_id == written
    venue = updates[6].message
    assert venue is not None and venue.venue is not None and venue.venue.title == "公民館"
    assert venue.message_id == written + 1 and venue.date.year >= 2024


async def test_send_waits_for_the_bot_to_react_and_wait_message_counts(
    api: LocalBotApi, bot: Bot, user: SimUser
) -> None:
    async def fake_bot() -> None:
        offset = 0
        while True:
            for update in await bot.get_updates(offset=offset, timeout=10):
                offset = update.update_id + 1
                await bot.send_chat_action(USER_ID, "typing")
                await bot.send_message(USER_ID, "1")
                await bot.send_message(USER_ID, "2")

    task = asyncio.create_task(fake_bot())
    try:
        await user.send("go")  # returns once the bot's first message arrived
        assert user.messages[0].text == "1"
        replies = await user.wait_message(2)
        assert [m.text for m in replies] == ["1", "2"]
        await user.send("again", wait=False)
        assert [m.text for m in await user.wait_message(2)] == ["1", "2"]
        assert len(user.messages) == 4
    finally:
        task.cancel()


async def test_update_waiter_replaces_the_default_wait(api: LocalBotApi, user: SimUser) -> None:
    seen: list[int] = []

    async def waiter(update_id: int) -> None:
        seen.append(update_id)

    api.update_waiter = waiter
    update_id = await user.send("/start")
    assert seen == [update_id]


async def test_wait_for_explains_a_timeout(api: LocalBotApi, user: SimUser) -> None:
    await user.send("nobody listens", wait=False)
    with pytest.raises(AssertionError, match=r"(?s)Timed out.*Recent events.*getUpdates was never called"):
        await api.wait_for(lambda: False, timeout=0.05, what="nothing")


async def test_the_server_can_go_away_and_come_back(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    port = api.port
    await api.stop()
    with pytest.raises(NetworkError):
        await bot.send_message(USER_ID, "outage")
    await api.start(port=port)
    for _ in range(2):  # a pooled keep-alive connection may be dead once
        try:
            await bot.send_message(USER_ID, "back")
            break
        except NetworkError:
            continue
    assert [m.text for m in user.messages] == ["back"]


# ---------------------------------------------------------------------------------------------- PTB Application


async def test_a_ptb_application_answers_start_and_a_button_press(api: LocalBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            "ようこそ。何を記録しますか？", reply_markup=keyboard([("出向き", "visit"), ("相談", "consult")])
        )

    async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer(f"{query.data} を開始します")
        await query.edit_message_text(f"<b>{query.data}</b> を記録中", parse_mode=ParseMode.HTML)

    app = ApplicationBuilder().token(api.token).base_url(api.base_url).base_file_url(api.base_file_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(button))
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=1))
    try:
        hanako = api.user(USER_ID, "花子")
        await hanako.send("/start")
        assert hanako.last is not None and hanako.last.text == "ようこそ。何を記録しますか？"
        assert hanako.last.buttons == [["出向き", "相談"]]
        answer = await hanako.press("出向き")
        assert answer == "visit を開始します"
        await api.wait_for(lambda: hanako.last is not None and hanako.last.edited)
        assert hanako.last.text == "visit を記録中" and hanako.last.buttons == []
        await hanako.send("/start@fieldbot_test_bot")
        assert len(hanako.messages) == 2
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert api.pending_updates == []  # the updater confirmed everything on the way out


# ---------------------------------------------------------------------------------------------- parsers


def test_html_parsing_matches_telegram() -> None:
    assert parse_html("a &lt;b&gt; &amp; &quot;q&quot; &#x41;&#66; &unknown;") == ('a <b> & "q" AB &unknown;', [])
    text, entities = parse_html('<a href="https://example.org/x?a=1&amp;b=2">link</a> 👍<code>x</code>')
    assert text == "link 👍x"
    assert entities == [
        {"type": "text_link", "offset": 0, "length": 4, "url": "https://example.org/x?a=1&b=2"},
        {"type": "code", "offset": 7, "length": 1},
    ]
    _, pre = parse_html('<pre><code class="language-python">print()</code></pre>')
    assert pre == [{"type": "pre", "offset": 0, "length": 7, "language": "python"}]
    _, spoiler = parse_html(
        '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler><blockquote expandable>q</blockquote>'
    )
    assert [e["type"] for e in spoiler] == ["spoiler", "spoiler", "expandable_blockquote"]


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("日本<p>", 'Unsupported start tag "p" at byte offset 6'),
    ],
)
def test_html_errors(markup: str, error: str) -> None:
    with pytest.raises(ApiError, match=re.escape(f"Bad Request: can't parse entities: {error}")):
        parse_html(markup)


def test_markdown_v2_parsing() -> None:
    text, entities = parse_markdown_v2("*b _bi_* ~s~ ||sp|| [link](https://t.me/x) `c\\`` ```py\ncode```")
    assert text == "b bi s sp link c` code"
    assert [(e["type"], e["offset"], e["length"]) for e in entities] == [
        ("bold", 0, 4),
        ("italic", 2, 2),
        ("strikethrough", 5, 1),
        ("spoiler", 7, 2),
        ("text_link", 10, 4),
        ("code", 15, 2),
        ("pre", 18, 4),
    ]
    with pytest.raises(ApiError, match="Can't find end of Bold entity at byte offset 0"):
        parse_markdown_v2("*open")
    quoted, quote = parse_markdown_v2(">line one\n>line two\nafter")
    assert quoted == "line one\nline two\nafter" and quote[0]["type"] == "blockquote"


async def test_chat_member_statuses_and_private_chats_parse_in_ptb(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    group = api.group(-555, "町内会")
    owner, muted, gone, banned = (api.user(3000 + i) for i in range(4))
    group.add(owner, status="creator").add(muted, status="restricted").add(gone, status="left").add(
        banned, status="kicked"
    )
    statuses = [(await bot.get_chat_member(group.id, u.id)).status for u in (owner, muted, gone, banned, user)]
    assert statuses == ["creator", "restricted", "left", "kicked", "left"]
    assert [m.user.id for m in await bot.get_chat_administrators(group.id)] == [owner.id]
    assert await bot.get_chat_member_count(group.id) == 3  # creator, restricted member and the bot
    private = await bot.get_chat(USER_ID)
    assert (private.type, private.first_name, private.last_name, private.username) == (
        "private",
        "花子",
        "山田",
        "hanako",
    )
    with pytest.raises(BadRequest, match=bad("user not found")):
        await bot.get_chat_member(group.id, 999999)


async def test_copy_and_forward_messages(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    supervisors = api.group(-1009999999999, "係長")
    await user.send_photo(png_bytes(20, 10), caption="現場の写真", wait=False)
    [update] = await bot.get_updates()
    assert update.message is not None
    copied = await bot.copy_message(supervisors.id, USER_ID, update.message.message_id, caption="花子さんから")
    assert supervisors.last is not None and supervisors.last.message_id == copied.message_id
    assert supervisors.last.text == "花子さんから" and supervisors.last.photo == png_bytes(20, 10)
    forwarded = await bot.forward_message(supervisors.id, USER_ID, update.message.message_id)
    assert forwarded.forward_origin is not None and forwarded.forward_origin.type == "user"
    assert forwarded.caption == "現場の写真"
    protected = await bot.send_message(USER_ID, "秘密", protect_content=True)
    with pytest.raises(BadRequest, match=bad("message has protected content and can't be forwarded")):
        await bot.forward_message(supervisors.id, USER_ID, protected.message_id)


async def test_a_raw_callback_query_can_be_answered(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    sent = await bot.send_message(USER_ID, "?", reply_markup=keyboard([("A", "a")]))
    message = user.chat.message(sent.message_id)
    assert message is not None
    await user.send_update({"callback_query": {"message": message.to_json(), "data": "x"}}, wait=False)
    [update] = await bot.get_updates()
    assert update.callback_query is not None and update.callback_query.data == "x"
    assert await update.callback_query.answer("ok")
    assert user.answers[-1].text == "ok"
