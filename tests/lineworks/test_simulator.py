"""The LINE WORKS simulator itself: its token endpoint checks the service-account JWT, tokens expire, the message
endpoints refuse what LINE WORKS refuses (400, 401, 403, 429 with the rateLimit headers), and callbacks go out
signed, once, with the faults tests need (dropped, delayed, reordered)."""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from bot.lineworks.client import JWT_BEARER, LineWorksClient, LineWorksError, service_account_jwt, verify_signature
from handlers.lineworks.content import button_template, message_action, postback_action, text_content
from simulator.lineworks import LineWorksSimulator
from tests.lineworks.conftest import START, USER, FakeClock, KeyPair, Receiver, new_key_pair

ISSUED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def form(sim: LineWorksSimulator, assertion: str, **changes: str) -> dict[str, str]:
    fields = {
        "assertion": assertion,
        "grant_type": JWT_BEARER,
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
        "scope": "bot",
    }
    fields.update(changes)
    return fields


def jwt_with(keys: KeyPair, **claims: Any) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}"
    signature = keys.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


async def token_answer(http: aiohttp.ClientSession, sim: LineWorksSimulator, data: dict[str, str]) -> tuple[int, Any]:
    async with http.post(sim.auth_url, data=data) as answer:
        return answer.status, await answer.json()


async def new_token(http: aiohttp.ClientSession, sim: LineWorksSimulator, keys: KeyPair) -> str:
    assertion = service_account_jwt(sim.client_id, sim.service_account, keys.private, sim.clock())
    status, body = await token_answer(http, sim, form(sim, assertion))
    assert status == 200, body
    return str(body["access_token"])


async def post_message(
    http: aiohttp.ClientSession, sim: LineWorksSimulator, token: str, content: dict[str, Any]
) -> tuple[int, Any, dict[str, str]]:
    url = f"{sim.api_base_url}/bots/{sim.bot_id}/users/{USER}/messages"
    headers = {"Authorization": f"Bearer {token}"}
    async with http.post(url, json={"content": content}, headers=headers) as answer:
        raw = await answer.read()
        return answer.status, json.loads(raw) if raw else None, dict(answer.headers)


# ---------------------------------------------------------------- the token endpoint
async def test_a_good_jwt_gets_a_token_that_expires(
    http: aiohttp.ClientSession, sim: LineWorksSimulator, keys: KeyPair, clock: FakeClock
) -> None:
    sim.token_lifetime = 3600
    assertion = service_account_jwt(sim.client_id, sim.service_account, keys.private, clock())
    status, body = await token_answer(http, sim, form(sim, assertion))
    assert status == 200
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", "3600", "bot")
    token = body["access_token"]
    assert (await post_message(http, sim, token, text_content("一")))[0] == 201
    clock.now += 3600
    status, answer, _ = await post_message(http, sim, token, text_content("二"))
    assert (status, answer["code"]) == (403, "UNAUTHORIZED")
    status, answer, _ = await post_message(http, sim, "never-issued", text_content("三"))
    assert (status, answer["code"]) == (401, "UNAUTHORIZED")
    assert [m["text"] for m in sim.messages(USER)] == ["一"]


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"iss": "another-client"}, "iss"),
        ({"sub": "someone.serviceaccount@example.com"}, "sub"),
        ({"iat": START - 7200, "exp": START - 3600}, "expired"),
        ({"exp": START + 7200}, "over 60 minutes"),
        ({"iat": "now"}, "numbers"),
    ],
)
async def test_the_token_endpoint_checks_the_claims(
    http: aiohttp.ClientSession, sim: LineWorksSimulator, keys: KeyPair, claims: dict[str, Any], why: str
) -> None:
    good = {"iss": sim.client_id, "sub": sim.service_account, "iat": START, "exp": START + 3600}
    status, body = await token_answer(http, sim, form(sim, jwt_with(keys, **(good | claims))))
    assert (status, body["error"]) == (400, "invalid_grant")
    assert why in body["error_description"]


