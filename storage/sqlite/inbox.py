"""The inbox and the processed-update set in SQLite: what was fetched and not yet handled, what was handled.

Only the SQL lives here; the rule that uses it (when an update counts as settled, when Telegram may be told it
arrived) is the delivery ledger's, in bot/ledger.py. With webhooks the inbox is also a queue that several workers
share, each update claimed for a lease (bot/worker.py; the claim rules are in migration 0013).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.clock import utc_iso
from storage.sql import Database, Transaction
from storage.sqlite.seal import Seal, place
from storage.types import AlreadyProcessed, IdempotencyKey, InboxClaim

_RECORD = "INSERT INTO processed_updates (bot_id, update_id, processed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
_PROCESSED = "EXISTS (SELECT 1 FROM processed_updates p WHERE p.bot_id = i.bot_id AND p.update_id = i.update_id)"

# The next update a worker may take: open, not claimed, not processed, and the first open one of its person with
# no claimed one beside it (so one person's updates go one at a time, in update order). Only the first open row
# of a person is ever a candidate, so two workers racing for it race for the same row, which `claimed_by IS NULL`
# in the claiming UPDATE settles.
_NEXT = (
    "SELECT i.update_id FROM inbox i WHERE i.bot_id = ? AND i.handled_at IS NULL AND i.claimed_by IS NULL "
    f"AND NOT {_PROCESSED} "
    "AND NOT EXISTS (SELECT 1 FROM inbox e WHERE e.bot_id = i.bot_id AND e.chat_key = i.chat_key "
    "AND e.handled_at IS NULL AND e.update_id <> i.update_id "
    "AND (e.update_id < i.update_id OR e.claimed_by IS NOT NULL)) "
    "ORDER BY i.update_id LIMIT 1"
)


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

    # --- the queue of webhook updates (bot/webhook.py keeps them, bot/worker.py handles them) -------------------

    async def enqueue(self, bot_id: int, update_id: int, chat_key: int | None, payload: str, now: datetime) -> bool:
        """Keep one received update (its JSON, sealed) until a worker has handled it; committed when this returns.
        False when it was kept before (Telegram delivered it again)."""
        sealed = self.seal.seal(payload, place("inbox", "payload", bot_id, update_id))
        changed = await self.db.execute(
            "INSERT INTO inbox (bot_id, update_id, payload, received_at, chat_key) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (bot_id, update_id, sealed, utc_iso(now), chat_key),
        )
        return changed == 1

    async def payload(self, bot_id: int, update_id: int) -> str | None:
        """What was kept under this key (opened), or None: to tell a body received again from another one that
        met the same key (LINE WORKS events, whose keys are made of their time and bytes)."""
        sql = "SELECT payload FROM inbox WHERE bot_id = ? AND update_id = ?"
        row = await self.db.fetchone(sql, (bot_id, update_id))
        return None if row is None else self.seal.open(row[0], place("inbox", "payload", bot_id, update_id))

    async def claim(self, bot_id: int, worker: str, now: datetime, lease: timedelta) -> InboxClaim | None:
        """Claim the next update to handle for `worker` until now + lease, or None when there is none.

        The one place where workers compete. SQLite runs the claiming UPDATE as one statement under its single
        write lock, shared by every process; PostgreSQL picks the row with `FOR UPDATE SKIP LOCKED`, so that
        workers claiming at once each take another person's update instead of queueing behind one row (a later
        update of a person whose earlier one is being claimed is never eligible: the earlier one is unhandled).
        """
        # A read first: an idle worker looking for work takes no write lock.
        if await self.db.fetchone(_NEXT, (bot_id,)) is None:
            return None
        async with self.db.transaction(small=True) as tx:
            done = await tx.execute(
                "UPDATE inbox SET claimed_by = ?, claim_expires = ?, attempts = attempts + 1 "
                f"WHERE bot_id = ? AND update_id = ({_NEXT}{self.db.dialect.skip_locked('i')}) "
                "AND claimed_by IS NULL AND handled_at IS NULL "
                "RETURNING update_id, chat_key, payload, attempts",
                (worker, utc_iso(now + lease), bot_id, bot_id),
            )
        row = done.one()
        if row is None:
            return None  # another worker was quicker
        update_id = int(row["update_id"])
        payload = self.seal.open(row["payload"], place("inbox", "payload", bot_id, update_id))
        return InboxClaim(update_id, row["chat_key"], payload, int(row["attempts"]))

    async def renew(self, bot_id: int, worker: str, now: datetime, lease: timedelta) -> int:
        """Extend the lease of every claim `worker` holds to now + lease (a live worker's heartbeat)."""
        return await self.db.execute(
            "UPDATE inbox SET claim_expires = ? WHERE bot_id = ? AND claimed_by = ? AND handled_at IS NULL",
            (utc_iso(now + lease), bot_id, worker),
        )

    async def release(
        self, bot_id: int, update_id: int, worker: str, now: datetime, *, handled: bool, record: bool = False
    ) -> bool:
        """End `worker`'s claim: handled (nothing more to do), or given back for another worker to take (a
        worker stopping before it began). False when the claim was no longer the worker's (taken over). With
        `record`, a handled update is also recorded as processed, in the same transaction (one write, where
        `record` and then `release` would be two)."""
        handled_sql = (
            "UPDATE inbox SET handled_at = ?, claimed_by = NULL, claim_expires = NULL WHERE bot_id = ? "
            "AND update_id = ? AND handled_at IS NULL AND (claimed_by = ? OR claimed_by IS NULL)"
        )
        if handled and record:
            async with self.db.transaction(small=True) as tx:
                await tx.execute(_RECORD, (bot_id, update_id, utc_iso(now)))
                done = await tx.execute(handled_sql, (utc_iso(now), bot_id, update_id, worker))
            return done.rowcount == 1
        if handled:
            changed = await self.db.execute(handled_sql, (utc_iso(now), bot_id, update_id, worker))
        else:
            changed = await self.db.execute(
                "UPDATE inbox SET claimed_by = NULL, claim_expires = NULL "
                "WHERE bot_id = ? AND update_id = ? AND claimed_by = ? AND handled_at IS NULL",
                (bot_id, update_id, worker),
            )
        return changed == 1

    async def take_over(self, bot_id: int, now: datetime) -> list[tuple[int, str]]:
        """Free the claims whose lease ran out (their worker died, or hangs), for live workers to take: returns
        (update id, worker) of each. A claimed update whose unit of work committed before its worker died is
        marked handled instead (its effects are durable; only its reply may be missing), as is any open update
        already processed and claimed by nobody."""
        stamp = utc_iso(now)
        expired = "i.claimed_by IS NOT NULL AND i.claim_expires < ?"
        settled = f"i.claimed_by IS NULL AND {_PROCESSED}"
        probe = f"SELECT 1 FROM inbox i WHERE i.bot_id = ? AND i.handled_at IS NULL AND (({expired}) OR ({settled}))"
        if await self.db.fetchone(probe, (bot_id, stamp)) is None:
            return []  # the usual case: a heartbeat takes no write lock
        async with self.db.transaction() as tx:
            rows = await tx.execute(
                f"SELECT i.update_id, i.claimed_by, {_PROCESSED} AS processed FROM inbox i "
                f"WHERE i.bot_id = ? AND i.handled_at IS NULL AND {expired} ORDER BY i.update_id",
                (bot_id, stamp),
            )
            await tx.execute(
                "UPDATE inbox SET handled_at = ?, claimed_by = NULL, claim_expires = NULL "
                f"WHERE bot_id = ? AND update_id IN (SELECT i.update_id FROM inbox i WHERE i.bot_id = ? "
                f"AND i.handled_at IS NULL AND (({expired}) OR i.claimed_by IS NULL) AND {_PROCESSED})",
                (stamp, bot_id, bot_id, stamp),
            )
            await tx.execute(
                "UPDATE inbox SET claimed_by = NULL, claim_expires = NULL "
                "WHERE bot_id = ? AND handled_at IS NULL AND claimed_by IS NOT NULL AND claim_expires < ?",
                (bot_id, stamp),
            )
        return [(int(r["update_id"]), str(r["claimed_by"])) for r in rows.rows if not r["processed"]]
