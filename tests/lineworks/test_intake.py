"""LINE WORKS callbacks kept in the inbox before they are answered (bot/lineworks/intake.py): signed, once, in
issuedTime order, never after a day; refused ones logged without their body. On both engines."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.lineworks import intake as intake_module
from bot.lineworks.intake import LineWorksIntake, event_key, inbox_bot_id, sender_key
from bot.webhook import Listener
from core.clock import ManualClock
from simulator.lineworks import LineWorksSimulator, sign
from storage.sqlite.store import SqlStore
from storage.types import StorageError

START = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
BOT = 2000001
SECRET = "the-bot-secret"
USER = "user-0001"
PRIVATE = "PRIVATE-9931 一人暮らしの方について"  # a text no log line may hold


@dataclass
class World:
    store: SqlStore
    clock: ManualClock
    sim: LineWorksSimulator
    url: str
    received: list[int]

    async def rows(self) -> list[tuple[int, int | None, str]]:
        found = await self.store.db.fetchall(
            "SELECT update_id, chat_key FROM inbox WHERE bot_id = ? ORDER BY update_id", (inbox_bot_id(BOT),)
        )
        return [(int(r[0]), r[1], await self.store.inbox.payload(inbox_bot_id(BOT), int(r[0])) or "") for r in found]

    async def post(self, body: bytes, **headers: str) -> int:
        async with aiohttp.ClientSession() as session, session.post(self.url, data=body, headers=headers) as answer:
            return answer.status


@asynccontextmanager
async def world(store: SqlStore) -> AsyncIterator[World]:
    clock = ManualClock(START)
    listener = Listener("127.0.0.1", 0)
    received: list[int] = []
    intake = LineWorksIntake(BOT, SECRET, store.inbox, clock, [received.append])
    path = listener.add_lineworks(intake)
    await listener.start()
    url = f"http://127.0.0.1:{listener.port}{path}"
    sim = LineWorksSimulator(
        bot_id=str(BOT), bot_secret=SECRET, callback_url=url, clock=lambda: clock.now().timestamp()
    )
    try:
        yield World(store, clock, sim, url, received)
    finally:
        await sim.stop()
        await listener.stop()


def signed(body: bytes, secret: str = SECRET, bot: int = BOT) -> dict[str, str]:
    return {"X-WORKS-Signature": sign(secret, body), "X-WORKS-BotId": str(bot), "Content-Type": "application/json"}


async def test_a_signed_callback_is_kept_before_its_200_and_the_same_body_again_is_kept_once(store: SqlStore) -> None:
    async with world(store) as w:
        first = await w.sim.send_text(USER, PRIVATE)
        assert first.status == 200
        again = await w.sim.deliver(first.event)  # the same event, the same bytes: a replay
        assert again.status == 200 and again.body == first.body
        rows = await w.rows()
        assert [(key, order) for key, order, _ in rows] == [(event_key(START, first.body), sender_key(USER))]
        assert json.loads(rows[0][2]) == first.event
        assert len(w.received) == 1  # workers are woken once
        sealed = await store.db.fetchone("SELECT payload FROM inbox WHERE bot_id = ?", (inbox_bot_id(BOT),))
        assert sealed is not None and PRIVATE.encode() not in bytes(sealed[0])  # kept sealed


async def test_forged_missing_changed_or_another_bots_signatures_are_refused_and_nothing_is_kept(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with world(store) as w:
        body = json.dumps(w.sim.event("message", USER, content={"type": "text", "text": PRIVATE})).encode()
        changed = body.replace(b"PRIVATE-9931", b"PRIVATE-9932")
        forged = signed(body)
        forged["X-WORKS-Signature"] = forged["X-WORKS-Signature"][:-2] + (
            "AA" if not forged["X-WORKS-Signature"].endswith("AA") else "BB"
        )
        cases = {
            "no signature": (body, {"X-WORKS-BotId": str(BOT)}, 401),
            "a forged signature": (body, forged, 403),
            "the body changed after signing": (changed, signed(body), 403),
            "another bot's secret": (body, signed(body, secret="another-secret"), 403),
            "signed for another bot": (body, signed(body, bot=BOT + 1), 403),
        }
        for name, (sent, headers, status) in cases.items():
            assert await w.post(sent, **headers) == status, name
        async with aiohttp.ClientSession() as session:
            other = w.url.replace(str(BOT), str(BOT + 1))
            async with session.post(other, data=body, headers=signed(body, bot=BOT + 1)) as answer:
                assert answer.status == 404
        assert await w.rows() == []
        assert w.received == []
        assert "PRIVATE-9931" not in caplog.text and SECRET not in caplog.text
        assert caplog.text.count("refused POST /lineworks/{bot_id}") == len(cases) + 1


async def test_one_persons_events_are_taken_in_issued_order_whatever_order_they_arrive_in(store: SqlStore) -> None:
    async with world(store) as w:
        w.sim.hold_callbacks()
        for k in range(3):
            await w.sim.send_text(USER, f"text {k}")
            w.clock.advance(timedelta(milliseconds=250))
        await w.sim.send_text("user-0002", "another person")
        delivered = await w.sim.release_callbacks([3, 2, 0, 1])  # reordered on the way
        assert [d.status for d in delivered] == [200] * 4
        taken = []
        for _ in range(3):
            claim = await store.inbox.claim(inbox_bot_id(BOT), "w1", w.clock.now(), timedelta(seconds=30))
            assert claim is not None
            taken.append(json.loads(claim.payload)["content"]["text"])
            await store.inbox.release(inbox_bot_id(BOT), claim.update_id, "w1", w.clock.now(), handled=True)
        assert [t for t in taken if t.startswith("text")] == sorted(t for t in taken if t.startswith("text"))


async def test_an_event_issued_more_than_a_day_ago_is_dropped_as_a_replay(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    async with world(store) as w:
        old = w.sim.event("message", USER, content={"type": "text", "text": "old"})
        w.clock.advance(timedelta(days=1, minutes=1))
        body = json.dumps(old).encode()
        assert await w.post(body, **signed(body)) == 200  # signed by LINE WORKS: answered, not kept
        assert await w.rows() == []
        assert "issued more than a day ago" in caplog.text


async def test_a_callback_the_store_cannot_keep_is_not_answered_200(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(store) as w:

        async def failing(*args: object) -> bool:
            raise StorageError("disk full")

        monkeypatch.setattr(store.inbox, "enqueue", failing)
        delivery = await w.sim.send_text(USER, "hello")
        assert delivery.status == 503
        monkeypatch.undo()
        assert await w.rows() == []


async def test_two_different_events_that_meet_on_one_key_are_both_kept(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake_module, "event_key", lambda issued, body, attempt=0: 1_000_000 + attempt)
    async with world(store) as w:
        first = await w.sim.send_text(USER, "one")
        second = await w.sim.send_text(USER, "two")
        again = await w.sim.deliver(second.event)
        assert (first.status, second.status, again.status) == (200, 200, 200)
        assert [(key, json.loads(body)["content"]["text"]) for key, _, body in await w.rows()] == [
            (1_000_000, "one"),
            (1_000_001, "two"),
        ]
