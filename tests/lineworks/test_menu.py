"""The LINE WORKS persistent menu: the client registers and deletes it (limits checked before sending, the token
renewed, the rate limit honoured), the simulator refuses what LINE WORKS refuses and delivers a button's press."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from bot.lineworks.client import LineWorksClient, LineWorksError
from handlers.lineworks.content import menu_content, message_action, postback_action
from simulator.lineworks import LineWorksSimulator
from tests.lineworks.conftest import USER, FakeClock, KeyPair, Receiver, client_for

CREATE, DELETE = "persistentmenu-create", "persistentmenu-delete"
GUIDE: dict[str, Any] = {"type": "uri", "label": "手引き", "uri": "https://example.com/guide"}
RECORD = message_action("記録する", text="記録", postback="menu:record")
HELP = message_action("ヘルプ", postback="menu:help")


def statuses(sim: LineWorksSimulator, operation: str = CREATE) -> list[int | None]:
    return [status for name, status in sim.requests if name == operation]


# ---------------------------------------------------------------- registering and deleting
async def test_a_menu_is_registered_replaced_and_deleted(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    await client.set_persistent_menu([RECORD, HELP, GUIDE, {"type": "copy", "label": "番号", "copyText": "0120"}])
    assert sim.persistent_menu == [RECORD, HELP, GUIDE, {"type": "copy", "label": "番号", "copyText": "0120"}]
    await client.set_persistent_menu([HELP])
    assert sim.persistent_menu == [HELP]  # the new menu replaces the old one
    await client.delete_persistent_menu()
    assert sim.persistent_menu is None
    assert sim.requests == [(CREATE, 201), (CREATE, 201), (DELETE, 204)]
    assert sim.messages(USER) == []  # a menu is no message


async def test_a_menu_at_the_limits_is_accepted(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    four = [message_action("あ" * 20, text="い" * 300, postback="p" * 300)] * 4
    assert menu_content(four) == {"actions": four}
    await client.set_persistent_menu(four)
    assert sim.persistent_menu == four


@pytest.mark.parametrize(
    ("actions", "why"),
    [
        ([HELP] * 5, "at most 4"),
        ([message_action("ヘルプ") | {"label": "あ" * 21}], "label"),
        ([postback_action("はい", "d:1", "はい")], "not 'postback'"),
        ([GUIDE | {"label": None}], "label"),  # a uri action needs its label in a menu
        ([], "at least one"),
    ],
    ids=["5-actions", "21-character-label", "postback-action", "unlabelled-uri", "no-action"],
)
async def test_the_client_refuses_a_bad_menu_before_sending(
    sim: LineWorksSimulator, client: LineWorksClient, actions: list[dict[str, Any]], why: str
) -> None:
    with pytest.raises(ValueError, match=why):
        await client.set_persistent_menu(actions)
    assert sim.token_requests == 0
    assert sim.requests == []


# ---------------------------------------------------------------- what the simulator refuses
@pytest.mark.parametrize(
    ("actions", "why"),
    [
        ([HELP] * 5, "content.actions must hold 1 to 4"),
        ([HELP | {"label": "あ" * 21}], "label exceeds 20"),
        ([postback_action("はい", "d:1", "はい")], "postback action is not allowed in persistentmenu"),
        ([HELP | {"postback": "p" * 1001}], "postback exceeds 1000"),
        ([], "content.actions must hold 1 to 4"),
    ],
    ids=["5-actions", "21-character-label", "postback-action", "1001-characters-of-postback", "no-action"],
)
async def test_the_simulator_answers_400_to_a_bad_menu(
    sim: LineWorksSimulator, client: LineWorksClient, actions: list[dict[str, Any]], why: str
) -> None:
    await client.set_persistent_menu([HELP])
    with pytest.raises(LineWorksError) as caught:
        await client.set_persistent_menu(actions, validate=False)
    assert (caught.value.status, caught.value.code, caught.value.may_have_sent) == (400, "INVALID_PARAMETER", False)
    status, answer = await post_menu(sim, await client.access_token(), {"content": {"actions": actions}})
    assert (status, answer["code"]) == (400, "INVALID_PARAMETER")
    assert why in answer["description"]
    assert sim.persistent_menu == [HELP]  # the menu before is kept
    assert statuses(sim) == [201, 400, 400]


async def post_menu(sim: LineWorksSimulator, token: str, body: dict[str, Any]) -> tuple[int, Any]:
    url = f"{sim.api_base_url}/bots/{sim.bot_id}/persistentmenu"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as answer,
    ):
        return answer.status, await answer.json()


async def test_a_menu_without_content_is_answered_400(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    token = await client.access_token()
    for body in ({}, {"content": None}, {"content": {"actions": "ヘルプ"}}):
        status, answer = await post_menu(sim, token, body)
        assert (status, answer["code"]) == (400, "INVALID_PARAMETER")
    assert (await post_menu(sim, token, {}))[1]["description"] == "content is required"
    assert sim.persistent_menu is None


async def test_the_simulator_can_model_the_documented_label_limit(
    sim: LineWorksSimulator, client: LineWorksClient
) -> None:
    sim.menu_label_limit = 1000  # what the create page's label row says of a persistent menu
    long_label = HELP | {"label": "あ" * 21}
    await client.set_persistent_menu([long_label], validate=False)
    assert sim.persistent_menu == [long_label]


# ---------------------------------------------------------------- token and rate limit
async def test_an_expired_token_is_renewed_once_for_the_menu(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    await client.set_persistent_menu([HELP])
    sim.expire_tokens()
    await client.set_persistent_menu([RECORD])
    sim.expire_tokens()
    await client.delete_persistent_menu()
    assert sim.token_requests == 3
    assert statuses(sim) == [201, 403, 201]
    assert statuses(sim, DELETE) == [403, 204]
    assert sim.persistent_menu is None


async def test_a_refused_token_after_the_renewal_is_an_error(sim: LineWorksSimulator, client: LineWorksClient) -> None:
    sim.reject_tokens = True
    with pytest.raises(LineWorksError) as caught:
        await client.set_persistent_menu([HELP])
    assert (caught.value.status, caught.value.code) == (403, "UNAUTHORIZED")
    assert sim.token_requests == 2
    assert sim.persistent_menu is None


async def test_the_menu_has_its_own_rate_limit_and_429_is_waited_out(
    sim: LineWorksSimulator, keys: KeyPair, clock: FakeClock
) -> None:
    sim.per_minute = 2
    clock.now += 15  # 45 seconds left in the simulator's minute
    async with (
        client_for(sim, keys, clock) as other_process,
        client_for(sim, keys, clock, per_minute=1000) as client,
    ):
        await other_process.set_persistent_menu([HELP])
        await other_process.set_persistent_menu([HELP])  # the menu API's two calls this minute
        await client.send_message(USER, {"type": "text", "text": "一"})  # another API: its own count, no wait
        assert clock.sleeps == []
        await client.set_persistent_menu([RECORD])  # 429: waits for the reset, then registered
    assert statuses(sim) == [201, 201, 429, 201]
    assert statuses(sim, "user-message-send") == [201]
    assert clock.sleeps == [45.0]
    assert sim.persistent_menu == [RECORD]


async def test_429_on_the_menu_is_bounded(sim: LineWorksSimulator, keys: KeyPair, clock: FakeClock) -> None:
    sim.per_minute = 0
    async with client_for(sim, keys, clock, max_retries=1) as client:
        with pytest.raises(LineWorksError) as caught:
            await client.set_persistent_menu([HELP])
    assert (caught.value.status, caught.value.code) == (429, "TOO_MANY_REQUESTS")
    assert statuses(sim) == [429, 429]


# ---------------------------------------------------------------- pressing a button
def events(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.received]


async def test_pressing_a_menu_button_sends_the_message_event(
    sim: LineWorksSimulator, client: LineWorksClient, receiver: Receiver
) -> None:
    with pytest.raises(LookupError):
        await sim.press_menu(USER, "ヘルプ")  # no menu yet
    lines = message_action("改行", text="一行目\n二行目")
    await client.set_persistent_menu([RECORD, HELP, GUIDE, lines])
    await sim.press_menu(USER, "記録する")
    await sim.press_menu(USER, "ヘルプ", channel_id="room-1")
    await sim.press_menu(USER, "改行")
    record, help_event, two_lines = events(receiver)
    assert record["type"] == "message"
    assert record["content"] == {"type": "text", "text": "記録", "postback": "menu:record"}
    assert record["source"] == {"userId": USER, "domainId": sim.domain_id}
    assert help_event["content"] == {"type": "text", "text": "ヘルプ", "postback": "menu:help"}  # the label is said
    assert help_event["source"]["channelId"] == "room-1"
    assert two_lines["content"] == {"type": "text", "text": "一行目 二行目"}  # a newline arrives as a blank
    with pytest.raises(ValueError, match="uri"):
        await sim.press_menu(USER, "手引き")  # opens a page; the bot hears nothing
    with pytest.raises(LookupError):
        await sim.press_menu(USER, "いいえ")
    await client.delete_persistent_menu()
    with pytest.raises(LookupError):
        await sim.press_menu(USER, "ヘルプ")
    assert len(receiver.received) == 3
