"""The update ids already acted on, so a redelivered update changes nothing twice."""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from core.clock import utc_iso
from storage.sqlite.db import Database
from storage.sqlite.seal import Seal
from storage.types import AlreadyProcessed

WHERE = "inbox.payload"


class UpdateLog:
    def __init__(self, db: Database, seal: Seal) -> None:
        self.db = db
        self.seal = seal
        # Updates recorded inside a handler's own transaction, not yet seen by the after-handler (saves a write).
        self.marked: set[int] = set()
        # Every update id recorded (loaded at start, kept current by this process, the only one that records):
        # the poller drops redeliveries without a query.
        self._recorded: dict[int, set[int]] = {}

    async def load(self, bot_id: int) -> None:
        rows = await self.db.fetchall("SELECT update_id FROM processed_updates WHERE bot_id = ?", (bot_id,))
        self._recorded[bot_id] = {int(r[0]) for r in rows}

    def _remember(self, bot_id: int, update_id: int) -> None:
        self._recorded.setdefault(bot_id, set()).add(update_id)

    def processed_among(self, bot_id: int, update_ids: list[int]) -> set[int]:
        """Which of these updates were acted on before."""
        recorded = self._recorded.get(bot_id, set())
        return {u for u in update_ids if u in recorded}

    async def mark(self, tx: aiosqlite.Connection, bot_id: int, update_id: int, now: datetime) -> None:
        """Record the update inside the caller's transaction; raises AlreadyProcessed if it was recorded."""
        cursor = await tx.execute(
            "INSERT INTO processed_updates (bot_id, update_id, processed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (bot_id, update_id, utc_iso(now)),
        )
        if cursor.rowcount == 0:
            raise AlreadyProcessed(update_id)
        self._remember(bot_id, update_id)

    async def record(self, bot_id: int, update_id: int, now: datetime) -> None:
        """Record an update on its own (for handlers that wrote nothing); a second record is a no-op."""
        if update_id in self.marked:
            self.marked.discard(update_id)
            return
        await self.db.execute(
            "INSERT INTO processed_updates (bot_id, update_id, processed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (bot_id, update_id, utc_iso(now)),
        )

    async def receive(self, bot_id: int, updates: list[tuple[int, str]], now: datetime) -> None:
        """Keep fetched updates (id, JSON) until processed; an update already kept is not kept twice."""
        await self.db.executemany(
            "INSERT INTO inbox (bot_id, update_id, payload, received_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(bot_id, update_id, self.seal.seal(payload, WHERE), utc_iso(now)) for update_id, payload in updates],
        )

    async def unprocessed(self, bot_id: int) -> list[tuple[int, str]]:
        """Updates fetched but never processed (the process died first), oldest first."""
        rows = await self.db.fetchall(
            "SELECT i.update_id, i.payload FROM inbox i WHERE i.bot_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM processed_updates p WHERE p.bot_id = i.bot_id AND p.update_id = i.update_id) "
            "ORDER BY i.update_id",
            (bot_id,),
        )
        return [(int(r[0]), self.seal.open(r[1], WHERE)) for r in rows]

    async def prune(self, before: datetime) -> int:
        """Forget updates older than Telegram's redelivery window (24 hours): they can never come back."""
        async with self.db.transaction() as tx:
            stamp = utc_iso(before)
            cursor = await tx.execute("DELETE FROM processed_updates WHERE processed_at < ?", (stamp,))
            removed = cursor.rowcount
            async with tx.execute("SELECT bot_id, min(update_id) FROM processed_updates GROUP BY bot_id") as rows:
                oldest = {int(r[0]): int(r[1]) for r in await rows.fetchall()}
            # The inbox row of a processed update has done its job once the update can no longer come back.
            await tx.execute(
                "DELETE FROM inbox WHERE received_at < ? AND NOT EXISTS (SELECT 1 FROM processed_updates p "
                "WHERE p.bot_id = inbox.bot_id AND p.update_id = inbox.update_id AND p.processed_at >= ?)",
                (stamp, stamp),
            )
        if removed:
            # Update ids only grow: what the database forgot is everything below the oldest id it kept.
            self._recorded = {
                bot_id: {u for u in ids if u >= oldest[bot_id]}
                for bot_id, ids in self._recorded.items()
                if bot_id in oldest
            }
        return removed
