"""Inline buttons: the 64-byte callback_data limit, pressing by label, callback answers and their expiry."""

from __future__ import annotations

import datetime as dtm

import pytest
from telegram import Bot, Update
from telegram.error import BadRequest
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, ContextTypes

from simulator.botapi import LocalBotApi, SimUser
from tests.simulator.helpers import USER_ID, bad, keyboard


async def test_callback_data_longer_than_64_bytes_is_rejected(bot: Bot, user: SimUser) -> None:
    with pytest.raises(BadRequest, match=bad("BUTTON_DATA_INVALID")):
        await bot.send_message(USER_ID, "選択", reply_markup=keyboard([("長い", "あ" * 22)]))  # 66 bytes
    await bot.send_message(USER_ID, "選択", reply_markup=keyboard([("ちょうど", "a" * 64)]))
    assert user.last is not None and user.last.callback_data == [["a" * 64]]


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


async def test_a_raw_callback_query_can_be_answered(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    sent = await bot.send_message(USER_ID, "?", reply_markup=keyboard([("A", "a")]))
    message = user.chat.message(sent.message_id)
    assert message is not None
    await user.send_update({"callback_query": {"message": message.to_json(), "data": "x"}}, wait=False)
    [update] = await bot.get_updates()
    assert update.callback_query is not None and update.callback_query.data == "x"
    assert await update.callback_query.answer("ok")
    assert user.answers[-1].text == "ok"


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
        await query.edit_message_text(f"{query.data} を記録中")

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
