"""The storage facade the rest of the program uses: repositories plus transactions tied to updates.

`SqlStore` wires the repositories over any engine's Database (storage/sql.py); `Store` is the SQLite one, and
storage/postgres/store.py the PostgreSQL one."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from core.crypto import Sealer
from storage.sql import Database as SqlDatabase
from storage.sql import Transaction as SqlTransaction
from storage.sqlite.audit import AuditLog
from storage.sqlite.db import Database, storage_error
from storage.sqlite.drafts import DraftRepository, PendingInputs
from storage.sqlite.followups import FollowUpRepository
from storage.sqlite.imports import ImportRepository
from storage.sqlite.inbox import Inbox
from storage.sqlite.lineworks import LineWorksUsers
from storage.sqlite.links import UsedLinks
from storage.sqlite.outbox import Meta, Outbox
from storage.sqlite.places import PlaceInputs, PlaceRepository
from storage.sqlite.records import RecordRepository
from storage.sqlite.seal import Seal, bind_to_rows, check_key
from storage.sqlite.staff import InviteRepository, StaffCache, StaffRepository
from storage.sqlite.tables import TableRepository
from storage.sqlite.tallies import TallyRepository
from storage.types import IdempotencyKey, StorageError


class SqlStore:
    """The repositories over one open database, of either engine."""

    def __init__(self, db: SqlDatabase, sealer: Sealer | None = None) -> None:
        self.db = db
        self.seal = Seal(sealer)
        self.audit = AuditLog(db)
        staff_cache = StaffCache()
        self.staff = StaffRepository(db, staff_cache)
        self.invites = InviteRepository(db, staff_cache)
        self.drafts = DraftRepository(db, self.seal)
        self.pending = PendingInputs(db)
        self.records = RecordRepository(db, self.seal)
        self.inbox = Inbox(db, self.seal)
        # Told of every update whose effects a unit of work committed (the delivery ledger, bot/ledger.py).
        self.settled: Callable[[IdempotencyKey], None] | None = None
        self.followups = FollowUpRepository(db, self.seal, self.audit)
        self.tallies = TallyRepository(db)
        self.tables = TableRepository(db)
        self.imports = ImportRepository(db, self.staff)
        self.outbox = Outbox(db)
        self.meta = Meta(db)
        self.places = PlaceRepository(db)
        self.place_inputs = PlaceInputs(db)
        self.used_links = UsedLinks(db)
        self.lineworks_users = LineWorksUsers(db)

    async def close(self) -> None:
        await self.db.close()

    def forget_cached(self) -> None:
        """Forget what is cached in memory (who is who, drafts in progress): for a process that shares the
        database with other writers (webhook workers), before each update it handles."""
        self.staff.cache.clear()
        self.drafts.forget_cached()

    @asynccontextmanager
    async def unit(self, key: IdempotencyKey | None, now: datetime) -> AsyncIterator[SqlTransaction]:
        """A write transaction that also records the update it acts on (`key`; None for writes no update asked
        for, e.g. scheduled jobs).

        If the update was recorded before (a redelivery), AlreadyProcessed is raised and nothing is written: the
        change and the record of the update commit together or not at all. Once committed, `settled` is told.
        """
        async with self.db.transaction(small=True) as tx:
            if key is not None:
                await self.inbox.mark(tx, key, now)
            yield tx
        if key is not None and self.settled is not None:
            self.settled(key)


class Store(SqlStore):
    """The SQLite store (DATABASE_PATH)."""

    db: Database

    @classmethod
    async def open(cls, path: Path, sealer: Sealer | None = None, *, busy_timeout_ms: int = 5000) -> Store:
        """Open (and migrate) the database. With a key, check it is the key the data was sealed with.

        Without a key the store can count and report, but any sealed personal text stays unreadable.
        """
        db = Database(path, busy_timeout_ms)
        try:
            await db.open()
            if sealer is not None:
                await check_key(db, sealer)
                await bind_to_rows(db, sealer)
        except BaseException as exc:
            # Closed on every failure: an open connection's thread would keep the process alive after the error.
            await db.close()
            if isinstance(exc, sqlite3.Error | OSError):
                kind = storage_error(exc).kind if isinstance(exc, sqlite3.Error) else "io"
                raise StorageError(f"{path}: cannot open the database ({exc})", kind) from None
            raise
        return cls(db, sealer)
