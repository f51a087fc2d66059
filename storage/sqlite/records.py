"""Outings, consultations, their agencies and follow-up flags: saved together, undone together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Any

from core.clock import parse_utc, utc_iso
from core.models import SavedSubmission, Submission
from storage.sql import Database, Transaction
from storage.sqlite.seal import Seal, place
from storage.sqlite.tallies import count_submission, uncount_submission
from storage.types import EXPORT_COLUMNS, RecentOuting, StorageError

__all__ = ["EXPORT_COLUMNS", "RecordRepository", "export_rows"]


class RecordRepository:
    def __init__(self, db: Database, seal: Seal) -> None:
        self.db = db
        self.seal = seal

    async def save_submission(
        self, tx: Transaction, submission: Submission, kind: str, now: datetime, draft_id: int | None = None
    ) -> SavedSubmission:
        """Write every record of a completed flow inside the caller's transaction."""
        stamp = utc_iso(now)
        day = submission.date.isoformat()
        cursor = await tx.execute(
            "INSERT INTO submissions (staff_id, kind, memo, created_at, draft_id) VALUES (?, ?, NULL, ?, ?) "
            "RETURNING id",
            (submission.staff_id, kind, stamp, draft_id),
        )
        submission_id = int(cursor.rows[0][0])
        if submission.memo is not None:
            self._seal_later(tx, "submissions", "memo", submission_id, submission.memo)
        outing_id = None
        if submission.outing is not None:
            outing = submission.outing
            place_id = outing.place_id
            if outing.new_place is not None:
                place_id = await self._new_place(tx, submission, outing.new_place, stamp)
            cursor = await tx.execute(
                "INSERT INTO outings (submission_id, staff_id, date, area, activity, destination, headcount, "
                "place_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    submission_id,
                    submission.staff_id,
                    day,
                    submission.area,
                    outing.activity,
                    outing.destination,
                    outing.headcount,
                    place_id,
                    stamp,
                ),
            )
            outing_id = int(cursor.rows[0][0])
        consultation_ids = []
        for consultation in submission.consultations:
            cursor = await tx.execute(
                "INSERT INTO consultations (submission_id, outing_id, staff_id, date, area, channel, consulter, "
                "consulter_category, topic, from_agency, at_outing, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    submission_id,
                    outing_id,
                    submission.staff_id,
                    day,
                    submission.area,
                    consultation.channel,
                    consultation.consulter,
                    consultation.consulter_category,
                    consultation.topic,
                    consultation.from_agency,
                    int(consultation.at_outing),
                    stamp,
                ),
            )
            consultation_id = int(cursor.rows[0][0])
            consultation_ids.append(consultation_id)
            if consultation.agencies:
                await tx.executemany(
                    "INSERT INTO consultation_agencies (consultation_id, agency) VALUES (?, ?)",
                    [(consultation_id, agency) for agency in consultation.agencies],
                )
            if consultation.followup is not None:
                flagged = await tx.execute(
                    "INSERT INTO followups (consultation_id, owner_id, area, label, reason, due_date, created_at, "
                    "updated_at) VALUES (?, ?, ?, ?, NULL, ?, ?, ?) RETURNING id",
                    (
                        consultation_id,
                        submission.staff_id,
                        submission.area,
                        consultation.followup.label,
                        consultation.followup.due.isoformat(),
                        stamp,
                        stamp,
                    ),
                )
                if consultation.followup.reason is not None:
                    followup_id = int(flagged.rows[0][0])
                    self._seal_later(tx, "followups", "reason", followup_id, consultation.followup.reason)
        await count_submission(tx, submission_id)  # the reports' tallies, in the same transaction
        return SavedSubmission(submission_id, submission.staff_id, now, outing_id, tuple(consultation_ids))

    def _seal_later(self, tx: Transaction, table: str, column: str, row_id: int, text: str) -> None:
        """Personal text is sealed for its row, so it is written once the row has its id: with the commit."""
        sealed = self.seal.seal(text, place(table, column, row_id))
        tx.defer(
            f"UPDATE {table} SET {column} = ? WHERE id = ?",
            (sealed, row_id),
            changes=1,
            error=StorageError(f"{table} {row_id} went away while it was being saved"),
        )

    async def _new_place(self, tx: Transaction, submission: Submission, name: str, stamp: str) -> int:
        """A place named during an outing: the registered one of that area and name, else a new one that a
        supervisor is to confirm (kind: the outing's 支援先)."""
        assert submission.outing is not None
        found = await tx.execute("SELECT id FROM places WHERE area = ? AND name = ?", (submission.area, name))
        if found.rows:
            return int(found.rows[0][0])
        made = await tx.execute(
            "INSERT INTO places (name, kind, area, status, confirmed, created_by, created_at, updated_at) "
            "VALUES (?, ?, ?, 'active', 0, ?, ?, ?) RETURNING id",
            (name, submission.outing.destination, submission.area, submission.staff_id, stamp, stamp),
        )
        return int(made.rows[0][0])

    async def recent_outings(self, staff_id: int, limit: int = 3) -> list[RecentOuting]:
        """A staff member's last distinct outings (activity, kind and place), most recently recorded first, each
        with the area and headcount of its latest: what 前回と同じ offers."""
        rows = await self.db.fetchall(
            "SELECT activity, destination, area, headcount, place_id FROM outings WHERE id IN (SELECT max(id) "
            "FROM outings WHERE staff_id = ? GROUP BY activity, destination, coalesce(place_id, 0)) "
            "ORDER BY id DESC LIMIT ?",
            (staff_id, limit),
        )
        return [RecentOuting(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    async def saved_from(self, draft_id: int, staff_id: int) -> int | None:
        """The submission a draft was saved as, if it was."""
        row = await self.db.fetchone(
            "SELECT id FROM submissions WHERE draft_id = ? AND staff_id = ?", (draft_id, staff_id)
        )
        return int(row[0]) if row else None

    async def submission(self, submission_id: int) -> SavedSubmission | None:
        row = await self.db.fetchone(
            "SELECT s.id, s.staff_id, s.created_at, o.id AS outing_id FROM submissions s "
            "LEFT JOIN outings o ON o.submission_id = s.id WHERE s.id = ?",
            (submission_id,),
        )
        if row is None:
            return None
        ids = await self.db.fetchall(
            "SELECT id FROM consultations WHERE submission_id = ? ORDER BY id", (submission_id,)
        )
        return SavedSubmission(
            row["id"],
            row["staff_id"],
            parse_utc(row["created_at"]),
            row["outing_id"],
            tuple(r[0] for r in ids),
        )

    async def delete_submission(self, tx: Transaction, submission_id: int, staff_id: int) -> bool:
        """Undo: remove the submission and, through the cascade, everything it saved (and what it counted)."""
        found = await tx.execute("SELECT id FROM submissions WHERE id = ? AND staff_id = ?", (submission_id, staff_id))
        if not found.rows:
            return False
        await uncount_submission(tx, submission_id)
        cursor = await tx.execute("DELETE FROM submissions WHERE id = ?", (submission_id,))
        return cursor.rowcount > 0

    async def memos_saved_before(self, moment: datetime) -> list[tuple[int, datetime]]:
        """Submissions saved before `moment` whose memo is still kept (retention candidates): (id, saved at)."""
        rows = await self.db.fetchall(
            "SELECT id, created_at FROM submissions WHERE memo IS NOT NULL AND created_at < ? ORDER BY created_at, id",
            (utc_iso(moment),),
        )
        return [(int(r[0]), parse_utc(r[1])) for r in rows]

    async def erase_memos(self, tx: Transaction, ids: list[int]) -> list[int]:
        """Erase the memo of these submissions in the caller's transaction (which audits each); every record
        stays, so every count is unchanged. Returns the ids whose memo was erased now."""
        erased: list[int] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            done = await tx.execute(
                f"UPDATE submissions SET memo = NULL WHERE memo IS NOT NULL AND id IN ({', '.join('?' * len(chunk))}) "
                "RETURNING id",
                chunk,
            )
            erased += [int(row[0]) for row in done.rows]
        return sorted(erased)


# One row per outing and per consultation, in the columns of `fieldbot import records` (codes, not labels;
# the agencies of consultation_agencies are the referrals).
# The last column is the record's record_id (migration 0007), the same in every database that holds it.
_EXPORT = (
    "SELECT 'outing', o.date, s.name, o.area, o.activity, o.destination, o.headcount, NULL, NULL, NULL, NULL, "
    "NULL, NULL, NULL, p.name, o.record_id FROM outings o JOIN staff s ON s.id = o.staff_id "
    "LEFT JOIN places p ON p.id = o.place_id WHERE o.date BETWEEN ?1 AND ?2 "
    "UNION ALL "
    "SELECT 'consultation', c.date, s.name, c.area, NULL, NULL, NULL, c.channel, c.consulter, c.consulter_category, "
    "c.from_agency, c.topic, "
    "(SELECT {agencies} FROM consultation_agencies a WHERE a.consultation_id = c.id), "
    "c.at_outing, NULL, c.record_id FROM consultations c JOIN staff s ON s.id = c.staff_id "
    "WHERE c.date BETWEEN ?1 AND ?2 "
    "ORDER BY 2"
)


async def export_rows(db: Database, start: date, end: date, batch: int = 5000) -> AsyncIterator[list[tuple[Any, ...]]]:
    """Every record dated start..end in batches, streamed from the database (never the whole year in memory).

    On a connection of its own: a cursor open for the whole export holds one consistent snapshot, which must
    not become the snapshot of every other read.
    """
    sql = _EXPORT.format(agencies=db.dialect.string_agg("a.agency", "'|'"))
    async for rows in db.stream(sql, (start.isoformat(), end.isoformat()), batch):
        yield rows
