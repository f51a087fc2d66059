"""PostgreSQL: what SQLite's single writer guaranteed holds with writers side by side; the migrations of both
engines are numbered and named alike; the `?` placeholders are translated without touching string literals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from core.crypto import Sealer
from core.models import Role
from storage.postgres import db as pg_db
from storage.postgres.store import PostgresStore
from storage.sqlite import db as sqlite_db
from storage.sqlite.store import SqlStore
from storage.types import AlreadyProcessed, DraftConflict, IdempotencyKey
from tests.conftest import TEST_KEY, open_store
from tests.pg import Cluster, run_aside
from tests.seed import outing
from tests.terminal import Cli, cli_fixture

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@pytest.fixture
async def pg(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[PostgresStore]:
    store = await open_store("postgresql", tmp_path, request)
    assert isinstance(store, PostgresStore)
    try:
        yield store
    finally:
        await store.close()


async def until_someone_waits_for_a_lock(store: SqlStore) -> None:
    """Until another connection of this database waits for a row lock (a condition, not a duration)."""
    for _ in range(2000):
        row = await store.db.fetchone(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if row is not None and row[0] > 0:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("no transaction ever waited for the other's row")


def test_both_engines_have_the_same_migrations_numbered_and_named_alike() -> None:
    sqlite_names = [(version, name) for version, name, _ in sqlite_db.migrations()]
    postgres_names = [(version, name) for version, name, _ in pg_db.migrations()]
    assert postgres_names == sqlite_names


async def test_a_new_database_is_migrated_to_the_newest_schema(pg: PostgresStore) -> None:
    rows = await pg.db.fetchall("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [(r[0], r[1]) for r in rows] == [(v, n) for v, n, _ in pg_db.migrations()]


def test_placeholders_become_numbered_and_string_literals_keep_their_question_marks() -> None:
    text, returns_rows = pg_db.translate("SELECT coalesce(a, '?'), ? FROM t WHERE b = ? AND c = 'it''s ?'")
    assert text == "SELECT coalesce(a, '?'), $1 FROM t WHERE b = $2 AND c = 'it''s ?'"
    assert returns_rows
    text, returns_rows = pg_db.translate("UPDATE t SET a = ?2 WHERE b = ?1 AND c = ?2")
    assert (text, returns_rows) == ("UPDATE t SET a = $2 WHERE b = $1 AND c = $2", False)
    assert pg_db.translate("INSERT INTO t (a) VALUES (?) RETURNING id")[1]


async def test_two_units_recording_the_same_update_at_once_commit_exactly_one(pg: PostgresStore) -> None:
    admin = await pg.staff.ensure_admin(100, NOW)
    other = await pg.staff.ensure_admin(101, NOW)
    key = IdempotencyKey(1, 77)
    first_wrote = asyncio.Event()
    outcomes: dict[str, str] = {}

    async def unit(name: str, staff_id: int, wait: bool) -> None:
        try:
            async with pg.unit(key, NOW) as tx:
                await pg.drafts.create(
                    tx, staff_id=staff_id, chat_id=1, kind="visit", state="{}", boot_id=name, now=NOW
                )
                if wait:  # the first holds its uncommitted record of the update until the second waits for it
                    first_wrote.set()
                    await until_someone_waits_for_a_lock(pg)
            outcomes[name] = "committed"
        except AlreadyProcessed:
            outcomes[name] = "already processed"

    async def second() -> None:
        await first_wrote.wait()
        await unit("second", other.id, wait=False)

    await asyncio.gather(unit("first", admin.id, wait=True), second())
    assert outcomes == {"first": "committed", "second": "already processed"}
    assert await pg.drafts.for_staff(admin.id) is not None
    pg.drafts.forget_cached()
    assert await pg.drafts.for_staff(other.id) is None  # the second's write rolled back with it
    processed = await pg.db.fetchone("SELECT count(*) FROM processed_updates WHERE update_id = 77")
    assert processed is not None and processed[0] == 1


async def test_a_draft_updated_by_two_connections_at_once_keeps_one_update_and_refuses_the_other(
    pg: PostgresStore,
) -> None:
    admin = await pg.staff.ensure_admin(100, NOW)
    async with pg.db.transaction() as tx:
        draft = await pg.drafts.create(tx, staff_id=admin.id, chat_id=1, kind="visit", state="{}", boot_id="a", now=NOW)
    first_wrote = asyncio.Event()

    async def first() -> None:
        async with pg.db.transaction() as tx:
            await pg.drafts.update(tx, draft, state='{"by": "first"}', boot_id="a", now=NOW)
            await tx.execute("SELECT 1")  # the deferred update runs now: the draft's row is this transaction's
            first_wrote.set()
            await until_someone_waits_for_a_lock(pg)

    async def second() -> None:
        await first_wrote.wait()
        with pytest.raises(DraftConflict):
            async with pg.db.transaction() as tx:
                await pg.drafts.update(tx, draft, state='{"by": "second"}', boot_id="b", now=NOW)

    await asyncio.gather(first(), second())
    pg.drafts.forget_cached()
    stored = await pg.drafts.get(draft.id)
    assert stored is not None and (stored.state, stored.version) == ('{"by": "first"}', 2)


async def test_an_invite_redeemed_by_two_people_at_once_registers_one(pg: PostgresStore) -> None:
    admin = await pg.staff.ensure_admin(100, NOW)
    await pg.invites.create("code", Role.STAFF, "west", admin.id, NOW, NOW + timedelta(days=1))
    first_claimed = asyncio.Event()
    results: dict[str, object] = {}

    async def first() -> None:
        async with pg.db.transaction() as tx:
            results["first"] = await pg.invites.redeem("code", 200, "山田", NOW, tx=tx)
            first_claimed.set()
            await until_someone_waits_for_a_lock(pg)

    async def second() -> None:
        await first_claimed.wait()
        results["second"] = await pg.invites.redeem("code", 300, "佐藤", NOW)

    await asyncio.gather(first(), second())
    assert not isinstance(results["first"], str) and results["second"] == "used"
    registered = await pg.db.fetchone("SELECT count(*) FROM staff WHERE telegram_id IN (200, 300)")
    assert registered is not None and registered[0] == 1


async def test_ids_taken_for_an_import_are_never_given_to_another_writer(pg: PostgresStore) -> None:
    admin = await pg.staff.ensure_admin(100, NOW)
    async with pg.db.transaction() as tx:
        taken = await pg.db.dialect.new_ids(tx, "outings", 3)
    assert len(set(taken)) == 3
    async with pg.db.transaction() as tx:
        saved = await tx.execute(
            "INSERT INTO outings (staff_id, date, area, activity, destination, created_at) "
            "VALUES (?, '2026-11-23', 'kyonan', 'outing', 'salon-elderly', 'x') RETURNING id",
            (admin.id,),
        )
    assert int(saved.rows[0][0]) > max(taken)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    yield from cli_fixture(tmp_path, monkeypatch)


def test_the_commands_work_on_the_database_of_database_url_and_backup_names_pg_dump(
    pg_cluster: Cluster, cli: Cli, tmp_path: Path
) -> None:
    url = pg_cluster.url(run_aside(pg_cluster.create_database(template=Cluster.TEMPLATE)))

    async def record() -> None:
        store = await PostgresStore.open(url, Sealer.from_text(TEST_KEY))
        try:
            admin = await store.staff.ensure_admin(100, NOW)
            await outing(store, admin.id, date(2026, 6, 1))
        finally:
            await store.close()

    run_aside(record())
    exported = cli("export", "--fy", "2026", "--out", "fy2026.csv", DATABASE_URL=url)
    assert exported.code == 0, exported
    assert not (tmp_path / "council.sqlite3").exists()  # DATABASE_PATH is not where the data is
    rows = (tmp_path / "fy2026.csv").read_text("utf-8-sig").splitlines()
    assert len(rows) == 2 and "2026-06-01" in rows[1]
    refused = cli("backup", "copy.sqlite3", DATABASE_URL=url)
    assert "pg_dump" in refused.one_error() and not (tmp_path / "copy.sqlite3").exists()
    checked = cli("tallies", "rebuild", "--check", DATABASE_URL=url)
    assert checked.code == 0 and "一致" in checked.out, checked
    assert not (tmp_path / "council.sqlite3").exists()


async def test_workers_claiming_at_once_take_other_peoples_updates_instead_of_waiting(pg: PostgresStore) -> None:
    """Worker 1 is claiming person 10's first update (its transaction holds the row); worker 2, claiming at the
    same moment, takes person 20's update at once (FOR UPDATE SKIP LOCKED) rather than wait for worker 1's
    commit, and never person 10's second update (their first is not handled)."""
    bot = 7
    for update_id, person in ((1, 10), (2, 20), (3, 10)):
        await pg.inbox.enqueue(bot, update_id, person, f'{{"update_id": {update_id}}}', NOW)
    go = asyncio.Event()

    async def second_worker() -> int | None:
        await go.wait()
        claim = await pg.inbox.claim(bot, "w2", NOW, timedelta(seconds=30))
        return claim.update_id if claim is not None else None

    other = asyncio.create_task(second_worker())  # made outside the transaction below: its own connection
    async with pg.db.transaction() as tx:
        held = await tx.execute("UPDATE inbox SET claimed_by = 'w1' WHERE bot_id = ? AND update_id = 1", (bot,))
        assert held.rowcount == 1
        go.set()
        # A deadline only against hanging for ever: without SKIP LOCKED the claim waits for this commit.
        taken = await asyncio.wait_for(asyncio.shield(other), timeout=20)
    assert taken == 2
