"""`fieldbot migrate --to postgresql://…`: a council's SQLite database copied into PostgreSQL, every table, sealed
values untouched, verified; a second run copies nothing, a stopped run resumes, a target holding someone else's
rows is refused, the password never shows, and councils of one deployment land in schemas of their own."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import pytest

from bot.councils import council_settings
from bot.settings import load_settings
from core.crypto import Sealer, generate_key
from core.models import NewFollowUp, NewOuting, NewPlace, Submission
from core.taxonomy import load_taxonomy
from services.imports import import_file
from storage.postgres.copy import Progress, VerifyFailed, copy_to_postgres
from storage.postgres.store import PostgresStore
from storage.sqlite.lock import WriterLock
from storage.sqlite.store import SqlStore, Store
from storage.types import IdempotencyKey
from tests.conftest import TEST_KEY
from tests.pg import Cluster, run_aside
from tests.seed import consultation
from tests.terminal import Cli, cli_fixture

STAMP = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
REASON = "長男と二人暮らし、通院の付き添いが要る"
NOTE = "12月1日に電話、様子は落ち着いている"
MEMO = "サロンで3人から相談"
PASSWORD = "Pw-never-shown-7731"
BOT = 123456
UPDATE = '{"update_id": 41, "message": {"text": "相談の内容"}}'
RECORDS = (
    "kind,date,staff,area,activity,destination,headcount,channel,consulter,consulter_category,topic,agencies,"
    "at_outing\n"
    "outing,2026/5/10,山田　花子,境野,outing,子ども食堂,12,,,,,,\n"
    "consultation,2026/5/11,Suzuki,chuo,,,,phone,individual,,,elderly,yes\n"
)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    yield from cli_fixture(tmp_path, monkeypatch)


def empty_database(cluster: Cluster) -> str:
    """A new database with nothing in it, not even the schema (opening it migrates it)."""
    return cluster.url(run_aside(cluster.create_database()))


def with_password(url: str) -> str:
    """The same database, with a password in the URL (the throwaway server trusts everyone, and ignores it)."""
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")


async def seed(path: Path, key: str = TEST_KEY, *, telegram_id: int = 100, area: str = "kyonan") -> None:
    """A council with some of everything: staff, a place, outings with consultations referred to agencies, a
    follow-up with a sealed reason and note, a sealed memo, an import, audit rows, tallies, and an undone
    record (so that SQLite's counter of ids handed out is past the largest id left)."""
    store = await Store.open(path, Sealer.from_text(key))
    try:
        admin = await store.staff.ensure_admin(telegram_id, STAMP)
        other = await store.staff.ensure_admin(telegram_id + 1, STAMP)
        async with store.db.transaction() as tx:
            place = await store.places.add(tx, NewPlace("ひだまりサロン", "salon-elderly", area), STAMP, by=admin.id)
        for i in range(5):
            followup = NewFollowUp(f"A-{i}", date(2026, 12, 1), REASON) if i == 0 else None
            visit = NewOuting("outing", "salon-elderly", 4 + i, place.id)
            items = (consultation(agencies=("elderly",), followup=followup), consultation(consulter="agency"))
            async with store.db.transaction() as tx:
                await store.records.save_submission(
                    tx, Submission(admin.id, date(2026, 6, 1 + i), area, visit, items, MEMO), "visit", STAMP
                )
        row = await store.db.fetchone("SELECT id FROM followups")
        assert row is not None
        await store.followups.add_note(int(row[0]), admin.id, NOTE, STAMP)
        assert await store.followups.detail(int(row[0]), admin.id, STAMP) is not None  # an audit row
        records = path.with_name("records.csv")
        records.write_text(RECORDS, encoding="utf-8")
        imported = await import_file(
            store, load_taxonomy(), "records", records, dry_run=False, today=date(2026, 11, 1), now=STAMP
        )
        assert imported.ok
        async with store.db.transaction() as tx:
            undone = await store.records.save_submission(
                tx,
                Submission(other.id, date(2026, 7, 1), area, NewOuting("outing", "salon-elderly", None)),
                "visit",
                STAMP,
            )
        async with store.db.transaction() as tx:
            assert await store.records.delete_submission(tx, undone.id, other.id)
        # The bot stopped with one update handled and one kept but not yet handled.
        await store.inbox.receive(BOT, [(40, UPDATE.replace("41", "40")), (41, UPDATE)], STAMP)
        await store.inbox.record(IdempotencyKey(BOT, 40), STAMP)
    finally:
        await store.close()


def sqlite_counts(path: Path) -> dict[str, int]:
    with closing(sqlite3.connect(path)) as db:
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND name <> 'schema_migrations'"
            )
        ]
        return {name: int(db.execute(f"SELECT count(*) FROM {name}").fetchone()[0]) for name in names}


