"""Encryption at rest: sealed values open only with their key and in their column; keys check and rotate."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.crypto import Sealer, SealError, generate_key, parse_key
from core.models import NewConsultation, NewFollowUp, Submission
from storage.sqlite.seal import place, rotate_key
from storage.sqlite.store import Store
from storage.types import StorageError

KEY = Sealer.from_text(generate_key())
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@given(st.text())
def test_any_text_round_trips(text: str) -> None:
    assert KEY.open(KEY.seal(text, "followups.reason"), "followups.reason") == text


def test_the_same_text_seals_differently_every_time() -> None:
    assert KEY.seal("同じ", "followups.reason") != KEY.seal("同じ", "followups.reason")


def test_a_value_opens_neither_with_another_key_nor_in_another_column() -> None:
    sealed = KEY.seal("買い物支援", "followups.reason")
    with pytest.raises(SealError, match="another key"):
        Sealer.from_text(generate_key()).open(sealed, "followups.reason")
    with pytest.raises(SealError, match="does not open"):
        KEY.open(sealed, "followup_notes.body")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError):
        KEY.open(tampered, "followups.reason")


@pytest.mark.parametrize("text", ["", "short", "!!!!", "a" * 60])
def test_malformed_keys_are_refused(text: str) -> None:
    with pytest.raises(SealError):
        parse_key(text)


async def test_a_database_refuses_a_key_it_was_not_sealed_with(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    await (await Store.open(path, KEY)).close()
    with pytest.raises(StorageError, match="not the key this database was encrypted with"):
        await Store.open(path, Sealer.from_text(generate_key()))
    await (await Store.open(path, KEY)).close()


async def test_rotation_reseals_everything_in_one_transaction(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    path = tmp_path / "db.sqlite3"
    store = await Store.open(path, KEY)
    now = datetime(2026, 11, 23, tzinfo=UTC)
    admin = await store.staff.ensure_admin(1, now)
    async with store.db.transaction() as tx:
        await store.drafts.create(
            tx, staff_id=admin.id, chat_id=1, kind="visit", state='{"memo": "x"}', boot_id="b", now=now
        )
    await store.inbox.receive(1, [(5, '{"update_id": 5}')], now)
    new = Sealer.from_text(generate_key())
    done = await rotate_key(store.db, KEY, new)
    assert done["drafts"] == 1 and done["inbox"] == 1
    await store.close()
    with pytest.raises(StorageError):
        await Store.open(path, KEY)
    reopened = await Store.open(path, new)
    assert (await reopened.drafts.for_staff(admin.id)).state == '{"memo": "x"}'  # type: ignore[union-attr]
    assert await reopened.inbox.unprocessed(1) == [(5, '{"update_id": 5}')]
    await reopened.close()


async def test_without_a_key_sealed_data_is_neither_written_nor_read(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    store = await Store.open(tmp_path / "db.sqlite3")
    with pytest.raises(StorageError, match="no FIELD_ENCRYPTION_KEY"):
        await store.inbox.receive(1, [(5, "{}")], datetime(2026, 1, 1, tzinfo=UTC))
    await store.close()


async def flag_two(store: Store) -> list[int]:
    """Two follow-ups with reasons, saved as the bot saves them; their ids."""
    admin = await store.staff.ensure_admin(100, NOW)
    for reason in ("理由その一", "理由その二"):
        item = NewConsultation(
            "phone", "individual", None, None, (), False, NewFollowUp("A", date(2026, 12, 1), reason)
        )
        async with store.db.transaction() as tx:
            await store.records.save_submission(
                tx, Submission(admin.id, date(2026, 11, 23), "kyonan", None, (item,)), "consult", NOW
            )
    return [int(r[0]) for r in await store.db.fetchall("SELECT id FROM followups ORDER BY id")]


async def test_a_sealed_value_swapped_into_another_row_does_not_open(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "db.sqlite3", KEY)
    try:
        first, second = await flag_two(store)
        detail = await store.followups.detail(first, None, NOW)
        assert detail is not None and detail.reason == "理由その一"
        async with store.db.transaction() as tx:  # an attacker with the file swaps the two sealed reasons
            await tx.execute(
                "UPDATE followups SET reason = (SELECT reason FROM followups f2 WHERE f2.id = ?) WHERE id = ?",
                (second, first),
            )
        with pytest.raises(SealError):
            await store.followups.detail(first, None, NOW)
    finally:
        await store.close()


async def test_values_sealed_before_they_were_bound_to_their_rows_are_resealed_once(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = await Store.open(path, KEY)
    first, second = await flag_two(store)
    async with store.db.transaction() as tx:  # as a database of an earlier version held them: column-bound
        for followup, text in ((first, "古い理由"), (second, "もう一つ")):
            old = KEY.seal(text, "followups.reason")
            await tx.execute("UPDATE followups SET reason = ? WHERE id = ?", (old, followup))
        await tx.execute("DELETE FROM meta WHERE key = 'seal_binding'")
    await store.close()
    reopened = await Store.open(path, KEY)
    try:
        detail = await reopened.followups.detail(first, None, NOW)
        assert detail is not None and detail.reason == "古い理由"
        row = await reopened.db.fetchone("SELECT reason FROM followups WHERE id = ?", (first,))
        assert row is not None and KEY.open(row[0], place("followups", "reason", first)) == "古い理由"
    finally:
        await reopened.close()
