"""Staff members and the invites that register them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from core.clock import parse_utc, utc_iso
from core.models import Invite, Role, Staff
from storage.sql import Database, Row, Transaction
from storage.types import HandoverNote

_COLUMNS = "id, telegram_id, name, role, zone, area, active, imported"


def _staff(row: Row) -> Staff:
    return Staff(
        id=row["id"],
        telegram_id=row["telegram_id"],
        name=row["name"],
        role=Role(row["role"]),
        zone=row["zone"],
        area=row["area"],
        active=bool(row["active"]),
        imported=bool(row["imported"]),
    )


def _invite(row: Row) -> Invite:
    return Invite(
        id=row["id"],
        role=Role(row["role"]),
        zone=row["zone"],
        created_by=row["created_by"],
        created_at=parse_utc(row["created_at"]),
        expires_at=parse_utc(row["expires_at"]),
        used_by=row["used_by"],
        used_at=parse_utc(row["used_at"]) if row["used_at"] else None,
    )


class StaffCache:
    """Who is who, by Telegram id: read on every update, changed rarely. Every write to staff clears it, so a
    deactivation takes effect at the very next update (this process is the only writer of staff rows)."""

    def __init__(self) -> None:
        self.by_telegram: dict[int, Staff | None] = {}

    def clear(self) -> None:
        self.by_telegram.clear()


class StaffRepository:
    def __init__(self, db: Database, cache: StaffCache | None = None) -> None:
        self.db = db
        self.cache = cache or StaffCache()

    async def by_telegram_id(self, telegram_id: int) -> Staff | None:
        if telegram_id in self.cache.by_telegram:
            return self.cache.by_telegram[telegram_id]
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM staff WHERE telegram_id = ?", (telegram_id,))
        found = _staff(row) if row else None
        if len(self.cache.by_telegram) > 10_000:
            self.cache.clear()  # strangers probing the bot must not grow it without bound
        self.cache.by_telegram[telegram_id] = found
        return found

    async def get(self, staff_id: int) -> Staff | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM staff WHERE id = ?", (staff_id,))
        return _staff(row) if row else None

    async def all(self, *, include_imported: bool = False) -> list[Staff]:
        where = "" if include_imported else "WHERE imported = 0"
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM staff {where} ORDER BY active DESC, role, name, id")
        return [_staff(r) for r in rows]

    async def ensure_admin(self, telegram_id: int, now: datetime) -> Staff:
        """Admins named in the settings are admins from the first start, and stay active."""
        self.cache.clear()
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO staff (telegram_id, name, role, zone, created_at) VALUES (?, ?, 'admin', NULL, ?) "
                "ON CONFLICT (telegram_id) DO UPDATE SET role = 'admin', zone = NULL, active = 1, "
                "deactivated_at = NULL",
                (telegram_id, f"admin {telegram_id}", utc_iso(now)),
            )
        staff = await self.by_telegram_id(telegram_id)
        assert staff is not None
        return staff

    async def rename(self, staff_id: int, name: str) -> None:
        self.cache.clear()
        await self.db.execute("UPDATE staff SET name = ? WHERE id = ?", (name, staff_id))

    async def set_area(self, staff_id: int, area: str, *, tx: Transaction | None = None) -> None:
        self.cache.clear()
        async with self.db.within(tx) as conn:
            await conn.execute("UPDATE staff SET area = ? WHERE id = ?", (area, staff_id))
            self.db.on_commit(self.cache.clear)

    async def deactivate(
        self, staff_id: int, now: datetime, *, actor_id: int | None = None, tx: Transaction | None = None
    ) -> bool:
        """Effective at once (the cache is cleared); audited."""
        return await self._set_active(staff_id, False, now, actor_id, tx)

    async def reactivate(
        self, staff_id: int, now: datetime, *, actor_id: int | None = None, tx: Transaction | None = None
    ) -> bool:
        """Only an admin's explicit action brings a deactivated person back (never an invite); audited."""
        return await self._set_active(staff_id, True, now, actor_id, tx)

    async def change_role(
        self,
        staff_id: int,
        role: Role,
        zone: str | None,
        now: datetime,
        *,
        actor_id: int | None = None,
        tx: Transaction | None = None,
    ) -> bool:
        """An admin's explicit change of someone's role and zone (the home area is kept only in the same zone);
        audited. Also brings back a deactivated person."""
        self.cache.clear()
        async with self.db.within(tx) as conn:
            cursor = await conn.execute(
                "UPDATE staff SET role = ?, zone = ?, active = 1, deactivated_at = NULL, "
                "area = CASE WHEN zone = ? OR (zone IS NULL AND CAST(? AS TEXT) IS NULL) THEN area ELSE NULL END "
                "WHERE id = ?",
                (role.value, zone, zone, zone, staff_id),
            )
            if cursor.rowcount > 0:
                await _audit(conn, actor_id, "staff.role", f"staff:{staff_id}", f"{role.value} {zone or '-'}", now)
            self.db.on_commit(self.cache.clear)
        return cursor.rowcount > 0

    async def _set_active(
        self, staff_id: int, active: bool, now: datetime, actor_id: int | None, tx: Transaction | None
    ) -> bool:
        self.cache.clear()
        async with self.db.within(tx) as conn:
            cursor = await conn.execute(
                "UPDATE staff SET active = ?, deactivated_at = ? WHERE id = ? AND active = ?",
                (int(active), None if active else utc_iso(now), staff_id, int(not active)),
            )
            if cursor.rowcount > 0:
                action = "staff.reactivate" if active else "staff.deactivate"
                await _audit(conn, actor_id, action, f"staff:{staff_id}", "", now)
            self.db.on_commit(self.cache.clear)
        return cursor.rowcount > 0

    HANDOVER_NOTE = "handover-note:"  # meta keys of queued handover notes: this prefix, then the outbox key

    async def queue_handover(self, tx: Transaction, notes: Sequence[HandoverNote]) -> None:
        """Queue notes to supervisors in the caller's transaction (the deactivation's). They wait in `meta` (no
        schema change) until `handover_note_done`, so a process stopped before sending them sends them after
        the restart, and the outbox key makes each go once."""
        for note in notes:
            value = json.dumps({"chat": note.chat_id, "staff": note.staff_id, "text": note.text}, ensure_ascii=False)
            await tx.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (self.HANDOVER_NOTE + note.key, value),
            )

    async def handover_notes(self) -> list[HandoverNote]:
        """The queued handover notes not yet settled, in the order of their keys."""
        prefix = self.HANDOVER_NOTE
        rows = await self.db.fetchall(
            "SELECT key, value FROM meta WHERE key > ? AND key < ? ORDER BY key",
            (prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)),
        )
        notes = []
        for row in rows:
            value = json.loads(str(row[1]))
            key = str(row[0]).removeprefix(prefix)
            notes.append(HandoverNote(key, int(value["chat"]), int(value["staff"]), str(value["text"])))
        return notes

    async def handover_note_done(self, key: str) -> None:
        """The note went out, or never will (its outbox entry says which): it is no longer queued."""
        await self.db.execute("DELETE FROM meta WHERE key = ?", (self.HANDOVER_NOTE + key,))

    async def imported(self, tx: Transaction, name: str, now: datetime) -> int:
        """The id of a staff member known only from imported records (no Telegram account, no access)."""
        row = (await tx.execute("SELECT id FROM staff WHERE name = ? ORDER BY imported, id LIMIT 1", (name,))).one()
        if row:
            return int(row[0])
        made = await tx.execute(
            "INSERT INTO staff (telegram_id, name, role, active, imported, created_at) "
            "VALUES (NULL, ?, 'staff', 0, 1, ?) RETURNING id",
            (name, utc_iso(now)),
        )
        return int(made.rows[0][0])