async def test_the_token_endpoint_checks_the_signature_and_the_app(
    http: aiohttp.ClientSession, sim: LineWorksSimulator, keys: KeyPair, clock: FakeClock
) -> None:
    forged = service_account_jwt(sim.client_id, sim.service_account, new_key_pair().private, clock())
    assert await token_answer(http, sim, form(sim, forged)) == (
        400,
        {"error": "invalid_grant", "error_description": "the assertion's signature does not verify"},
    )
    good = service_account_jwt(sim.client_id, sim.service_account, keys.private, clock())
    assert (await token_answer(http, sim, form(sim, "not.a.jwt")))[0] == 400
    assert (await token_answer(http, sim, form(sim, good, client_secret="wrong")))[1]["error"] == "invalid_client"
    assert (await token_answer(http, sim, form(sim, good, grant_type="password")))[0] == 400
    assert (await token_answer(http, sim, form(sim, good, scope="calendar")))[1]["error"] == "invalid_scope"
    assert sim.tokens == {}


# ---------------------------------------------------------------- the message endpoint
YES: dict[str, Any] = {"type": "postback", "label": "はい", "data": "d", "displayText": "はい"}


def quick(*actions: dict[str, Any]) -> dict[str, Any]:
    return {"type": "text", "text": "?", "quickReply": {"items": [{"action": a} for a in actions]}}


FOURTEEN_ITEMS = quick(*[YES] * 14)
LONG_LABEL = quick(YES | {"label": "あ" * 21})
LONG_DATA = quick(YES | {"data": "d" * 301})
POSTBACK_IN_BUTTONS = {"type": "button_template", "contentText": "?", "actions": [YES]}


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (FOURTEEN_ITEMS, "quickReply.items"),
        (LONG_LABEL, "label"),
        (LONG_DATA, "data"),
        (POSTBACK_IN_BUTTONS, "postback action is not allowed in button_template"),
    ],
    ids=["14th-quick-reply-item", "21-character-label", "301-characters-of-data", "postback-in-button-template"],
)
async def test_the_limits_are_answered_400(
    sim: LineWorksSimulator, client: LineWorksClient, content: dict[str, Any], why: str
) -> None:
    with pytest.raises(LineWorksError) as caught:
        await client.send_message(USER, content, validate=False)
    assert (caught.value.status, caught.value.code, caught.value.may_have_sent) == (400, "INVALID_PARAMETER", False)
    assert sim.messages(USER) == []
    with pytest.raises(ValueError):  # and the client would not have sent it
        await client.send_message(USER, content)


async def test_429_with_the_rate_limit_headers(
    http: aiohttp.ClientSession, sim: LineWorksSimulator, keys: KeyPair, clock: FakeClock
) -> None:
    sim.per_minute = 2
    token = await new_token(http, sim, keys)
    clock.now += 20
    first = await post_message(http, sim, token, text_content("一"))
    assert (first[0], first[2]["rateLimit-used"], first[2]["rateLimit-remaining"]) == (201, "1", "1")
    assert (await post_message(http, sim, token, text_content("二")))[0] == 201
    status, body, headers = await post_message(http, sim, token, text_content("三"))
    assert (status, body) == (429, {"code": "TOO_MANY_REQUESTS", "description": "API rate limit exceeded"})
    limits = {name: headers[name] for name in ("rateLimit-limit", "rateLimit-remaining", "rateLimit-reset")}
    assert limits == {"rateLimit-limit": "2", "rateLimit-remaining": "0", "rateLimit-reset": "40"}
    clock.now += 40
    assert (await post_message(http, sim, token, text_content("三")))[0] == 201


async def test_a_lost_answer_keeps_the_message(
    http: aiohttp.ClientSession, sim: LineWorksSimulator, keys: KeyPair
) -> None:
    token = await new_token(http, sim, keys)
    sim.lose_answers = 1
    with pytest.raises(aiohttp.ClientError):
        await post_message(http, sim, token, text_content("一"))
    assert [(m.to, m.content["text"], m.answer_lost) for m in sim.sent] == [(USER, "一", True)]


