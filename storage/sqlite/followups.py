"""Follow-ups: lists by scope, the sealed reason and notes, changes (each audited), reminders and retention."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from core.clock import parse_utc, utc_iso
from storage.sql import Database, Row, Transaction
from storage.sqlite.audit import AuditLog
from storage.sqlite.seal import Seal, place
from storage.types import FollowUp, FollowUpDetail, FollowUpScope, Note


def _scope_where(scope: FollowUpScope) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if scope.owner_id is not None:
        clauses.append("f.owner_id = ?")
        params.append(scope.owner_id)
    if scope.areas is not None:
        clauses.append(f"f.area IN ({', '.join('?' * len(scope.areas))})" if scope.areas else "FALSE")
        params += list(scope.areas)
    return (" AND ".join(clauses) or "TRUE"), params


_SELECT = (
    "SELECT f.id, f.owner_id, s.name AS owner_name, f.area, f.label, f.due_date, f.status, f.outcome, "
    "f.created_at, f.closed_at, f.erased_at, f.reminded_on, s.active AS owner_active "
    "FROM followups f JOIN staff s ON s.id = f.owner_id"
)


def _followup(row: Row) -> FollowUp:
    return FollowUp(
        id=row["id"],
        owner_id=row["owner_id"],
        owner_name=row["owner_name"],
        area=row["area"],
        label=row["label"],
        due=date.fromisoformat(row["due_date"]),
        status=row["status"],
        outcome=row["outcome"],
        created_at=parse_utc(row["created_at"]),
        closed_at=parse_utc(row["closed_at"]) if row["closed_at"] else None,
        erased=row["erased_at"] is not None,
        reminded_on=date.fromisoformat(row["reminded_on"]) if row["reminded_on"] else None,
        owner_active=bool(row["owner_active"]),
    )


class FollowUpRepository:
    def __init__(self, db: Database, seal: Seal, audit: AuditLog) -> None:
        self.db = db
        self.seal = seal
        self.audit = audit

    async def open_list(self, scope: FollowUpScope, today: date, *, offset: int = 0, limit: int = 50) -> list[FollowUp]:
        """Open follow-ups, overdue first (oldest due first), then by due date."""
        where, params = _scope_where(scope)
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE f.status = 'open' AND {where} "
            "ORDER BY f.due_date < ? DESC, f.due_date, f.id LIMIT ? OFFSET ?",
            [*params, today.isoformat(), limit, offset],
        )
        return [_followup(r) for r in rows]

    async def open_count(self, scope: FollowUpScope, *, tx: Transaction | None = None) -> int:
        """How many open follow-ups the scope has (in the caller's transaction when given)."""
        where, params = _scope_where(scope)
        sql = f"SELECT count(*) FROM followups f WHERE f.status = 'open' AND {where}"
        row = (await tx.execute(sql, params)).one() if tx is not None else await self.db.fetchone(sql, params)
        return int(row[0]) if row else 0

    async def get(self, followup_id: int) -> FollowUp | None:
        row = await self.db.fetchone(f"{_SELECT} WHERE f.id = ?", (followup_id,))
        return _followup(row) if row else None

    async def detail(self, followup_id: int, actor_id: int | None, now: datetime) -> FollowUpDetail | None:
        """The reason and the dated notes, opened; the reading itself is recorded in the audit log."""
        found = await self.get(followup_id)
        if found is None:
            return None
        row = await self.db.fetchone("SELECT reason FROM followups WHERE id = ?", (followup_id,))
        notes = await self.db.fetchall(
            "SELECT s.name, n.body, n.created_at, n.id FROM followup_notes n JOIN staff s ON s.id = n.author_id "
            "WHERE n.followup_id = ? ORDER BY n.created_at, n.id",
            (followup_id,),
        )
        await self.audit.record(None, actor_id, "followup.view", f"followup:{followup_id}", f"{len(notes)} notes", now)
        return FollowUpDetail(
            found,
            self.seal.open_optional(row[0] if row else None, place("followups", "reason", followup_id)),
            [Note(n[0], self.seal.open(n[1], place("followup_notes", "body", n[3])), parse_utc(n[2])) for n in notes],
        )

    async def add_note(
        self, followup_id: int, author_id: int, body: str, now: datetime, *, tx: Transaction | None = None
    ) -> bool:
        """Add a dated note, in the caller's transaction; the note the author was asked to type is no longer awaited."""
        async with self.db.within(tx) as conn:
            await conn.execute("DELETE FROM pending_inputs WHERE staff_id = ?", (author_id,))
            if not await _touch_open(conn, followup_id, now):
                return False
            added = await conn.execute(
                "INSERT INTO followup_notes (followup_id, author_id, body, created_at) VALUES (?, ?, ?, ?) "
                "RETURNING id",
                (followup_id, author_id, b"", utc_iso(now)),
            )
            note_id = int(added.rows[0][0])
            sealed = self.seal.seal(body, place("followup_notes", "body", note_id))
            await conn.execute("UPDATE followup_notes SET body = ? WHERE id = ?", (sealed, note_id))
            await self.audit.record(conn, author_id, "followup.note", f"followup:{followup_id}", "", now)
        return True

    async def set_due(
        self, followup_id: int, due: date, actor_id: int, now: datetime, *, tx: Transaction | None = None
    ) -> bool:
        """A new due date restarts the reminders from that date; a typed date no longer awaited goes too."""
        async with self.db.within(tx) as conn:
            await conn.execute("DELETE FROM pending_inputs WHERE staff_id = ?", (actor_id,))
            changed = await conn.execute(
                "UPDATE followups SET due_date = ?, reminded_on = NULL, updated_at = ? "
                "WHERE id = ? AND status = 'open'",
                (due.isoformat(), utc_iso(now), followup_id),
            )
            if changed.rowcount != 1:
                return False
            await self.audit.record(conn, actor_id, "followup.due", f"followup:{followup_id}", due.isoformat(), now)
        return True

    async def close(
        self, followup_id: int, outcome: str, actor_id: int, now: datetime, *, tx: Transaction | None = None
    ) -> bool:
        async with self.db.within(tx) as conn:
            changed = await conn.execute(
                "UPDATE followups SET status = 'closed', outcome = ?, closed_at = ?, updated_at = ? "
                "WHERE id = ? AND status = 'open'",
                (outcome, utc_iso(now), utc_iso(now), followup_id),
            )
            if changed.rowcount != 1:
                return False
            await self.audit.record(conn, actor_id, "followup.close", f"followup:{followup_id}", outcome, now)
        return True

    async def reopen(
        self, followup_id: int, closed_at: datetime, actor_id: int, now: datetime, *, tx: Transaction | None = None
    ) -> str | None:
        """Undo one closing: the follow-up is open again only if it is still closed by the closing made at
        `closed_at` (and its text not erased); returns the outcome undone, audited, or None (nothing changed)."""
        async with self.db.within(tx) as conn:
            row = (
                await conn.execute(
                    "SELECT outcome FROM followups WHERE id = ? AND status = 'closed' AND closed_at = ? "
                    "AND erased_at IS NULL",
                    (followup_id, utc_iso(closed_at)),
                )
            ).one()
            if row is None:
                return None
            # The same conditions again: a closing undone meanwhile by another writer leaves nothing to undo.
            changed = await conn.execute(
                "UPDATE followups SET status = 'open', outcome = NULL, closed_at = NULL, updated_at = ? "
                "WHERE id = ? AND status = 'closed' AND closed_at = ? AND erased_at IS NULL",
                (utc_iso(now), followup_id, utc_iso(closed_at)),
            )
            if changed.rowcount != 1:
                return None
            outcome = str(row[0])
            await self.audit.record(conn, actor_id, "followup.reopen", f"followup:{followup_id}", outcome, now)
        return outcome

    async def reassign(
        self, followup_id: int, owner_id: int, actor_id: int, now: datetime, *, tx: Transaction | None = None
    ) -> bool:
        async with self.db.within(tx) as conn:
            changed = await conn.execute(
                "UPDATE followups SET owner_id = ?, reminded_on = NULL, updated_at = ? "
                "WHERE id = ? AND status = 'open'",
                (owner_id, utc_iso(now), followup_id),
            )
            if changed.rowcount != 1:
                return False
            detail = f"owner {owner_id}"
            await self.audit.record(conn, actor_id, "followup.reassign", f"followup:{followup_id}", detail, now)
        return True

    async def due_for_reminder(self, today: date) -> list[FollowUp]:
        """Open follow-ups due by today, not reminded on or after their due date within the last 7 days."""
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE f.status = 'open' AND f.due_date <= ? AND (f.reminded_on IS NULL "
            "OR f.reminded_on < f.due_date OR f.reminded_on <= ?) ORDER BY f.due_date, f.id",
            (today.isoformat(), date.fromordinal(today.toordinal() - 7).isoformat()),
        )
        return [_followup(r) for r in rows]

    async def mark_reminded(self, followup_id: int, on: date) -> None:
        await self.db.execute("UPDATE followups SET reminded_on = ? WHERE id = ?", (on.isoformat(), followup_id))

    async def closed_before(self, moment: datetime) -> list[FollowUp]:
        """Closed follow-ups whose personal text is still kept, closed before `moment` (retention candidates)."""
        rows = await self.db.fetchall(
            f"{_SELECT} WHERE f.status = 'closed' AND f.erased_at IS NULL AND f.closed_at < ? ORDER BY f.closed_at",
            (utc_iso(moment),),
        )
        return [_followup(r) for r in rows]

    async def erase(self, ids: Sequence[int], erased_label: str, now: datetime) -> int:
        """Erase the reason and notes and replace the label; the row (and so every count) stays."""
        if not ids:
            return 0
        async with self.db.transaction() as tx:
            marks = ", ".join("?" * len(ids))
            await tx.execute(f"DELETE FROM followup_notes WHERE followup_id IN ({marks})", list(ids))
            await tx.execute(
                f"UPDATE followups SET reason = NULL, label = ?, erased_at = ?, updated_at = ? WHERE id IN ({marks})",
                [erased_label, utc_iso(now), utc_iso(now), *ids],
            )
            for followup_id in ids:
                await self.audit.record(tx, None, "followup.erase", f"followup:{followup_id}", "retention", now)
        return len(ids)


async def _touch_open(tx: Transaction, followup_id: int, now: datetime) -> bool:
    """Stamp an open follow-up as changed; False when it is not open. A change to a follow-up is made by one
    statement that checks it is open: where writers run side by side (PostgreSQL), one that closes it meanwhile
    is waited for, and then seen."""
    done = await tx.execute(
        "UPDATE followups SET updated_at = ? WHERE id = ? AND status = 'open'", (utc_iso(now), followup_id)
    )
    return done.rowcount == 1