def largest_ids(path: Path) -> dict[str, int]:
    """Per table with ids, the largest id SQLite ever handed out (of rows deleted since too)."""
    with closing(sqlite3.connect(path)) as db:
        found = {str(name): int(seq) for name, seq in db.execute("SELECT name, seq FROM sqlite_sequence")}
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
            if any(column[1] == "id" for column in db.execute(f"PRAGMA table_info({table})")):
                largest = int(db.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0])
                found[table] = max(found.get(table, 0), largest)
        return found


def max_id(path: Path, table: str) -> int:
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute(f"SELECT max(id) FROM {table}").fetchone()[0])


def postgres_counts(url: str, schema: str = "public") -> dict[str, int]:
    async def count() -> dict[str, int]:
        connection = await asyncpg.connect(url)
        try:
            names = [
                r[0]
                for r in await connection.fetch(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 "
                    "AND table_name <> 'schema_migrations'",
                    schema,
                )
            ]
            return {name: int(await connection.fetchval(f'SELECT count(*) FROM "{schema}"."{name}"')) for name in names}
        finally:
            await connection.close()

    return asyncio.run(count())


def report_json(cli: Cli, *argv: str, **env: str | None) -> str:
    shown = cli("report", "--fy", "2026", "--format", "json", *argv, **env)
    assert shown.code == 0, shown
    return shown.out


def test_a_council_copied_to_postgresql_reports_the_same_and_its_sealed_text_opens_with_the_same_key(
    pg_cluster: Cluster, cli: Cli, tmp_path: Path
) -> None:
    database = tmp_path / "council.sqlite3"
    asyncio.run(seed(database))
    url = empty_database(pg_cluster)
    migrated = cli("migrate", "--to", url)
    assert migrated.code == 0, migrated
    counts = sqlite_counts(database)
    assert counts["followup_notes"] == 1 and counts["imports"] == 1 and counts["audit"] > 0
    assert counts["daily_tallies"] > 0 and counts["consultation_agencies"] > 0 and counts["places"] == 1
    assert postgres_counts(url) == counts
    for table, rows in counts.items():
        assert f"  {table}：{rows:,}行 一致" in migrated.out
    assert f"{len(counts)}表・{sum(counts.values()):,}行が移し元と移し先で一致しました" in migrated.out
    assert "DATABASE_URL" in migrated.out.splitlines()[-1]
    assert report_json(cli, DATABASE_URL=url) == report_json(cli, DATABASE_URL=None)
    assert cli("check", DATABASE_URL=url).code == 0  # the key check came along: the same key opens it

    ever = largest_ids(database)
    assert ever["submissions"] > max_id(database, "submissions")  # the undone one's id is past every row left

    async def on_postgres() -> None:
        store = await PostgresStore.open(url, Sealer.from_text(TEST_KEY))
        try:
            row = await store.db.fetchone("SELECT id FROM followups WHERE reason IS NOT NULL")
            assert row is not None
            detail = await store.followups.detail(int(row[0]), None, STAMP)
            assert detail is not None and detail.reason == REASON and [n.body for n in detail.notes] == [NOTE]
            memos = await store.db.fetchall("SELECT id, memo FROM submissions WHERE memo IS NOT NULL")
            assert memos and all(store.seal.open(bytes(m[1]), f"submissions.memo#{m[0]}") == MEMO for m in memos)
            assert await store.inbox.unprocessed(BOT) == [(41, UPDATE)]  # handled by the new deployment
            await new_rows_come_after_the_copied_ones(store, ever)
        finally:
            await store.close()

    run_aside(on_postgres())


async def new_rows_come_after_the_copied_ones(store: SqlStore, ever: dict[str, int]) -> None:
    staff = await store.staff.ensure_admin(999, STAMP)
    assert staff.id > ever["staff"]
    async with store.db.transaction() as tx:
        saved = await store.records.save_submission(
            tx,
            Submission(staff.id, date(2026, 8, 1), "kyonan", NewOuting("outing", "salon-elderly", None)),
            "visit",
            STAMP,
        )
    # Past the undone submission's ids too: SQLite never handed them out twice, and neither does PostgreSQL.
    assert saved.id > ever["submissions"] and saved.outing_id is not None and saved.outing_id > ever["outings"]


