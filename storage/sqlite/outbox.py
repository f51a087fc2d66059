"""The outbox: every scheduled message is claimed before it is sent and marked after, so none goes twice."""

from __future__ import annotations

from datetime import datetime

from core.clock import parse_utc, utc_iso
from storage.sql import Database
from storage.types import FAILED, SENDING, SENT, UNKNOWN

__all__ = ["FAILED", "SENDING", "SENT", "UNKNOWN", "Meta", "Outbox"]


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, key: str, kind: str, chat_id: int, now: datetime) -> bool:
        """True if this send is ours to make: no earlier run sent it, is sending it, or gave up on it."""
        changed = await self.db.execute(
            "INSERT INTO outbox (key, kind, chat_id, status, claimed_at) VALUES (?, ?, ?, 'sending', ?) "
            "ON CONFLICT (key) DO NOTHING",
            (key, kind, chat_id, utc_iso(now)),
        )
        return changed == 1

    async def sent(self, key: str, now: datetime) -> None:
        await self.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, error = NULL WHERE key = ?", (utc_iso(now), key)
        )

    async def sent_and_claim(self, done: tuple[str, int], key: str, kind: str, chat_id: int, now: datetime) -> bool:
        """`sent(done)` and then `claim(key, ...)` as one statement: one trip to the database, not two, when the
        next send of a series follows one that went out. `done` is (key, chat id) of a send of the same kind
        claimed earlier (were its row gone, it is written as sent, which it was). Returns what `claim` returns.

        Both rows go through one upsert: the first, 'sent', updates its claim; the second, 'sending', is new or
        left as it is (the update applies only to a 'sent' row). So the changes are 2 exactly when `key` was
        claimed now."""
        at = utc_iso(now)
        changed = await self.db.execute(
            "INSERT INTO outbox (key, kind, chat_id, status, claimed_at, sent_at) "
            "VALUES (?, ?, ?, 'sent', ?, ?), (?, ?, ?, 'sending', ?, NULL) "
            "ON CONFLICT (key) DO UPDATE SET status = 'sent', sent_at = excluded.sent_at, error = NULL "
            "WHERE excluded.status = 'sent'",
            (done[0], kind, done[1], at, at, key, kind, chat_id, at),
        )
        return changed == 2

    async def release(self, key: str) -> None:
        """The send certainly did not happen (an error answer): a later run may try again."""
        await self.db.execute("DELETE FROM outbox WHERE key = ? AND status = 'sending'", (key,))

    async def give_up(self, key: str, status: str, error: str) -> None:
        """`unknown`: it may or may not have arrived (a lost answer, a crash mid-send) and is not repeated;
        `failed`: it cannot arrive (the person blocked the bot)."""
        await self.db.execute("UPDATE outbox SET status = ?, error = ? WHERE key = ?", (status, error[:500], key))

    async def interrupted(self) -> list[str]:
        """Sends claimed by a run that died before it could mark them: they become `unknown`, never repeated."""
        rows = await self.db.fetchall("SELECT key FROM outbox WHERE status = 'sending'")
        keys = [str(r[0]) for r in rows]
        if keys:
            await self.db.execute(
                "UPDATE outbox SET status = 'unknown', error = 'interrupted by a restart' WHERE status = 'sending'"
            )
        return keys

    async def status(self, key: str) -> str | None:
        row = await self.db.fetchone("SELECT status FROM outbox WHERE key = ?", (key,))
        return str(row[0]) if row else None

    async def statuses(self, prefix: str) -> dict[str, str]:
        """The status of every send whose key starts with `prefix` (a week's digests), in one query."""
        # The keys starting with the prefix are a range of the primary key: BINARY order is code point order.
        after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        rows = await self.db.fetchall("SELECT key, status FROM outbox WHERE key >= ? AND key < ?", (prefix, after))
        return {str(r[0]): str(r[1]) for r in rows}

    async def history(self, kind: str | None = None) -> list[tuple[str, str, datetime]]:
        rows = await self.db.fetchall(
            "SELECT key, status, claimed_at FROM outbox WHERE CAST(? AS TEXT) IS NULL OR kind = ? "
            "ORDER BY claimed_at, key",
            (kind, kind),
        )
        return [(str(r[0]), str(r[1]), parse_utc(r[2])) for r in rows]


class Meta:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, key: str) -> str | None:
        row = await self.db.fetchone("SELECT value FROM meta WHERE key = ?", (key,))
        return str(row[0]) if row else None

    async def put(self, key: str, value: str) -> None:
        await self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def set_once(self, key: str, value: str) -> str:
        """Store a value unless one is there; returns the stored value."""
        await self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, value))
        stored = await self.get(key)
        assert stored is not None
        return stored
