"""Updates: long polling, offsets and redelivery, allowed_updates, a second poller, and a server outage."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot, Update
from telegram.error import Conflict, NetworkError

from simulator.botapi import LocalBotApi, SimUser
from tests.simulator.helpers import USER_ID, keyboard


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
    assert await bot.delete_webhook()
    assert len(api.pending_updates) == 1
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()


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