def test_a_second_run_copies_nothing_and_says_so(pg_cluster: Cluster, cli: Cli, tmp_path: Path) -> None:
    database = tmp_path / "council.sqlite3"
    asyncio.run(seed(database))
    url = empty_database(pg_cluster)
    assert cli("migrate", "--to", url).code == 0
    again = cli("migrate", "--to", url)
    assert again.code == 0, again
    counts = sqlite_counts(database)
    assert f"書き込む行はありませんでした：移し先はすでに移し元と同じです（{len(counts)}表" in again.out
    assert "行を書き込みました" not in again.out
    assert f"outings：{counts['outings']:,}行、すべて移し先にあります" in again.out
    assert postgres_counts(url) == counts


class Stopped(Exception):
    """The copy stopped from outside (a crash, a lost connection)."""


def test_a_run_stopped_half_way_completes_when_run_again(pg_cluster: Cluster, cli: Cli, tmp_path: Path) -> None:
    database = tmp_path / "council.sqlite3"
    asyncio.run(seed(database))
    counts = sqlite_counts(database)
    url = empty_database(pg_cluster)

    def stop_in_outings(step: Progress) -> None:
        if step.table == "outings" and not step.done:
            raise Stopped  # after the first batch of outings: staff and places are there, outings half

    with pytest.raises(Stopped):
        run_aside(copy_to_postgres(database, url, batch=2, progress=stop_in_outings))
    partial = postgres_counts(url)
    assert partial["staff"] == counts["staff"] and partial["outings"] == 2 < counts["outings"]
    assert partial["followup_notes"] == 0

    resumed = cli("migrate", "--to", url)
    assert resumed.code == 0, resumed
    assert "staff：" in resumed.out and f"staff：{counts['staff']}行、すべて移し先にあります" in resumed.out
    assert f"outings：{counts['outings'] - 2}行を書き込みました（移し元{counts['outings']}行）" in resumed.out
    assert postgres_counts(url) == counts

    clean = empty_database(pg_cluster)
    assert cli("migrate", "--to", clean).code == 0
    assert report_json(cli, DATABASE_URL=url) == report_json(cli, DATABASE_URL=clean)


def test_a_copy_that_does_not_check_out_is_not_reported_done(pg_cluster: Cluster, tmp_path: Path) -> None:
    database = tmp_path / "council.sqlite3"
    asyncio.run(seed(database))
    url = empty_database(pg_cluster)

    def lose_a_row_at_the_end(step: Progress) -> None:
        if step.table == "pending_inputs" and step.done:  # the last table: every row written, none verified
            run_aside(execute(url, "DELETE FROM audit WHERE id = (SELECT max(id) FROM audit)"))

    with pytest.raises(VerifyFailed) as failed:
        run_aside(copy_to_postgres(database, url, progress=lose_a_row_at_the_end))
    assert failed.value.table == "audit"
    assert failed.value.target_rows == failed.value.source_rows - 1
    report = run_aside(copy_to_postgres(database, url))  # run again: the missing row is written, all checks out
    assert [(t.table, t.copied) for t in report.tables if t.copied] == [("audit", 1)]
    assert postgres_counts(url) == sqlite_counts(database)


def test_a_target_holding_rows_that_are_not_the_sources_is_refused_and_left_as_it_was(
    pg_cluster: Cluster, cli: Cli, tmp_path: Path
) -> None:
    asyncio.run(seed(tmp_path / "council.sqlite3"))
    other_council = empty_database(pg_cluster)

    async def someone_elses(url: str) -> None:
        store = await PostgresStore.open(url, Sealer.from_text(generate_key()))
        try:
            await store.staff.ensure_admin(555, STAMP)
        finally:
            await store.close()

    run_aside(someone_elses(other_council))
    before = postgres_counts(other_council)
    refused = cli("migrate", "--to", other_council)
    assert "移し先に、移し元にない行" in refused.one_error() and "staff 1行" in refused.err
    assert postgres_counts(other_council) == before

    # A copy that has since been used (a row changed under the same id) is not overwritten either.
    used = empty_database(pg_cluster)
    assert cli("migrate", "--to", used).code == 0
    run_aside(execute(used, "UPDATE places SET name = 'ほかの名前'"))
    changed = cli("migrate", "--to", used)
    assert "places 1行" in changed.one_error()


