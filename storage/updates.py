"""The update ids already acted on, so a redelivered update changes nothing twice."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from domain.clock import utc_iso
from storage.db import AlreadyProcessed, Database


class UpdateLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def seen(self, bot_id: int, update_id: int) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM processed_updates WHERE bot_id = ? AND update_id = ?", (bot_id, update_id)
        )
        return row is not None

    async def mark(self, tx: aiosqlite.Connection, bot_id: int, update_id: int, now: datetime) -> None:
        """Record the update inside the caller's transaction; raises AlreadyProcessed if it was recorded."""
        cursor = await tx.execute(
            "INSERT INTO processed_updates (bot_id, update_id, processed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (bot_id, update_id, utc_iso(now)),
        )
        if cursor.rowcount == 0:
            raise AlreadyProcessed(update_id)

    async def record(self, bot_id: int, update_id: int, now: datetime) -> None:
        """Record an update on its own (for handlers that wrote nothing); a second record is a no-op."""
        await self.db.execute(
            "INSERT INTO processed_updates (bot_id, update_id, processed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (bot_id, update_id, utc_iso(now)),
        )

    async def prune(self, before: datetime) -> int:
        """Telegram keeps undelivered updates for 24 hours; ids older than that can never come back."""
        return await self.db.execute("DELETE FROM processed_updates WHERE processed_at < ?", (utc_iso(before),))
