"""The bot's messages: sending with keyboards, Telegram's limits, editing and deleting, blocked users, groups."""

from __future__ import annotations

import pytest
from telegram import Bot, BotCommand, BotCommandScopeChat, KeyboardButton, ReplyKeyboardMarkup
from telegram.error import BadRequest, Forbidden

from simulator.botapi import LocalBotApi, SimUser
from tests.simulator.helpers import USER_ID, bad, keyboard


async def test_a_message_with_an_inline_keyboard_is_read_back(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    sent = await bot.send_message(
        USER_ID,
        "出向きを記録しますか？ 🙂 today",
        reply_markup=keyboard([("はい", "yes"), ("いいえ", "no")], [("あとで", "later")]),
    )
    assert sent.text == "出向きを記録しますか？ 🙂 today"
    assert sent.chat.id == USER_ID and sent.from_user is not None and sent.from_user.id == bot.id
    assert sent.reply_markup == keyboard([("はい", "yes"), ("いいえ", "no")], [("あとで", "later")])
    last = user.last
    assert last is not None and last.message_id == sent.message_id
    assert last.text == sent.text
    assert last.buttons == [["はい", "いいえ"], ["あとで"]]
    assert last.callback_data == [["yes", "no"], ["later"]]
    assert not last.edited
    second = await bot.send_message(USER_ID, "next")
    assert second.message_id == sent.message_id + 1
    assert [e[:3] for e in api.events if e.kind == "send"] == [
        ("send", USER_ID, sent.message_id),
        ("send", USER_ID, second.message_id),
    ]


async def test_a_reply_keyboard_is_shown(bot: Bot, user: SimUser) -> None:
    await bot.send_message(
        USER_ID, "メニュー", reply_markup=ReplyKeyboardMarkup([[KeyboardButton("出向き記録"), "相談記録"], ["ヘルプ"]])
    )
    assert user.keyboard == [["出向き記録", "相談記録"], ["ヘルプ"]]
    assert user.last is not None and user.last.reply_keyboard == user.keyboard and user.last.buttons == []
    await bot.send_message(USER_ID, "次へ")
    assert user.keyboard is not None and user.last.reply_keyboard is None  # it stays until replaced


async def test_text_validation(bot: Bot, user: SimUser) -> None:
    with pytest.raises(BadRequest, match=bad("message text is empty")):
        await bot.send_message(USER_ID, "   \n ")
    with pytest.raises(BadRequest, match=bad("message is too long")):
        await bot.send_message(USER_ID, "あ" * 4097)
    assert len((await bot.send_message(USER_ID, "あ" * 4096)).text or "") == 4096
    with pytest.raises(BadRequest, match=bad("message caption is too long")):
        await bot.send_document(USER_ID, b"x", filename="a.txt", caption="c" * 1025)
    with pytest.raises(BadRequest, match=bad("chat not found")):
        await bot.send_message(424242, "who?")
    assert len(user.messages) == 1


async def test_a_blocked_user_makes_sending_forbidden(api: LocalBotApi, bot: Bot, user: SimUser) -> None:
    user.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER_ID, "hello?")
    updates = await bot.get_updates()
    assert updates[0].my_chat_member is not None
    assert updates[0].my_chat_member.new_chat_member.status == "kicked"
    user.unblock(notify=False)
    await bot.send_message(USER_ID, "hello again")


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
    assert group.members == {boss.id: "administrator", staff.id: "member"}
    assert api.group(-4242, "小グループ").type == "group"
    group.bot_status = "kicked"
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(group.id, "still here?")


async def test_commands_are_stored_per_scope_and_language(api: LocalBotApi, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("visit", "出向き記録"), BotCommand("help", "ヘルプ")])
    await bot.set_my_commands([BotCommand("staff", "職員一覧")], scope=BotCommandScopeChat(USER_ID))
    await bot.set_my_commands([BotCommand("visit", "Record an outing")], language_code="en")
    assert [c["command"] for c in api.commands()] == ["visit", "help"]
    assert [c["command"] for c in api.commands({"type": "chat", "chat_id": USER_ID})] == ["staff"]
    assert api.commands(language_code="en") == [{"command": "visit", "description": "Record an outing"}]
    with pytest.raises(BadRequest, match=bad("BOT_COMMAND_INVALID")):
        await bot.set_my_commands([BotCommand("Visit-Now", "x")])
    await bot.set_my_commands([])
    assert api.commands() == []
