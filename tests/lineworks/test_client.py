"""The LINE WORKS client against the simulator: the token cache and its renewals, the budget, 429 back-off, lost
answers, the limits checked before sending, signatures. Time is a fake clock: nothing waits on the wall clock."""

from __future__ import annotations

import asyncio
import socket

import pytest

from bot.lineworks.client import (
    LineWorksAuthError,
    LineWorksClient,
    LineWorksError,
    MinuteBudget,
    Outcome,
    sign_body,
    verify_signature,
)
from handlers.lineworks.content import button_template, message_action, postback_action, quick_reply_item, text_content
from simulator.lineworks import LineWorksSimulator, sign
from tests.lineworks.conftest import USER, FakeClock, KeyPair, client_for, new_key_pair

SENDS = "user-message-send"


def statuses(sim: LineWorksSimulator) -> list[int | None]:
    return [status for operation, status in sim.requests if operation == SENDS]


# ---------------------------------------------------------------- the token
async def test_token_is_cached_and_renewed_before_it_expires(
    sim: LineWorksSimulator, keys: KeyPair, clock: FakeClock
) -> None:
    sim.token_lifetime = 3600
    async with client_for(sim, keys, clock, renew_margin=300) as client:
        await client.send_message(USER, text_content("一"))
        await client.send_message(USER, text_content("二"))
        assert sim.token_requests == 1
        clock.now += 3300 - 1  # a second before the margin: still the cached token
        await client.send_message(USER, text_content("三"))
        assert sim.token_requests == 1
        clock.now += 2  # inside the margin: renewed before use, while the old one still works
        await client.send_message(USER, text_content("四"))
        assert sim.token_requests == 2
    assert statuses(sim) == [201] * 4


