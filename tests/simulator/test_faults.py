"""Injected faults: 429, 5xx answers, dropped connections, effects whose answer is lost, slow answers."""

from __future__ import annotations

import logging

import pytest
from telegram import Bot
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from simulator.botapi import LocalBotApi, SimUser
from tests.simulator.helpers import USER_ID


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
