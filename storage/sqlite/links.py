"""The note form's links that have been used: a link is usable once because its use is a row here, written in
the transaction that stores what its form posted (core/webapp.py has the links themselves)."""

from __future__ import annotations

from datetime import datetime

from core.clock import utc_iso
from storage.sql import Database, Transaction


class UsedLinks:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def use(self, tx: Transaction, token_hash: str, purpose: str, staff_id: int, now: datetime) -> bool:
        """Mark a link used in `tx`; False when it was used before (nothing is written then)."""
        done = await tx.execute(
            "INSERT INTO used_form_links (token_hash, purpose, staff_id, used_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (token_hash) DO NOTHING",
            (token_hash, purpose, staff_id, utc_iso(now)),
        )
        return done.rowcount == 1

    async def used(self, token_hash: str) -> bool:
        row = await self.db.fetchone("SELECT 1 FROM used_form_links WHERE token_hash = ?", (token_hash,))
        return row is not None

    async def prune(self, before: datetime) -> int:
        """Forget uses older than any link can live (such a link is refused by its age anyway)."""
        return await self.db.execute("DELETE FROM used_form_links WHERE used_at < ?", (utc_iso(before),))