async def test_unauthorized_renews_the_token_once_and_sends(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    await client.send_message(USER, text_content("一"))
    sim.expire_tokens()  # LINE WORKS ends it before the client expected
    await client.send_message(USER, text_content("二"))
    assert sim.token_requests == 2
    assert statuses(sim) == [201, 403, 201]
    assert [m["text"] for m in sim.messages(USER)] == ["一", "二"]


async def test_unauthorized_again_after_the_renewal_is_an_error(
    sim: LineWorksSimulator, client: LineWorksClient
) -> None:
    sim.reject_tokens = True
    with pytest.raises(LineWorksError) as caught:
        await client.send_message(USER, text_content("一"))
    assert (caught.value.status, caught.value.code, caught.value.outcome) == (403, "UNAUTHORIZED", Outcome.REFUSED)
    assert not caught.value.may_have_sent
    assert sim.token_requests == 2  # the first token and one renewal, no more
    assert statuses(sim) == [403, 403]


async def test_concurrent_sends_share_one_token_fetch_and_one_renewal(
    sim: LineWorksSimulator, client: LineWorksClient
) -> None:
    await asyncio.gather(*(client.send_message(USER, text_content(f"{i}")) for i in range(10)))
    assert sim.token_requests == 1
    sim.expire_tokens()
    await asyncio.gather(*(client.send_message(USER, text_content(f"再{i}")) for i in range(10)))
    assert sim.token_requests == 2
    assert len(sim.messages(USER)) == 20


async def test_a_refused_service_account_is_an_auth_error(sim: LineWorksSimulator, clock: FakeClock) -> None:
    async with client_for(sim, new_key_pair(), clock) as client:  # a key the simulator does not know
        with pytest.raises(LineWorksAuthError) as caught:
            await client.send_message(USER, text_content("一"))
    assert (caught.value.status, caught.value.outcome) == (400, Outcome.REFUSED)
    assert sim.requests == []


# ---------------------------------------------------------------- the budget and 429
async def test_the_61st_send_in_a_minute_waits_for_the_budget(
    sim: LineWorksSimulator, client: LineWorksClient, clock: FakeClock
) -> None:
    for i in range(60):
        await client.send_message(USER, text_content(f"{i}"))
    assert clock.sleeps == []
    await client.send_message(USER, text_content("61"))
    assert clock.sleeps == [60.0]
    assert statuses(sim) == [201] * 61  # LINE WORKS never had to refuse one


async def test_the_budget_is_a_sliding_minute(clock: FakeClock) -> None:
    budget = MinuteBudget(2, clock=clock, sleep=clock.sleep)
    await budget.acquire()
    clock.now += 40
    await budget.acquire()
    await budget.acquire()  # waits until the first is a minute old, not for a whole new minute
    assert clock.sleeps == [20.0]


async def test_429_waits_as_rate_limit_reset_says_then_sends(
    sim: LineWorksSimulator, keys: KeyPair, clock: FakeClock
) -> None:
    sim.per_minute = 2
    clock.now += 15  # 45 seconds left in the simulator's minute
    async with (
        client_for(sim, keys, clock) as other_process,
        client_for(sim, keys, clock, per_minute=1000) as client,
    ):
        await other_process.send_message(USER, text_content("一"))
        await other_process.send_message(USER, text_content("二"))
        await client.send_message(USER, text_content("三"))  # its own budget knew nothing of the other two
    assert clock.sleeps == [45.0]
    assert statuses(sim) == [201, 201, 429, 201]


async def test_429_retries_are_bounded(sim: LineWorksSimulator, keys: KeyPair, clock: FakeClock) -> None:
    sim.per_minute = 0  # everything is over the limit
    async with client_for(sim, keys, clock, max_retries=2) as client:
        with pytest.raises(LineWorksError) as caught:
            await client.send_message(USER, text_content("一"))
    assert (caught.value.status, caught.value.code, caught.value.outcome) == (429, "TOO_MANY_REQUESTS", Outcome.REFUSED)
    assert statuses(sim) == [429, 429, 429]
    assert sim.messages(USER) == []


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_no_connection_is_retried_a_few_times_then_refused(
    sim: LineWorksSimulator, keys: KeyPair, clock: FakeClock
) -> None:
    base = f"http://127.0.0.1:{closed_port()}/v1.0"
    async with client_for(sim, keys, clock, api_base_url=base, max_retries=3) as client:
        with pytest.raises(LineWorksError) as caught:
            await client.send_message(USER, text_content("一"))
    assert caught.value.outcome is Outcome.REFUSED
    assert clock.sleeps == [1.0, 2.0, 4.0]


# ---------------------------------------------------------------- lost answers
async def test_a_lost_answer_is_unknown_and_not_retried(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    sim.lose_answers = 1
    with pytest.raises(LineWorksError) as caught:
        await client.send_message(USER, text_content("一"))
    assert caught.value.outcome is Outcome.UNKNOWN
    assert caught.value.may_have_sent
    assert statuses(sim) == [None]  # one request: never sent again
    assert [m["text"] for m in sim.messages(USER)] == ["一"]  # and it did arrive
    await client.send_message(USER, text_content("二"))  # the client carries on
    assert [m["text"] for m in sim.messages(USER)] == ["一", "二"]


# ---------------------------------------------------------------- content and limits
def test_limits_are_refused_before_sending() -> None:
    fine = postback_action("はい", "d:1", "はい")
    with pytest.raises(ValueError, match="at most 13"):
        text_content("選んでください", [fine] * 14)
    with pytest.raises(ValueError, match="label"):
        postback_action("あ" * 21, "d:1", "あ")
    with pytest.raises(ValueError, match="data"):
        postback_action("はい", "d" * 301, "はい")
    with pytest.raises(ValueError, match="displayText"):
        text_content("選んでください", [{"type": "postback", "label": "はい", "data": "d:1"}])
    with pytest.raises(ValueError, match="not 'postback'"):
        button_template("選んでください", [fine])
    with pytest.raises(ValueError, match="at most 10"):
        button_template("選んでください", [message_action(f"{i}") for i in range(11)])
    with pytest.raises(ValueError, match="text"):
        text_content("あ" * 2001)


async def test_send_checks_a_hand_made_content_before_anything_goes_out(
    sim: LineWorksSimulator, client: LineWorksClient
) -> None:
    bad = {"type": "button_template", "contentText": "?", "actions": [postback_action("はい", "d:1", "はい")]}
    with pytest.raises(ValueError):
        await client.send_message(USER, bad)
    assert sim.token_requests == 0
    assert sim.requests == []


async def test_content_at_the_limits_is_accepted(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    items = [quick_reply_item(postback_action("選" * 20, "d" * 300, "選" * 300)) for _ in range(13)]
    quick = text_content("あ" * 2000, items)
    buttons = button_template("本" * 1000, [message_action(f"{i}", postback=f"p:{i}") for i in range(10)])
    await client.send_message(USER, quick)
    await client.send_message(USER, buttons)
    assert sim.messages(USER) == [quick, buttons]


async def test_channels_and_user_ids_that_need_encoding(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    await client.send_message("staff@example.com", text_content("一"))
    await client.send_channel_message("room/1", text_content("二"))
    assert sim.messages("staff@example.com") == [text_content("一")]
    assert sim.messages("room/1", channel=True) == [text_content("二")]


# ---------------------------------------------------------------- signatures
def test_signature_verification() -> None:
    body = '{"type":"message","content":{"type":"text","text":"こんにちは"}}'.encode()
    good = sign_body("bot-secret", body)
    assert good == sign("bot-secret", body)  # the simulator signs as the client checks
    assert verify_signature("bot-secret", body, good)
    assert verify_signature(b"bot-secret", body, good)
    changed = bytes([body[0] ^ 1]) + body[1:]
    assert not verify_signature("bot-secret", changed, good)
    assert not verify_signature("another-bot-secret", body, good)
    assert not verify_signature("bot-secret", body, None)
    assert not verify_signature("bot-secret", body, "")
    assert not verify_signature("bot-secret", body, "署名")
