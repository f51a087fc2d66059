"""The inbox as a queue workers share: claims keep one person's updates in order and one at a time, a lease that
runs out frees a claim, and processes racing for claims on one SQLite file never take an update twice."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.crypto import Sealer
from storage.sqlite.lock import WriterLock
from storage.sqlite.store import SqlStore, Store
from storage.types import IdempotencyKey, StorageError
from tests.conftest import TEST_KEY

BOT = 7
NOW = datetime(2026, 11, 23, tzinfo=UTC)
LEASE = timedelta(seconds=30)
REPO = Path(__file__).resolve().parent.parent


async def keep(store: SqlStore, *updates: tuple[int, int | None]) -> None:
    for update_id, key in updates:
        await store.inbox.enqueue(BOT, update_id, key, json.dumps({"update_id": update_id}), NOW)


async def claimed(store: SqlStore, worker: str, now: datetime = NOW) -> int | None:
    claim = await store.inbox.claim(BOT, worker, now, LEASE)
    return claim.update_id if claim is not None else None


async def test_an_update_is_kept_once_sealed_and_claimed_with_its_json(store: SqlStore) -> None:
    assert await store.inbox.enqueue(BOT, 1, 10, '{"update_id":1,"message":{"text":"相談メモ"}}', NOW)
    assert not await store.inbox.enqueue(BOT, 1, 10, '{"update_id":1}', NOW)  # delivered again
    raw = await store.db.fetchone("SELECT payload FROM inbox WHERE update_id = 1")
    assert raw is not None and "相談メモ".encode() not in bytes(raw[0])
    claim = await store.inbox.claim(BOT, "w", NOW, LEASE)
    assert claim is not None and (claim.update_id, claim.chat_key, claim.attempts) == (1, 10, 1)
    assert json.loads(claim.payload)["message"]["text"] == "相談メモ"


async def test_one_persons_updates_are_claimed_one_at_a_time_in_order_others_side_by_side(store: SqlStore) -> None:
    await keep(store, (1, 10), (2, 20), (3, 10), (4, None), (5, 20), (6, None))
    assert [await claimed(store, "a") for _ in range(5)] == [1, 2, 4, 6, None]
    assert await store.inbox.release(BOT, 1, "a", NOW, handled=True)
    assert await claimed(store, "b") == 3  # the next of person 10, now that the one before it is done
    assert await claimed(store, "b") is None  # 20 and 10 are both claimed
    assert await store.inbox.release(BOT, 2, "a", NOW, handled=False)  # given back unhandled
    assert await claimed(store, "b") == 2
    assert not await store.inbox.release(BOT, 2, "a", NOW, handled=True)  # no longer a's


async def test_an_update_already_processed_is_never_claimed(store: SqlStore) -> None:
    await keep(store, (1, 10), (2, 10))
    await store.inbox.record(IdempotencyKey(BOT, 1), NOW)  # handled by long polling, say, before the switch
    assert await claimed(store, "a") is None  # the processed update still holds its person's queue...
    assert await store.inbox.take_over(BOT, NOW) == []  # ...until a heartbeat marks it handled
    assert await claimed(store, "a") == 2


async def test_a_lease_that_runs_out_frees_the_claim_unless_its_update_was_processed(store: SqlStore) -> None:
    await keep(store, (1, 10), (2, 20))
    assert [await claimed(store, "dead"), await claimed(store, "dead")] == [1, 2]
    await store.inbox.record(IdempotencyKey(BOT, 2), NOW)  # its unit of work committed before the worker died
    assert await store.inbox.take_over(BOT, NOW + LEASE) == []  # not yet: the lease runs to the end
    assert await store.inbox.renew(BOT, "dead", NOW + timedelta(seconds=20), LEASE) == 2
    assert await store.inbox.take_over(BOT, NOW + LEASE + timedelta(seconds=1)) == []  # renewed
    later = NOW + timedelta(seconds=51)
    assert await store.inbox.take_over(BOT, later) == [(1, "dead")]
    claim = await store.inbox.claim(BOT, "live", later, LEASE)
    assert claim is not None and (claim.update_id, claim.attempts) == (1, 2)
    handled = await store.db.fetchall("SELECT update_id FROM inbox WHERE handled_at IS NOT NULL")
    assert [r[0] for r in handled] == [2]


async def test_claims_of_two_stores_on_one_file_never_take_an_update_twice(tmp_path: Path) -> None:
    path = tmp_path / "fieldbot.sqlite3"
    first = await Store.open(path, Sealer.from_text(TEST_KEY))
    second = await Store.open(path, Sealer.from_text(TEST_KEY))
    try:
        await keep(first, *((u, u % 5) for u in range(1, 61)))
        taken: list[int] = []

        async def worker(store: SqlStore, name: str) -> None:
            while (claim := await store.inbox.claim(BOT, name, NOW, LEASE)) is not None:
                taken.append(claim.update_id)
                await store.inbox.release(BOT, claim.update_id, name, NOW, handled=True)

        await asyncio.gather(*(worker(s, f"w{i}") for i, s in enumerate((first, second, first, second))))
        assert sorted(taken) == list(range(1, 61))
    finally:
        await first.close()
        await second.close()


# Claims updates until none is left, holding each a moment; prints (worker, update id, key, start, end) as JSON.
WORKER_SCRIPT = """
import asyncio, json, os, sys, time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from core.crypto import Sealer
from storage.sqlite.store import SqlStore, Store