class InviteRepository:
    def __init__(self, db: Database, staff_cache: StaffCache | None = None) -> None:
        self.db = db
        self.staff_cache = staff_cache or StaffCache()

    async def create(
        self,
        code_hash: str,
        role: Role,
        zone: str | None,
        created_by: int,
        now: datetime,
        expires_at: datetime,
        *,
        tx: Transaction | None = None,
    ) -> int:
        async with self.db.within(tx) as conn:
            made = await conn.execute(
                "INSERT INTO invites (code_hash, role, zone, created_by, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (code_hash, role.value, zone, created_by, utc_iso(now), utc_iso(expires_at)),
            )
            invite_id = int(made.rows[0][0])
            detail = f"{role.value} {zone or '-'} until {utc_iso(expires_at)}"
            await _audit(conn, created_by, "invite.create", f"invite:{invite_id}", detail, now)
            return invite_id

    async def failures(self, telegram_id: int, since: datetime) -> int:
        """Failed invite codes of this person in the window that began after `since`."""
        row = await self.db.fetchone(
            "SELECT failures FROM start_attempts WHERE telegram_id = ? AND window_start > ?",
            (telegram_id, utc_iso(since)),
        )
        return int(row[0]) if row else 0

    async def failed(
        self, telegram_id: int, now: datetime, window_since: datetime, *, tx: Transaction | None = None
    ) -> None:
        """Count a failed code; a window older than `window_since` starts over."""
        async with self.db.within(tx) as conn:
            await conn.execute(
                "INSERT INTO start_attempts (telegram_id, failures, window_start) VALUES (?, 1, ?) "
                "ON CONFLICT (telegram_id) DO UPDATE SET "
                "failures = CASE WHEN start_attempts.window_start > ? THEN start_attempts.failures + 1 ELSE 1 END, "
                "window_start = CASE WHEN start_attempts.window_start > ? THEN start_attempts.window_start "
                "ELSE excluded.window_start END",
                (telegram_id, utc_iso(now), utc_iso(window_since), utc_iso(window_since)),
            )

    async def succeeded(self, telegram_id: int, *, tx: Transaction | None = None) -> None:
        async with self.db.within(tx) as conn:
            await conn.execute("DELETE FROM start_attempts WHERE telegram_id = ?", (telegram_id,))

    async def redeem(
        self, code_hash: str, telegram_id: int, name: str, now: datetime, *, tx: Transaction | None = None
    ) -> Staff | str:
        """Register the sender with the invite's role and zone, using the invite up; audited.

        Returns the new staff member, or why not: "unknown" (no such code, or revoked), "used", "expired", or,
        leaving the invite unused, "registered" (the sender is staff already: a role change is an admin's
        action in /staff) or "deactivated" (an invite never undoes a deactivation).
        """
        self.staff_cache.clear()
        async with self.db.within(tx) as conn:
            self.db.on_commit(self.staff_cache.clear)
            row = (await conn.execute("SELECT * FROM invites WHERE code_hash = ?", (code_hash,))).one()
            if row is None:
                return "unknown"
            invite = _invite(row)
            if invite.used_by is not None:
                return "used"
            if now >= invite.expires_at:
                return "expired"
            known = (await conn.execute("SELECT active FROM staff WHERE telegram_id = ?", (telegram_id,))).one()
            if known is not None:
                return "registered" if known["active"] else "deactivated"
            # Claimed before it is used: of two people redeeming one code at once (possible where writers run
            # side by side, as on PostgreSQL), the second waits for the first's row and then finds it used.
            claimed = await conn.execute(
                "UPDATE invites SET used_at = ? WHERE id = ? AND used_by IS NULL AND used_at IS NULL",
                (utc_iso(now), invite.id),
            )
            if claimed.rowcount != 1:
                return "used"
            created = await conn.execute(
                "INSERT INTO staff (telegram_id, name, role, zone, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
                (telegram_id, name, invite.role.value, invite.zone, utc_iso(now)),
            )
            staff = Staff(int(created.rows[0][0]), telegram_id, name, invite.role, invite.zone, None, True)
            await conn.execute("UPDATE invites SET used_by = ? WHERE id = ?", (staff.id, invite.id))
            detail = f"invite {invite.id}: {invite.role.value} {invite.zone or '-'}"
            await _audit(conn, None, "staff.register", f"staff:{staff.id}", detail, now)
            return staff

    async def open_invites(self, now: datetime) -> list[tuple[Invite, str]]:
        """Invites not used, not expired: each with the name of the admin who made it."""
        rows = await self.db.fetchall(
            "SELECT i.*, s.name AS creator FROM invites i JOIN staff s ON s.id = i.created_by "
            "WHERE i.used_by IS NULL AND i.expires_at > ? ORDER BY i.expires_at, i.id",
            (utc_iso(now),),
        )
        return [(_invite(r), str(r["creator"])) for r in rows]

    async def revoke(self, invite_id: int, actor_id: int, now: datetime, *, tx: Transaction | None = None) -> bool:
        """Withdraw an unused invite: its code then registers no one (it is unknown); audited."""
        async with self.db.within(tx) as conn:
            # One statement: an invite being redeemed meanwhile is either deleted first or found used.
            row = (
                await conn.execute("DELETE FROM invites WHERE id = ? AND used_by IS NULL RETURNING *", (invite_id,))
            ).one()
            if row is None:
                return False
            invite = _invite(row)
            detail = f"{invite.role.value} {invite.zone or '-'}"
            await _audit(conn, actor_id, "invite.revoke", f"invite:{invite_id}", detail, now)
        return True


async def _audit(tx: Transaction, actor_id: int | None, action: str, subject: str, detail: str, now: datetime) -> None:
    """Who registered, was deactivated or reactivated, and which invites were made or withdrawn: in the same
    transaction as the change (never personal text)."""
    await tx.execute(
        "INSERT INTO audit (at, actor_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
        (utc_iso(now), actor_id, action, subject, detail),
    )
