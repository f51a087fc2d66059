"""The audit log: who read or changed personal data, and when (never the personal text itself)."""

from __future__ import annotations

from datetime import datetime

from core.clock import parse_utc, utc_iso
from storage.sql import Database, Transaction
from storage.types import AuditEntry


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self,
        tx: Transaction | None,
        actor_id: int | None,
        action: str,
        subject: str,
        detail: str,
        now: datetime,
    ) -> None:
        """Inside the caller's transaction when given (the change and its record commit together)."""
        params = (utc_iso(now), actor_id, action, subject, detail)
        sql = "INSERT INTO audit (at, actor_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)"
        if tx is not None:
            await tx.execute(sql, params)
        else:
            await self.db.execute(sql, params)

    async def since(self, moment: datetime | None = None) -> list[AuditEntry]:
        rows = await self.db.fetchall(
            "SELECT a.at, a.actor_id, s.name, a.action, a.subject, a.detail FROM audit a "
            "LEFT JOIN staff s ON s.id = a.actor_id WHERE a.at >= ? ORDER BY a.at, a.id",
            (utc_iso(moment) if moment else "",),
        )
        return [AuditEntry(parse_utc(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]