async def execute(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def test_a_target_opened_once_with_the_same_key_counts_as_empty_and_with_another_key_does_not(
    pg_cluster: Cluster, cli: Cli, tmp_path: Path
) -> None:
    asyncio.run(seed(tmp_path / "council.sqlite3"))
    checked_first = empty_database(pg_cluster)
    assert cli("check", DATABASE_URL=checked_first).code == 0  # opens it with the key: a key check of its own
    migrated = cli("migrate", DATABASE_URL=checked_first)  # no --to: DATABASE_URL
    assert migrated.code == 0, migrated
    assert cli("check", DATABASE_URL=checked_first).code == 0

    another_key = empty_database(pg_cluster)
    assert cli("check", DATABASE_URL=another_key, FIELD_ENCRYPTION_KEY=generate_key()).code == 0
    refused = cli("migrate", "--to", another_key, FIELD_ENCRYPTION_KEY=TEST_KEY)
    assert "meta 1行" in refused.one_error()


def test_the_password_never_shows_in_output_errors_or_logs(
    pg_cluster: Cluster, cli: Cli, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    asyncio.run(seed(tmp_path / "council.sqlite3"))
    url = with_password(empty_database(pg_cluster))
    assert PASSWORD in url
    from_env = cli("migrate", "--to-env", "TARGET_URL", TARGET_URL=url)
    assert from_env.code == 0, from_env
    assert "postgres:***@" in from_env.out
    again = cli("migrate", "--to", url)
    assert again.code == 0
    run_aside(execute(url, "UPDATE places SET name = 'ほかの名前'"))
    refused = cli("migrate", "--to", url)
    assert refused.code != 0
    socket = pg_cluster.socket_dir
    nowhere = f"postgresql://postgres:{PASSWORD}@/no_such_database?host={socket}"
    unreachable = cli("migrate", "--to", nowhere)
    assert "途中で止まりました" in unreachable.one_error()
    in_query = f"postgresql://postgres@/no_such_database?host={socket}&password={PASSWORD}"
    also = cli("migrate", "--to", in_query)
    assert "途中で止まりました" in also.one_error() and "password=***" in also.err
    missing = cli("migrate", "--to-env", "NOT_SET_ANYWHERE")
    assert "NOT_SET_ANYWHERE" in missing.one_error()
    assert cli("migrate", "--to", "mysql://root:" + PASSWORD + "@db/x").code != 0
    for result in (from_env, again, refused, unreachable, also, missing):
        assert PASSWORD not in result.out + result.err
    assert PASSWORD not in caplog.text
    assert all(PASSWORD not in str(record.args) for record in caplog.records)


def test_the_bot_must_be_stopped_first(pg_cluster: Cluster, cli: Cli, tmp_path: Path) -> None:
    database = tmp_path / "council.sqlite3"
    asyncio.run(seed(database))
    url = empty_database(pg_cluster)
    with WriterLock.acquire(database, "the bot"):
        busy = cli("migrate", "--to", url)
    assert "the bot" in busy.one_error()
    assert postgres_counts(url) == {}  # not even opened
    assert "データベースがありません" in cli("migrate", "--to", url, DATABASE_PATH=str(tmp_path / "none")).one_error()
    assert not (tmp_path / "none").exists()


def test_councils_of_one_deployment_each_go_into_a_schema_of_their_own(
    pg_cluster: Cluster, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COUNCILS_DIR", str(tmp_path / "councils"))
    for code, name in (("kita", "北区社会福祉協議会"), ("minami", "南区社会福祉協議会")):
        assert cli("council", "add", code, "--name", name).code == 0
    for code, telegram_id in (("kita", 100), ("minami", 200)):
        own = council_settings(load_settings(), code)
        key = own.field_encryption_key
        assert key is not None
        asyncio.run(seed(own.database_path, key.get_secret_value(), telegram_id=telegram_id))
    url = empty_database(pg_cluster)
    assert "--council" in cli("migrate", "--to", url).one_error()
    kita = cli("migrate", "--council", "kita", "--to", url)
    assert kita.code == 0, kita
    assert "スキーマ council_kita" in kita.out
    assert cli("migrate", "--council", "minami", "--to", url).code == 0

    async def telegram_ids(schema: str) -> set[int]:
        connection = await asyncpg.connect(url)
        try:
            rows = await connection.fetch(f"SELECT telegram_id FROM {schema}.staff WHERE telegram_id IS NOT NULL")
            return {int(r[0]) for r in rows}
        finally:
            await connection.close()

    assert run_aside(telegram_ids("council_kita")) == {100, 101}
    assert run_aside(telegram_ids("council_minami")) == {200, 201}
    assert postgres_counts(url, "public") == {}  # nothing of either council outside its schema
    for code in ("kita", "minami"):
        own = council_settings(load_settings(), code)
        assert postgres_counts(url, f"council_{code}") == sqlite_counts(own.database_path)
        on_sqlite = report_json(cli, "--council", code, DATABASE_URL=None)
        assert report_json(cli, "--council", code, DATABASE_URL=url) == on_sqlite
        assert cli("check", "--council", code, DATABASE_URL=url).code == 0  # each schema opens with its own key
