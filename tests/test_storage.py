"""Storage on each engine (the `store` fixture: SQLite, then PostgreSQL): migrations, staff and invites, drafts,
submissions, processed updates; and SQLite's own pragmas."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from core.crypto import Sealer, generate_key
from core.models import NewConsultation, NewFollowUp, NewOuting, Role, SavedSubmission, Submission
from storage.sqlite import db as db_module
from storage.sqlite.seal import Seal
from storage.sqlite.store import Store
from storage.types import AlreadyProcessed, DraftConflict, IdempotencyKey

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@pytest.mark.sqlite_only
async def test_the_database_uses_wal_foreign_keys_and_is_migrated(store: Store) -> None:
    assert (await store.db.fetchone("PRAGMA journal_mode"))[0] == "wal"  # type: ignore[index]
    assert (await store.db.fetchone("PRAGMA foreign_keys"))[0] == 1  # type: ignore[index]
    versions = [r[0] for r in await store.db.fetchall("SELECT version FROM schema_migrations")]
    assert versions == list(range(1, len(versions) + 1))
    assert await store.db.integrity_check() == "ok"


async def test_reopening_applies_no_migration_twice(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    first = await Store.open(path)
    await first.staff.ensure_admin(1, NOW)
    await first.close()
    again = await Store.open(path)
    assert (await again.staff.by_telegram_id(1)) is not None
    await again.close()


async def test_an_invite_registers_once_and_expires(store: Store) -> None:
    admin = await store.staff.ensure_admin(100, NOW)
    await store.invites.create("h1", Role.SUPERVISOR, "west", admin.id, NOW, NOW + timedelta(hours=72))
    staff = await store.invites.redeem("h1", 200, "山田", NOW + timedelta(hours=1))
    assert not isinstance(staff, str)
    assert (staff.role, staff.zone, staff.active) == (Role.SUPERVISOR, "west", True)
    assert await store.invites.redeem("h1", 300, "佐藤", NOW) == "used"
    await store.invites.create("h2", Role.STAFF, "west", admin.id, NOW, NOW + timedelta(hours=72))
    assert await store.invites.redeem("h2", 300, "佐藤", NOW + timedelta(hours=72)) == "expired"
    assert await store.invites.redeem("nope", 300, "佐藤", NOW) == "unknown"


async def test_a_deactivated_person_is_inactive_at_once(store: Store) -> None:
    admin = await store.staff.ensure_admin(100, NOW)
    await store.invites.create("h1", Role.STAFF, "west", admin.id, NOW, NOW + timedelta(hours=1))
    staff = await store.invites.redeem("h1", 200, "山田", NOW)
    assert not isinstance(staff, str)
    assert await store.staff.deactivate(staff.id, NOW)
    assert (await store.staff.by_telegram_id(200)).active is False  # type: ignore[union-attr]


async def test_a_draft_update_at_a_stale_version_is_refused(store: Store) -> None:
    admin = await store.staff.ensure_admin(100, NOW)
    async with store.db.transaction() as tx:
        draft = await store.drafts.create(
            tx, staff_id=admin.id, chat_id=100, kind="visit", state="{}", boot_id="a", now=NOW
        )
    async with store.db.transaction() as tx:
        newer = await store.drafts.update(tx, draft, state='{"x":1}', boot_id="a", now=NOW)
    assert newer.version == 2
    with pytest.raises(DraftConflict):
        async with store.db.transaction() as tx:
            await store.drafts.update(tx, draft, state='{"x":2}', boot_id="a", now=NOW)
    assert (await store.drafts.get(draft.id)).state == '{"x":1}'  # type: ignore[union-attr]


async def test_the_same_update_recorded_twice_rolls_back_the_second_change(store: Store) -> None:
    admin = await store.staff.ensure_admin(100, NOW)
    async with store.unit(IdempotencyKey(1, 42), NOW) as tx:
        await store.drafts.create(tx, staff_id=admin.id, chat_id=100, kind="visit", state="{}", boot_id="a", now=NOW)
    with pytest.raises(AlreadyProcessed):
        async with store.unit(IdempotencyKey(1, 42), NOW) as tx:
            await tx.execute("UPDATE drafts SET state = 'twice'")  # rolled back as the unit finds the key recorded
    assert (await store.drafts.for_staff(admin.id)).state == "{}"  # type: ignore[union-attr]
    assert await store.inbox.processed_ids(1) == {42} and not await store.inbox.processed_ids(2)


async def test_a_write_of_its_own_inside_an_open_unit_is_refused_not_left_waiting(store: Store) -> None:
    admin = await store.staff.ensure_admin(100, NOW)
    with pytest.raises(RuntimeError, match="outside the open transaction"):
        async with store.unit(IdempotencyKey(1, 43), NOW):
            await store.staff.rename(admin.id, "changed")  # not in the unit: it would wait for the unit for ever
    assert (await store.staff.get(admin.id)).name != "changed"  # type: ignore[union-attr]


def submission(staff_id: int) -> Submission:
    return Submission(
        staff_id=staff_id,
        date=date(2026, 11, 23),
        area="kyonan",
        outing=NewOuting("outing", "salon-elderly", 12),
        consultations=(
            NewConsultation(
                "outing",
                "individual",
                "services",
                "case",
                ("elderly", "health"),
                True,
                NewFollowUp("境南町 80代女性 A", date(2026, 11, 30)),
            ),
            NewConsultation("outing", "volunteer", "donate", None, (), True),
        ),
        memo="メモ",
    )


async def test_a_submission_saves_everything_and_undo_removes_everything(store: Store) -> None:
    admin = await store.staff.ensure_admin(100, NOW)
    async with store.db.transaction() as tx:
        saved = await store.records.save_submission(tx, submission(admin.id), "visit", NOW)
    counts = {
        t: (await store.db.fetchone(f"SELECT count(*) FROM {t}"))[0]  # type: ignore[index]
        for t in ("outings", "consultations", "consultation_agencies", "followups")
    }
    assert counts == {"outings": 1, "consultations": 2, "consultation_agencies": 2, "followups": 1}
    assert (await store.records.submission(saved.id)) == saved
    async with store.db.transaction() as tx:
        assert not await store.records.delete_submission(tx, saved.id, staff_id=admin.id + 1)
        assert await store.records.delete_submission(tx, saved.id, staff_id=admin.id)
    for table in ("outings", "consultations", "consultation_agencies", "followups", "submissions"):
        assert (await store.db.fetchone(f"SELECT count(*) FROM {table}"))[0] == 0  # type: ignore[index]


async def test_a_failed_save_leaves_nothing_half_written(store: Store) -> None:
    admin = await store.staff.ensure_admin(100, NOW)
    bad = submission(admin.id)
    bad = Submission(bad.staff_id, bad.date, bad.area, NewOuting("outing", "salon-elderly", -5), bad.consultations)
    with pytest.raises(Exception, match=r"(?i)check constraint"):
        async with store.db.transaction() as tx:
            await store.records.save_submission(tx, bad, "visit", NOW)
    assert (await store.db.fetchone("SELECT count(*) FROM submissions"))[0] == 0  # type: ignore[index]


async def test_reads_see_every_committed_write_even_when_many_coroutines_read_at_once(store: Store) -> None:
    """Interleaved cursors on the reader connection once kept an old snapshot: a read missed a newer commit."""
    admins = [await store.staff.ensure_admin(1000 + i, NOW) for i in range(40)]
    drafts = {}
    for admin in admins:
        async with store.db.transaction() as tx:
            drafts[admin.id] = await store.drafts.create(
                tx, staff_id=admin.id, chat_id=1, kind="visit", state="{}", boot_id="b", now=NOW
            )

    async def person(staff_id: int) -> None:
        draft = drafts[staff_id]
        for step in range(10):
            async with store.db.transaction() as tx:
                draft = await store.drafts.update(tx, draft, state=f'{{"step": {step}}}', boot_id="b", now=NOW)
            seen = await store.drafts.get(draft.id)
            assert seen is not None and seen.version == draft.version, (staff_id, step)

    stop = asyncio.Event()

    async def busy_reader() -> None:  # other people's reads, overlapping everyone's
        while not stop.is_set():
            await store.staff.get(admins[0].id)
            await store.db.fetchone("SELECT count(*) FROM drafts")

    readers = [asyncio.create_task(busy_reader()) for _ in range(20)]
    try:
        await asyncio.gather(*(person(a.id) for a in admins))
    finally:
        stop.set()
        await asyncio.gather(*readers)


async def test_a_draft_sealed_with_another_key_is_dropped_instead_of_failing_every_message(store: Store) -> None:
    admin = await store.staff.ensure_admin(100, NOW)
    other = Seal(Sealer.from_text(generate_key()))
    async with store.db.transaction() as tx:
        await tx.execute(
            "INSERT INTO drafts (staff_id, chat_id, kind, state, version, boot_id, created_at, updated_at) "
            "VALUES (?, 100, 'visit', ?, 1, 'a', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')",
            (admin.id, other.seal('{"kind": "visit"}', "drafts.state")),
        )
    assert await store.drafts.for_staff(admin.id) is None
    row = await store.db.fetchone("SELECT count(*) FROM drafts")
    assert row is not None and row[0] == 0


async def old_submission(store: Store, staff_id: int) -> SavedSubmission:
    """`submission` as the code of schema 7 saved it (today's code writes columns that schema has not)."""
    stamp = NOW.isoformat()
    async with store.db.transaction() as tx:
        made = await tx.execute(
            "INSERT INTO submissions (staff_id, kind, created_at) VALUES (?, 'visit', ?)", (staff_id, stamp)
        )
        assert made.lastrowid is not None
        outing = await tx.execute(
            "INSERT INTO outings (submission_id, staff_id, date, area, activity, destination, headcount, created_at) "
            "VALUES (?, ?, '2026-11-23', 'kyonan', 'outing', 'salon-elderly', 12, ?)",
            (made.lastrowid, staff_id, stamp),
        )
        ids = []
        for consulter, category, topic, agencies in (
            ("individual", "services", "case", ("elderly", "health")),
            ("volunteer", "donate", None, ()),
        ):
            saved = await tx.execute(
                "INSERT INTO consultations (submission_id, outing_id, staff_id, date, area, channel, consulter, "
                "consulter_category, topic, at_outing, created_at) "
                "VALUES (?, ?, ?, '2026-11-23', 'kyonan', 'outing', ?, ?, ?, 1, ?)",
                (made.lastrowid, outing.lastrowid, staff_id, consulter, category, topic, stamp),
            )
            assert saved.lastrowid is not None
            ids.append(saved.lastrowid)
            for agency in agencies:
                await tx.execute(
                    "INSERT INTO consultation_agencies (consultation_id, agency) VALUES (?, ?)",
                    (saved.lastrowid, agency),
                )
    return SavedSubmission(made.lastrowid, staff_id, NOW, outing.lastrowid, tuple(ids))


async def test_an_older_database_is_rebuilt_with_ids_never_reused_and_keeps_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.sqlite3"
    key = Sealer.from_text(generate_key())
    every = db_module.migrations()
    monkeypatch.setattr(db_module, "migrations", lambda: every[:7])  # a database made before schema 8
    store = await Store.open(path, key)
    admin = await store.staff.ensure_admin(100, NOW)
    first, second = await old_submission(store, admin.id), await old_submission(store, admin.id)
    await store.close()
    monkeypatch.setattr(db_module, "migrations", lambda: every)
    store = await Store.open(path, key)
    try:
        ids = [r[0] for r in await store.db.fetchall("SELECT id FROM submissions ORDER BY id")]
        assert ids == [first.id, second.id]
        links = await store.db.fetchone("SELECT count(*) FROM consultation_agencies")
        assert links is not None and links[0] == 4
        async with store.db.transaction() as tx:
            assert await store.records.delete_submission(tx, second.id, admin.id)
            third = await store.records.save_submission(tx, submission(admin.id), "visit", NOW)
        assert third.id > second.id and min(third.consultation_ids) > max(second.consultation_ids)
        assert await store.db.fetchall("PRAGMA foreign_key_check") == []
    finally:
        await store.close()
