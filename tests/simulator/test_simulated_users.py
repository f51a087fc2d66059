"""Simulated users: what their actions look like to the bot, and how they wait for its answers."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot

from simulator.botapi import LocalBotApi, SimUser
from tests.simulator.helpers import USER_ID


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