# ---------------------------------------------------------------- callbacks
def events(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.received]


async def test_callbacks_are_signed_events_as_line_works_sends_them(
    sim: LineWorksSimulator, receiver: Receiver
) -> None:
    await sim.send_text(USER, "こんにちは")
    await sim.send_text(USER, "記録する", postback="menu:record")
    await sim.send_postback(USER, "d:7:3:area=north", channel_id="room-1")
    for got in receiver.received:
        assert (got.bot_id, got.content_type) == (sim.bot_id, "application/json; charset=UTF-8")
        assert verify_signature(sim.bot_secret, got.body, got.signature)
        assert not verify_signature("another-bot-secret", got.body, got.signature)
    text, pressed, postback = events(receiver)
    assert text["type"] == "message" and text["content"] == {"type": "text", "text": "こんにちは"}
    assert text["source"] == {"userId": USER, "domainId": sim.domain_id}
    assert ISSUED_TIME.fullmatch(text["issuedTime"])
    assert pressed["content"] == {"type": "text", "text": "記録する", "postback": "menu:record"}
    assert postback["type"] == "postback" and postback["data"] == "d:7:3:area=north"
    assert postback["source"]["channelId"] == "room-1"
    assert "id" not in text and "eventId" not in text  # LINE WORKS gives no event id


async def test_a_callback_is_never_resent(sim: LineWorksSimulator, receiver: Receiver) -> None:
    receiver.answers = [500]
    failed = await sim.send_text(USER, "一")
    assert failed.status == 500
    delivered = await sim.send_text(USER, "二")
    assert delivered.status == 200
    assert [e["content"]["text"] for e in events(receiver)] == ["一", "二"]  # "一" came once, and only once
    sim.callback_url = unreachable(sim)
    lost = await sim.send_text(USER, "三")
    assert (lost.status, lost.error) == (None, "no answer")
    assert len(receiver.received) == 2
    assert [d.status for d in sim.callbacks] == [500, 200, None]


def unreachable(sim: LineWorksSimulator) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/lineworks/{sim.bot_id}"


async def test_dropped_and_delayed_callbacks(sim: LineWorksSimulator, receiver: Receiver, clock: FakeClock) -> None:
    sim.drop_callbacks = 1
    dropped = await sim.send_text(USER, "一")
    assert (dropped.dropped, dropped.status) == (True, None)
    sim.callback_delay = 5.0
    await sim.send_text(USER, "二")
    assert clock.sleeps == [5.0]
    assert [e["content"]["text"] for e in events(receiver)] == ["二"]


async def test_reordered_callbacks_keep_their_issued_time(
    sim: LineWorksSimulator, receiver: Receiver, clock: FakeClock
) -> None:
    sim.hold_callbacks()
    for text in ("一", "二", "三"):
        held = await sim.send_text(USER, text)
        assert held.pending
        clock.now += 1.5
    assert receiver.received == []
    released = await sim.release_callbacks(order=[2, 0, 1])
    assert [d.status for d in released] == [200, 200, 200]
    got = events(receiver)
    assert [e["content"]["text"] for e in got] == ["三", "一", "二"]
    assert [e["issuedTime"][11:23] for e in got] == ["08:00:03.000", "08:00:00.000", "08:00:01.500"]


async def test_pressing_buttons_old_and_new(
    sim: LineWorksSimulator, client: LineWorksClient, receiver: Receiver
) -> None:
    await client.send_message(USER, text_content("どちら?", [postback_action("はい", "d:1:yes", "はい")]))
    await client.send_message(USER, button_template("メニュー", [message_action("ヘルプ", postback="menu:help")]))
    await sim.press(USER, "ヘルプ")
    await sim.press(USER, "はい")  # the older message's button still works
    help_event, yes_event = events(receiver)
    assert help_event["content"] == {"type": "text", "text": "ヘルプ", "postback": "menu:help"}
    assert (yes_event["type"], yes_event["data"]) == ("postback", "d:1:yes")
    with pytest.raises(LookupError):
        await sim.press(USER, "いいえ")
