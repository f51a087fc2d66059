"""Many staff at once: 200 people completing flows concurrently, and a backup taken while they do."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from simulator.botapi import SimUser
from storage.sqlite.backup import backup, check, restore
from storage.sqlite.store import Store
from tests.conftest import TEST_KEY
from tests.harness import Harness, running

pytestmark = pytest.mark.slow

FLOW = (
    "活動先への出向き・参加",
    "高齢者サロン",
    "スキップ",
    "あった",
    "ニーズを抱えている個人の相談",
    "福祉サービス、相談機関の紹介",
    "高齢者支援課",
    "決定（1件）",
    "✅ フォローなし・相談入力を終える",
    "💾 保存",
)


async def complete_flows(user: SimUser, flows: int) -> int:
    saved = 0
    for _ in range(flows):
        await user.send("/visit")
        for label in FLOW:
            toast = await user.press(label, timeout=60)
        saved += toast == "保存しました"
    return saved


async def many_staff(h: Harness, count: int) -> list[SimUser]:
    return [await h.register(10_000 + i) for i in range(count)]


async def test_two_hundred_staff_at_once_lose_nothing_and_duplicate_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with running(tmp_path) as h:
        people = await many_staff(h, 200)
        saved = await asyncio.gather(*(complete_flows(p, 1) for p in people))
        assert sum(saved) == 200
        assert await h.count("outings") == 200 and await h.count("submissions") == 200
        assert await h.count("consultations") == 200 and await h.count("consultation_agencies") == 200
        assert await h.count("drafts") == 0
        per_person = await h.store.db.fetchall("SELECT staff_id, count(*) FROM outings GROUP BY staff_id")
        assert len(per_person) == 200 and {n for _, n in per_person} == {1}
        if isinstance(h.store, Store):  # SQLite's own check of its file (PostgreSQL has none to run)
            assert await h.store.db.integrity_check() == "ok"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


@pytest.mark.sqlite_only  # SQLite's online backup (PostgreSQL's is pg_dump)
async def test_a_backup_taken_under_load_is_consistent_and_restores(tmp_path: Path) -> None:
    async with running(tmp_path) as h:
        people = await many_staff(h, 30)
        work = asyncio.gather(*(complete_flows(p, 2) for p in people))

        def saved_cards() -> int:
            return sum(m.text.startswith("✅ 保存しました") for p in people for m in p.messages)

        await h.api.wait_for(lambda: saved_cards() >= 5, timeout=60)
        copy = await asyncio.to_thread(backup, h.database, tmp_path / "backups" / "during.sqlite3")
        assert sum(await work) == 60
        assert check(copy.path).outings <= 60  # a snapshot from the middle of the load
        # Every submission in the copy is whole: its outing and consultation are both there, or neither is.
        snapshot = await Store.open(copy.path)
        rows = await snapshot.db.fetchall(
            "SELECT s.id, (SELECT count(*) FROM outings o WHERE o.submission_id = s.id), "
            "(SELECT count(*) FROM consultations c WHERE c.submission_id = s.id) FROM submissions s"
        )
        await snapshot.close()
        assert rows and all(outings == 1 and consultations == 1 for _, outings, consultations in rows)
        await h.stop()
        target = tmp_path / "restored" / "fieldbot.sqlite3"
        info, kept = await asyncio.to_thread(restore, copy.path, target, datetime(2026, 11, 23, tzinfo=UTC))
        assert kept is None and info.outings == len(rows)
        from core.crypto import Sealer

        restored = await Store.open(target, Sealer.from_text(TEST_KEY))  # same key, same sealed data
        assert (await restored.db.fetchone("SELECT count(*) FROM outings"))[0] == len(rows)  # type: ignore[index]
        await restored.close()
        await h.start()
