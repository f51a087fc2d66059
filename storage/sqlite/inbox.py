"""The inbox and the processed-update set in SQLite: what was fetched and not yet handled, what was handled.

Only the SQL lives here; the rule that uses it (when an update counts as settled, when Telegram may be told it
arrived) is the delivery ledger's, in bot/ledger.py.
"""

from __future__ import annotations

from datetime import datetime

from core.clock import utc_iso
from storage.sqlite.db import Database, Transaction
from storage.sqlite.seal import Seal, place
from storage.types import AlreadyProcessed, IdempotencyKey

_RECORD = "INSERT INTO processed_updates (bot_id, update_id, processed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"


class Inbox:
    def __init__(self, db: Database, seal: Seal) -> None:
        self.db = db
        self.seal = seal

    async def processed_ids(self, bot_id: int) -> set[int]:
        rows = await self.db.fetchall("SELECT update_id FROM processed_updates WHERE bot_id = ?", (bot_id,))
        return {int(r[0]) for r in rows}

    async def mark(self, tx: Transaction, key: IdempotencyKey, now: datetime) -> None:
        """Record the update in the caller's transaction; when it was recorded before, the transaction rolls back
        with AlreadyProcessed. Checked as the transaction commits (no trip to the database of its own)."""
        tx.defer(_RECORD, (key.bot_id, key.update_id, utc_iso(now)), changes=1, error=AlreadyProcessed(key.update_id))

    async def record(self, key: IdempotencyKey, now: datetime) -> None:
        """Record an update on its own (its handler wrote nothing); a second record is a no-op."""
        await self.db.execute(_RECORD, (key.bot_id, key.update_id, utc_iso(now)))

    async def receive(self, bot_id: int, updates: list[tuple[int, str]], now: datetime) -> None:
        """Keep fetched updates (id, JSON) until processed; an update already kept is not kept twice."""
        await self.db.executemany(
            "INSERT INTO inbox (bot_id, update_id, payload, received_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                (bot_id, update_id, self.seal.seal(payload, place("inbox", "payload", bot_id, update_id)), utc_iso(now))
                for update_id, payload in updates
            ],
        )

    async def unprocessed(self, bot_id: int) -> list[tuple[int, str]]:
        """Updates fetched but never processed (the process died first), oldest first."""
        rows = await self.db.fetchall(
            "SELECT i.update_id, i.payload FROM inbox i WHERE i.bot_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM processed_updates p WHERE p.bot_id = i.bot_id AND p.update_id = i.update_id) "
            "ORDER BY i.update_id",
            (bot_id,),
        )
        return [(int(r[0]), self.seal.open(r[1], place("inbox", "payload", bot_id, r[0]))) for r in rows]

    async def prune(self, before: datetime) -> dict[int, int]:
        """Forget updates older than Telegram's redelivery window (24 hours): they can never come back.

        Returns, per bot, the oldest update id still recorded (update ids only grow: what was forgotten is
        everything below it)."""
        async with self.db.transaction() as tx:
            stamp = utc_iso(before)
            await tx.execute("DELETE FROM processed_updates WHERE processed_at < ?", (stamp,))
            rows = await tx.execute("SELECT bot_id, min(update_id) FROM processed_updates GROUP BY bot_id")
            oldest = {int(r[0]): int(r[1]) for r in rows.rows}
            # The inbox row of a processed update has done its job once the update can no longer come back.
            await tx.execute(
                "DELETE FROM inbox WHERE received_at < ? AND NOT EXISTS (SELECT 1 FROM processed_updates p "
                "WHERE p.bot_id = inbox.bot_id AND p.update_id = inbox.update_id AND p.processed_at >= ?)",
                (stamp, stamp),
            )
        return oldest
