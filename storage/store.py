"""The storage facade the rest of the program uses: repositories plus transactions tied to updates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import aiosqlite

from storage.db import Database
from storage.drafts import DraftRepository
from storage.outbox import Meta, Outbox
from storage.records import RecordRepository
from storage.staff import InviteRepository, StaffRepository
from storage.tallies import TallyRepository
from storage.updates import UpdateLog


class Store:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.staff = StaffRepository(db)
        self.invites = InviteRepository(db)
        self.drafts = DraftRepository(db)
        self.records = RecordRepository(db)
        self.updates = UpdateLog(db)
        self.tallies = TallyRepository(db)
        self.outbox = Outbox(db)
        self.meta = Meta(db)

    @classmethod
    async def open(cls, path: Path) -> Store:
        db = Database(path)
        await db.open()
        return cls(db)

    async def close(self) -> None:
        await self.db.close()

    @asynccontextmanager
    async def unit(
        self, *, bot_id: int | None = None, update_id: int | None = None, now: datetime | None = None
    ) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction that also records the update it acts on.

        If the update was recorded before (a redelivery), AlreadyProcessed is raised and nothing is written:
        the change and the record of the update commit together or not at all.
        """
        async with self.db.transaction() as tx:
            if update_id is not None:
                assert bot_id is not None and now is not None
                await self.updates.mark(tx, bot_id, update_id, now)
            yield tx
