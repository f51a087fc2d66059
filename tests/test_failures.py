"""Telegram failing (429, 5xx, slow, dropped), the database failing (locked, full, read-only), and updates
delivered again out of order: saved records stay saved, exactly once, and the next message works."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from core.models import Role
from simulator.botapi import SimUser
from storage.sqlite.db import Transaction
from tests.harness import Harness, running

STAFF = 2001
PLAIN = ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった")


async def staff_with_flow(h: Harness) -> SimUser:
    user = await h.register(STAFF)
    await user.send("/visit")
    return user


async def test_a_429_is_waited_out_and_the_reply_arrives(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        h.rate_limiter = True  # production behaviour: AIORateLimiter waits retry_after and sends again
        await h.restart()
        user = await staff_with_flow(h)
        h.api.inject("editMessageText", status=429, retry_after=1, times=1)
        await user.press("活動先への出向き・参加")
        assert "支援先" in user.last.text  # type: ignore[union-attr]
        assert h.api.count("editMessageText") == 2


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 500},
        {"status": 502, "description": "<html><body>502 Bad Gateway</body></html>"},
        {"drop": True},  # an edit is harmless to repeat: a lost answer is retried too
        {"status": 200, "delay": 0.5},  # slow, but answered in time
    ],
)
async def test_refused_slow_or_lost_edits_are_retried_and_the_person_sees_the_next_question(
    tmp_path: Path, fault: dict[str, Any]
) -> None:
    async with running(tmp_path) as h:
        h.retry_delays = (0.01, 0.02, 0.05)
        await h.restart()
        user = await staff_with_flow(h)
        h.api.inject("editMessageText", times=2 if "delay" not in fault else 1, **fault)
        await user.press("活動先への出向き・参加")
        assert "支援先" in user.last.text  # type: ignore[union-attr]
        for label in PLAIN[1:]:
            await user.press(label)
        assert await user.press("💾 保存") == "保存しました"
        assert await h.count("outings") == 1


async def test_a_message_that_could_not_be_sent_is_not_sent_twice_and_the_next_message_shows_it(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as h:
        h.retry_delays = (0.01, 0.02, 0.05)
        await h.restart()
        user = await staff_with_flow(h)
        for label in PLAIN[:2]:
            await user.press(label)
        # The headcount is typed: the next question is a new message, and a lost sendMessage is not repeated
        # (it may have arrived; a duplicate would be worse than saying so).
        h.api.inject("sendMessage", drop=True, times=1)
        await user.send("12")
        sends = h.api.count("sendMessage")
        assert not any("相談はありましたか" in m.text for m in user.messages)
        draft = await h.store.drafts.for_staff((await h.store.staff.by_telegram_id(STAFF)).id)  # type: ignore[union-attr]
        assert draft is not None and draft.message_id is None  # saved, but known not to be on screen
        await user.send("はい")  # whatever comes next is not taken as an answer: the question is shown
        shown = user.last
        assert shown is not None and "前の質問が届いていなかった" in shown.text and "相談はありましたか" in shown.text
        assert h.api.count("sendMessage") == sends + 1
        await user.press("なかった")
        await user.press("💾 保存")
        row = await h.store.db.fetchone("SELECT headcount FROM outings")
        assert row is not None and row[0] == 12


async def test_a_press_whose_reply_was_lost_shows_the_question_it_missed(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        user = await staff_with_flow(h)
        first = user.last
        assert first is not None
        h.api.inject("editMessageText", status=500, times=1)  # no retries here: the reply is lost
        await user.press("活動先への出向き・参加")
        assert "何をしましたか" in first.text  # still the old question, with buttons one version behind
        toast = await user.press("情報提供", message_id=first.message_id)
        assert toast is not None and "前の質問が届いていなかった" in toast
        assert "支援先" in first.text and "活動内容：" not in first.text
        for label in PLAIN[1:]:
            await user.press(label)
        await user.press("💾 保存")
        row = await h.store.db.fetchone("SELECT activity FROM outings")
        assert row is not None and row[0] == "outing"  # the first answer counted, the stale press did not


async def test_a_saved_record_survives_a_reply_that_never_arrives(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        user = await staff_with_flow(h)
        for label in PLAIN:
            await user.press(label)
        card = user.last
        assert card is not None
        h.api.inject("editMessageText", status=500, times=1)
        await user.press("💾 保存")
        assert await h.count("outings") == 1
        assert await user.press("💾 保存", message_id=card.message_id) == "この記録は保存済みです。"
        assert await h.count("outings") == 1


# ---------------------------------------------------------------------------------------------------------
# The database failing


@pytest.mark.sqlite_only  # SQLite's lock, injected
async def test_a_locked_database_tells_the_person_and_keeps_their_answers(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        h.busy_timeout_ms = 100
        await h.restart()
        user = await staff_with_flow(h)
        await user.press("活動先への出向き・参加")
        other = sqlite3.connect(tmp_path / "fieldbot.sqlite3", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer (a backup, an import) holds the write lock
        try:
            toast = await user.press("高齢者サロン")
            assert toast is not None and "混み合っていて" in toast
            assert "支援先" in user.last.text  # type: ignore[union-attr]  # the same question, still answerable
        finally:
            other.execute("ROLLBACK")
            other.close()
        await user.press("高齢者サロン")
        for label in PLAIN[2:]:
            await user.press(label)
        assert await user.press("💾 保存") == "保存しました"
        assert await h.count("outings") == 1


@pytest.mark.sqlite_only  # SQLite's full and read-only errors, injected
@pytest.mark.parametrize(
    ("problem", "told"),
    [("database or disk is full", "空き容量が足りない"), ("attempt to write a readonly database", "書き込めない")],
)
async def test_a_full_or_read_only_database_writes_nothing_partial_and_the_bot_keeps_running(
    tmp_path: Path, problem: str, told: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(tmp_path) as h:
        user = await staff_with_flow(h)
        for label in PLAIN:
            await user.press(label)
        real_execute = Transaction.execute
        calls = {"n": 0}

        async def failing(tx: Transaction, sql: str, *args: Any, **kwargs: Any) -> Any:
            # The disk fills up in the middle of saving: after the first rows of the submission are written.
            if sql.startswith("INSERT INTO consultations") or sql.startswith("INSERT INTO outings"):
                calls["n"] += 1
                raise sqlite3.OperationalError(problem)
            return await real_execute(tx, sql, *args, **kwargs)

        monkeypatch.setattr(Transaction, "execute", failing)
        toast = await user.press("💾 保存")
        assert toast is not None and told in toast and calls["n"] == 1
        assert await h.count("outings") == 0 and await h.count("submissions") == 0  # rolled back whole
        monkeypatch.setattr(Transaction, "execute", real_execute)
        assert await user.press("💾 保存") == "保存しました"
        assert await h.count("outings") == 1 and await h.count("submissions") == 1
        await user.send("/help")
        assert user.last is not None and "使い方" in user.last.text


# ---------------------------------------------------------------------------------------------------------
# Redelivery


async def test_updates_delivered_again_out_of_order_after_a_restart_change_nothing(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        user = await h.register(STAFF)
        supervisor = await h.register(STAFF + 1, Role.SUPERVISOR)
        ids = [await user.send("/visit")]
        for label in PLAIN:
            await user.press(label)
        ids.append(await supervisor.send("/followups"))
        await user.press("💾 保存")
        ids.append(max(h.api._updates))
        before = (await h.count("outings"), h.api.count("sendMessage"), h.api.count("editMessageText"))
        await h.stop()
        h.api.redeliver(ids[-1])
        await h.start()
        await h.api.wait_for(lambda: h.api.deliveries(ids[-1]) == 2)
        await h.stop()
        h.api.redeliver(ids[1], ids[0])  # older ones, after the newest was seen again
        await h.start()
        await h.api.wait_for(lambda: h.api.deliveries(ids[0]) == 2 and h.api.deliveries(ids[1]) == 2)
        await user.send("/help")  # processed after the redeliveries
        after = (await h.count("outings"), h.api.count("sendMessage"), h.api.count("editMessageText"))
        assert after == (before[0], before[1] + 1, before[2])
