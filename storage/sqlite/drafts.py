"""Flows in progress, one per staff member, saved after every answer so nothing is lost on a crash."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from core.clock import parse_utc, utc_iso
from core.crypto import SealError
from storage.sql import Database, Row, Transaction
from storage.sqlite.seal import Seal, place
from storage.types import Draft, DraftConflict, PendingInput

log = logging.getLogger(__name__)


def _draft(row: Row, seal: Seal) -> Draft:
    return Draft(
        id=row["id"],
        staff_id=row["staff_id"],
        chat_id=row["chat_id"],
        kind=row["kind"],
        state=seal.open(row["state"], place("drafts", "state", row["id"])),
        version=row["version"],
        message_id=row["message_id"],
        boot_id=row["boot_id"],
        created_at=parse_utc(row["created_at"]),
        updated_at=parse_utc(row["updated_at"]),
    )


class DraftRepository:
    """Drafts hold what was typed so far (a follow-up's label and reason among it): their state is sealed."""

    def __init__(self, db: Database, seal: Seal) -> None:
        self.db = db
        self.seal = seal
        # Read on every tap, written on every answer: a write-through copy of what was committed (this process is
        # the only writer of drafts), so a tap reads no row and opens no seal. The database stays the truth.
        self._by_id: dict[int, Draft] = {}
        self._of_staff: dict[int, int | None] = {}

    def forget_cached(self) -> None:
        """Drop the copy: another process may have written drafts since (webhook workers, bot/worker.py)."""
        self._by_id.clear()
        self._of_staff.clear()

    def _remember(self, draft: Draft) -> None:
        self._by_id[draft.id] = draft
        self._of_staff[draft.staff_id] = draft.id

    def _forget(self, draft_id: int) -> None:
        draft = self._by_id.pop(draft_id, None)
        if draft is not None:
            self._of_staff[draft.staff_id] = None
        else:
            self._of_staff.clear()  # not known here: forget every staff mapping rather than guess

    async def for_staff(self, staff_id: int) -> Draft | None:
        if staff_id in self._of_staff:
            known = self._of_staff[staff_id]
            return None if known is None else await self.get(known)
        row = await self.db.fetchone("SELECT * FROM drafts WHERE staff_id = ?", (staff_id,))
        draft = await self._readable(row) if row is not None else None
        if draft is None:
            self._of_staff[staff_id] = None
            return None
        self._remember(draft)
        return draft

    async def get(self, draft_id: int) -> Draft | None:
        if draft_id in self._by_id:
            return self._by_id[draft_id]
        row = await self.db.fetchone("SELECT * FROM drafts WHERE id = ?", (draft_id,))
        draft = await self._readable(row) if row is not None else None
        if draft is not None:
            self._remember(draft)
        return draft

    async def _readable(self, row: Row) -> Draft | None:
        """The draft, or None when it cannot be opened (sealed with a key the data no longer uses): such a draft
        is dropped, so that its owner's next message starts afresh instead of failing for ever."""
        try:
            return _draft(row, self.seal)
        except SealError:
            log.warning("draft %s could not be opened with the current key and was dropped", row["id"])
            await self.db.execute("DELETE FROM drafts WHERE id = ?", (row["id"],))
            return None

    async def create(
        self,
        tx: Transaction,
        *,
        staff_id: int,
        chat_id: int,
        kind: str,
        state: str,
        boot_id: str,
        now: datetime,
    ) -> Draft:
        """A new draft, replacing any earlier one of the same staff member."""
        replaced = self._of_staff.get(staff_id)
        await tx.execute("DELETE FROM drafts WHERE staff_id = ?", (staff_id,))
        stamp = utc_iso(now)
        made = await tx.execute(
            "INSERT INTO drafts (staff_id, chat_id, kind, state, version, boot_id, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 1, ?, ?, ?) RETURNING id",
            (staff_id, chat_id, kind, b"", boot_id, stamp, stamp),
        )
        draft_id = int(made.rows[0][0])
        # Sealed for its row, so it needs the row's id: written with the commit, in the same trip.
        sealed = self.seal.seal(state, place("drafts", "state", draft_id))
        tx.defer("UPDATE drafts SET state = ? WHERE id = ?", (sealed, draft_id), changes=1, error=DraftConflict())
        draft = Draft(draft_id, staff_id, chat_id, kind, state, 1, None, boot_id, now, now)

        def committed() -> None:
            if replaced is not None:
                self._by_id.pop(replaced, None)
            self._remember(draft)

        self.db.on_commit(committed)
        return draft

    async def update(
        self,
        tx: Transaction | None,
        draft: Draft,
        *,
        state: str,
        boot_id: str,
        now: datetime,
        chat_id: int | None = None,
        unshown: bool = False,
    ) -> Draft:
        """Store a new state if the draft is still at the version that was read; bumps the version. `unshown`:
        no message shows the new question yet (one is sent after the commit: if it never arrives, the next input
        shows the question again instead of being taken as its answer).

        In the caller's transaction, the version is checked as it commits (DraftConflict rolls it all back):
        the write costs no trip to the database of its own. Without `tx`, one statement committed on its own.
        """
        sql = (
            "UPDATE drafts SET state = ?, version = version + 1, boot_id = ?, updated_at = ?, "
            "chat_id = COALESCE(?, chat_id)"
            + (", message_id = NULL" if unshown else "")
            + " WHERE id = ? AND version = ?"
        )
        sealed = self.seal.seal(state, place("drafts", "state", draft.id))
        params = (sealed, boot_id, utc_iso(now), chat_id, draft.id, draft.version)
        if tx is not None:
            tx.defer(sql, params, changes=1, error=DraftConflict(draft.id))
        elif await self.db.execute(sql, params) != 1:
            raise DraftConflict(draft.id)
        updated = Draft(
            draft.id,
            draft.staff_id,
            chat_id if chat_id is not None else draft.chat_id,
            draft.kind,
            state,
            draft.version + 1,
            None if unshown else draft.message_id,
            boot_id,
            draft.created_at,
            now,
        )
        if tx is None:
            self._remember(updated)  # already committed
        else:
            self.db.on_commit(lambda: self._remember(updated))
        return updated

    async def set_message(self, draft_id: int, message_id: int | None) -> None:
        """Remember which message shows the current question (so its buttons can be retired later)."""
        await self.db.execute("UPDATE drafts SET message_id = ? WHERE id = ?", (message_id, draft_id))
        known = self._by_id.get(draft_id)
        if known is not None:
            self._remember(dataclasses.replace(known, message_id=message_id))

    async def delete(self, tx: Transaction, draft_id: int, *, version: int | None = None) -> bool:
        """Remove a draft (only at `version`, when given: a stale button must not drop a newer draft)."""
        if version is None:
            cursor = await tx.execute("DELETE FROM drafts WHERE id = ?", (draft_id,))
        else:
            cursor = await tx.execute("DELETE FROM drafts WHERE id = ? AND version = ?", (draft_id, version))
        if cursor.rowcount > 0:
            self.db.on_commit(lambda: self._forget(draft_id))
        return cursor.rowcount > 0

    # --- abandoned drafts (the nightly expiry in services/reminders.py) ----------------------------------------

    EXPIRY_NOTE = "draft-note:"  # the meta keys of the notes of dropped drafts still to send

    async def untouched_since(self, moment: datetime) -> list[Draft]:
        """Drafts nobody answered since before `moment` (their `updated_at`), oldest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM drafts WHERE updated_at < ? ORDER BY updated_at, id", (utc_iso(moment),)
        )
        found = [await self._readable(row) for row in rows]
        return [draft for draft in found if draft is not None]

    async def expire(self, tx: Transaction, draft: Draft, note: tuple[str, int, str] | None) -> bool:
        """Drop an abandoned draft if it is still at the version that was read (an answer since keeps it) and, in
        the same transaction, queue the note to its owner: (outbox key, chat id, text), None for no note. A
        queued note waits in `meta` (no schema change) until `expiry_note_done`: the drop and the note to send
        commit together, so a process stopped in between still sends it after the restart, once."""
        if not await self.delete(tx, draft.id, version=draft.version):
            return False
        if note is not None:
            key, chat_id, text = note
            await tx.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (self.EXPIRY_NOTE + key, f"{chat_id}\n{text}"),
            )
        return True

    async def expiry_notes(self) -> list[tuple[str, int, str]]:
        """The notes of dropped drafts not yet settled: (outbox key, chat id, text)."""
        rows = await self.db.fetchall(
            "SELECT key, value FROM meta WHERE key > ? AND key < ? ORDER BY key",
            (self.EXPIRY_NOTE, self.EXPIRY_NOTE[:-1] + chr(ord(self.EXPIRY_NOTE[-1]) + 1)),
        )
        notes = []
        for row in rows:
            chat_id, _, text = str(row[1]).partition("\n")
            notes.append((str(row[0]).removeprefix(self.EXPIRY_NOTE), int(chat_id), text))
        return notes

    async def expiry_note_done(self, key: str) -> None:
        """The note went out, or never will (its outbox entry says which): it is no longer queued."""
        await self.db.execute("DELETE FROM meta WHERE key = ?", (self.EXPIRY_NOTE + key,))


class PendingInputs:
    """The one typed answer a follow-up button is waiting for (kept apart from the flow's draft)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def expect(
        self,
        staff_id: int,
        kind: str,
        followup_id: int,
        message_id: int | None,
        now: datetime,
        *,
        tx: Transaction | None = None,
    ) -> None:
        async with self.db.within(tx) as conn:
            await conn.execute(
                "INSERT INTO pending_inputs (staff_id, kind, followup_id, message_id, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (staff_id) DO UPDATE SET kind = excluded.kind, "
                "followup_id = excluded.followup_id, message_id = excluded.message_id, "
                "created_at = excluded.created_at",
                (staff_id, kind, followup_id, message_id, utc_iso(now)),
            )

    async def get(self, staff_id: int, not_before: datetime) -> PendingInput | None:
        row = await self.db.fetchone(
            "SELECT * FROM pending_inputs WHERE staff_id = ? AND created_at >= ?", (staff_id, utc_iso(not_before))
        )
        if row is None:
            return None
        return PendingInput(
            row["staff_id"], row["kind"], row["followup_id"], row["message_id"], parse_utc(row["created_at"])
        )

    async def clear(self, staff_id: int, *, tx: Transaction | None = None) -> None:
        async with self.db.within(tx) as conn:
            await conn.execute("DELETE FROM pending_inputs WHERE staff_id = ?", (staff_id,))
