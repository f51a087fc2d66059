"""The PostgreSQL store (DATABASE_URL=postgresql://...): the same repositories as SQLite's over a pool."""

from __future__ import annotations

from core.crypto import Sealer
from storage.postgres.db import Database
from storage.sqlite.seal import bind_to_rows, check_key
from storage.sqlite.store import SqlStore


class PostgresStore(SqlStore):
    db: Database

    @classmethod
    async def open(cls, url: str, sealer: Sealer | None = None, *, schema: str | None = None) -> PostgresStore:
        """Connect (and migrate). With a key, check it is the key the data was sealed with, as on SQLite.
        `schema`: the council's own schema in a deployment of many councils."""
        db = Database(url, schema=schema)
        await db.open()
        try:
            if sealer is not None:
                await check_key(db, sealer)
                await bind_to_rows(db, sealer)
        except BaseException:
            await db.close()
            raise
        return cls(db, sealer)