async def main():
    store = await Store.open(Path(sys.argv[1]), Sealer.from_text(os.environ["KEY"]), busy_timeout_ms=10000)
    name, idle = sys.argv[2], 0
    now = datetime(2026, 11, 23, tzinfo=UTC)
    Path(sys.argv[3], "ready-" + name).touch()
    while not Path(sys.argv[3], "go").exists():  # every process starts claiming at once
        await asyncio.sleep(0.005)
    while idle < 20:
        claim = await store.inbox.claim(7, name, now, timedelta(seconds=30))
        if claim is None:
            idle += 1
            await asyncio.sleep(0.01)
            continue
        idle = 0
        start = time.monotonic()
        await asyncio.sleep(0.002)
        end = time.monotonic()
        assert await store.inbox.release(7, claim.update_id, name, now, handled=True)
        print(json.dumps([name, claim.update_id, claim.chat_key, start, end]), flush=True)
    await store.close()

asyncio.run(main())
"""


def claiming_process(database: Path, name: str, signals: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KEY": TEST_KEY, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", WORKER_SCRIPT, str(database), name, str(signals)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, env=env, cwd=REPO)


@pytest.mark.slow
async def test_worker_processes_racing_for_claims_take_each_update_once_and_one_persons_in_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fieldbot.sqlite3"
    store = await Store.open(path, Sealer.from_text(TEST_KEY))
    try:
        await keep(store, *((u, u % 7) for u in range(1, 301)))
    finally:
        await store.close()
    names = ["p0", "p1", "p2"]
    processes = [claiming_process(path, name, tmp_path) for name in names]
    try:
        for _ in range(6000):
            if all((tmp_path / f"ready-{name}").exists() for name in names) or any(p.poll() for p in processes):
                break
            await asyncio.sleep(0.01)
        (tmp_path / "go").touch()
        outputs = [await asyncio.to_thread(p.communicate, timeout=120) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    assert [p.returncode for p in processes] == [0, 0, 0]
    done = [json.loads(line) for out, _ in outputs for line in out.decode().splitlines()]
    assert sorted(u for _, u, _, _, _ in done) == list(range(1, 301))  # every update, each once
    assert {w for w, _, _, _, _ in done} == set(names)  # the processes did race
    for key in range(7):
        mine = sorted((start, end, u) for _, u, k, start, end in done if k == key)
        assert [u for _, _, u in mine] == sorted(u for _, _, u in mine)  # begun in update order
        assert all(a_end <= b_start for (_, a_end, _), (b_start, _, _) in itertools.pairwise(mine))


def test_webhook_processes_share_the_database_and_still_keep_out_the_polling_bot_and_imports(tmp_path: Path) -> None:
    database = tmp_path / "fieldbot.sqlite3"
    serve = WriterLock.acquire(database, "fieldbot serve", shared=True)
    work = WriterLock.acquire(database, "fieldbot work", shared=True)
    try:
        with pytest.raises(StorageError, match="in use by fieldbot work"):
            WriterLock.acquire(database, "the bot")
        work.release()
        with pytest.raises(StorageError, match="in use by"):
            WriterLock.acquire(database, "import")
    finally:
        serve.release()
        work.release()
    with WriterLock.acquire(database, "the bot"), pytest.raises(StorageError, match="in use by the bot"):
        WriterLock.acquire(database, "fieldbot work", shared=True)
