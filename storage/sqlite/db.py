"""The SQLite database: connections, pragmas, numbered migrations and write transactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from storage.sql import Transaction as AnyTransaction
from storage.sql import shipped_migrations
from storage.types import StorageError

log = logging.getLogger(__name__)

Row = sqlite3.Row
Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")

CHECKPOINT_EVERY = 500  # small writes between two checkpoints: a few megabytes of log at the most


def storage_error(exc: sqlite3.Error) -> StorageError:
    """What went wrong, in terms a person can act on; the transaction it happened in was rolled back."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        kind = "busy"
    elif "full" in text:
        kind = "full"
    elif "readonly" in text or "read-only" in text:
        kind = "readonly"
    elif "i/o" in text or "disk" in text:
        kind = "io"
    else:
        kind = "other"
    return StorageError(f"database: {exc}", kind)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped in storage/sqlite/migrations, in order."""
    return shipped_migrations("storage.sqlite")


@dataclass(frozen=True, slots=True)
class Done:
    """What one statement of a transaction did: rows changed, the new row's id, the rows it returned."""

    rowcount: int
    lastrowid: int | None
    rows: list[Row]

    def one(self) -> Row | None:
        return self.rows[0] if self.rows else None


@dataclass(frozen=True, slots=True)
class _Deferred:
    sql: str
    params: Params
    changes: int
    error: Exception


class Transaction:
    """A write transaction on the writer connection, in as few trips to its thread as the work allows.

    Each trip to aiosqlite's thread costs a hand-over between threads, and a transaction holds the write lock
    for all of its trips. So a statement whose only result that matters is "it changed exactly N rows" (a
    version-checked update, recording an update id) is deferred: it runs with COMMIT, in the same trip, and
    if it changed another number of rows the whole transaction rolls back with the error it names. BEGIN
    IMMEDIATE goes with the first statement that runs at once, or with COMMIT: a button press that only
    records itself and updates its draft is one trip in all. Statements that run at once (`execute`) return
    their rows, row count and new id together (`Done`).
    """

    def __init__(self, connection: aiosqlite.Connection, *, inline: bool = False) -> None:
        self._connection = connection
        self._inline = inline
        self._begun = False
        self._deferred: list[_Deferred] = []

    async def _on_thread(self, work: Callable[[sqlite3.Connection], T]) -> T:
        raw: sqlite3.Connection = self._connection._conn
        if self._inline:
            # A small unit (one update's writes): run here, on the event loop, without handing over to the
            # connection's thread and waiting to be scheduled again (see Database.transaction).
            return work(raw)
        # aiosqlite runs queued functions on its connection's thread; this is how it runs its own execute().
        result: T = await self._connection._execute(work, raw)  # type: ignore[no-untyped-call]
        return result

    def _begin(self, raw: sqlite3.Connection) -> None:
        if not self._begun:
            raw.execute("BEGIN IMMEDIATE")
            self._begun = True

    async def execute(self, sql: str, params: Params = ()) -> Done:
        def run(raw: sqlite3.Connection) -> Done:
            self._begin(raw)
            cursor = raw.execute(sql, params)
            return Done(cursor.rowcount, cursor.lastrowid, cursor.fetchall())

        return await self._on_thread(run)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        def run(raw: sqlite3.Connection) -> None:
            self._begin(raw)
            raw.executemany(sql, rows)

        await self._on_thread(run)

    def defer(self, sql: str, params: Params, *, changes: int, error: Exception) -> None:
        """Run `sql` at commit; unless it changes exactly `changes` rows, roll back and raise `error`."""
        self._deferred.append(_Deferred(sql, params, changes, error))

    async def commit(self) -> None:
        deferred, self._deferred = self._deferred, []

        def run(raw: sqlite3.Connection) -> None:
            self._begin(raw)
            try:
                for statement in deferred:
                    if raw.execute(statement.sql, statement.params).rowcount != statement.changes:
                        raise statement.error
                raw.execute("COMMIT")
            except BaseException:
                if raw.in_transaction:
                    raw.execute("ROLLBACK")
                raise

        await self._on_thread(run)

    async def rollback(self) -> None:
        self._deferred = []
        if self._connection.in_transaction:
            await self._connection.execute("ROLLBACK")


class SqliteDialect:
    """SQLite's phrases where PostgreSQL's differ (storage/sql.py)."""

    name = "sqlite"

    def json_rows(self, columns: str) -> str:
        return f"json_group_array(json_array({columns}))"

    def string_agg(self, expression: str, separator: str) -> str:
        return f"group_concat({expression}, {separator})"

    def skip_locked(self, alias: str) -> str:
        return ""  # one writer at a time: there is no row another writer holds

    async def new_ids(self, tx: AnyTransaction, table: str, count: int) -> list[int]:
        # Above every id the table ever gave (its AUTOINCREMENT counter: the largest id left may be below an undone
        # one's, and ids are never reused, migration 0008); the transaction holds the only write lock, so no other
        # writer can take them. Rows written with these ids move the counter past them.
        row = (
            await tx.execute(
                f"SELECT max(coalesce((SELECT max(id) FROM {table}), 0), "
                "coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0))",
                (table,),
            )
        ).one()
        first = int(row[0]) + 1 if row is not None else 1
        return list(range(first, first + count))


class Database:
    """One writer connection (writes are serialised by a lock, as SQLite allows one writer) and one reader.

    WAL lets the reader see committed data while a write is in progress, so reports never block taps.
    """

    dialect = SqliteDialect()

    def __init__(self, path: Path, busy_timeout_ms: int = 5000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None  # the task whose transaction holds the lock
        self._writes = 0  # small writes since the last checkpoint
        self._checkpointing: asyncio.Task[None] | None = None
        self._after_commit: list[Callable[[], None]] = []

    async def open(self) -> None:
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            # Personal data: readable by its owner only, whatever the umask (SQLite gives the -wal and -shm
            # files the database file's permissions).
            self.path.touch(mode=0o600)
        self._writer = await self._connect()
        await self._writer.execute_fetchall("PRAGMA journal_mode = WAL")
        # Checkpoints (copying the log into the database file, with a sync to disk) run on the connection's
        # thread, every CHECKPOINT_EVERY small writes, not inside a commit that runs on the event loop.
        await self._writer.execute_fetchall("PRAGMA wal_autocheckpoint = 0")
        await self._migrate(self._writer)
        self._reader = await self._connect()

    async def _connect(self) -> aiosqlite.Connection:
        # check_same_thread off: small writes run on the event loop (see `transaction`); the lock keeps them from
        # ever running while the connection's own thread works.
        connection = await aiosqlite.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.row_factory = sqlite3.Row
        # NORMAL is durable across process crashes in WAL mode (only power loss can drop the last commits).
        for pragma in (
            "foreign_keys = ON",
            "synchronous = NORMAL",
            f"busy_timeout = {self.busy_timeout_ms}",
            "temp_store = MEMORY",
        ):
            await connection.execute(f"PRAGMA {pragma}")
        return connection

    async def _migrate(self, connection: aiosqlite.Connection) -> None:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
        )
        async with connection.execute("SELECT version FROM schema_migrations") as cursor:
            applied = {row[0] for row in await cursor.fetchall()}
        known = migrations()
        newest = max(applied, default=0)
        if newest > len(known):
            raise StorageError(
                f"{self.path}: the database is at schema {newest}, newer than this program knows ({len(known)})"
            )
        pending = [(version, name, sql) for version, name, sql in known if version not in applied]
        if not pending:
            return
        # Foreign keys off while the schema changes (a table rebuilt keeps the rows that point at it), then
        # checked in full before each migration commits; on again afterwards.
        await connection.execute("PRAGMA foreign_keys = OFF")
        try:
            for version, name, sql in pending:
                await self._apply(connection, version, name, sql)
        finally:
            await connection.execute("PRAGMA foreign_keys = ON")

    async def _apply(self, connection: aiosqlite.Connection, version: int, name: str, sql: str) -> None:
        log.info("applying migration %s", name)
        script = f"BEGIN;\n{sql}\nINSERT INTO schema_migrations (version, name) VALUES ({version}, '{name}');"
        try:
            await connection.executescript(script)
            broken = await connection.execute_fetchall("PRAGMA foreign_key_check")
            if broken:
                raise StorageError(f"{self.path}: migration {name} breaks {len(list(broken))} foreign key(s)")
            await connection.execute("COMMIT")
        except (sqlite3.Error, StorageError):
            if connection.in_transaction:
                await connection.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        if self._checkpointing is not None:
            await asyncio.gather(self._checkpointing, return_exceptions=True)
        if self._writer is not None:
            with contextlib.suppress(sqlite3.Error):
                await self._writer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        for connection in (self._reader, self._writer):
            if connection is not None:
                await connection.close()
        self._reader = self._writer = None

    @property
    def writer(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise RuntimeError("database is not open")
        return self._writer

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader

    def _not_inside_own_transaction(self) -> None:
        # The write lock is not re-entrant: a write of its own inside a task's open transaction would wait for
        # ever. Say so instead (the write belongs in the transaction: pass it `tx`).
        if self._owner is not None and self._owner is asyncio.current_task():
            raise RuntimeError("a write outside the open transaction of the same task; pass it the transaction")

    @asynccontextmanager
    async def transaction(self, *, small: bool = False) -> AsyncIterator[Transaction]:
        """BEGIN IMMEDIATE … COMMIT on the writer; any exception rolls everything back.

        `small`: a few short statements (one update's writes), run on the event loop itself. A trip to the
        connection's thread costs a hand-over between threads and then a wait for the loop to take the task up
        again behind everything queued meanwhile: under load, more than the statements themselves (a commit in
        WAL mode with synchronous=NORMAL writes the log without waiting for the disk). Nothing else writes
        while the bot runs (storage/sqlite/lock.py), so such a write does not wait for a lock. Long work
        (imports, key rotation, retention) keeps to the thread, so that the loop keeps answering meanwhile.
        """
        self._not_inside_own_transaction()
        async with self._lock:
            self._owner = asyncio.current_task()
            try:
                async with self._transaction(small) as tx:
                    yield tx
            finally:
                self._owner = None

    @asynccontextmanager
    async def _transaction(self, small: bool) -> AsyncIterator[Transaction]:
        tx = Transaction(self.writer, inline=small)
        self._after_commit = []
        try:
            yield tx
            await tx.commit()
        except BaseException as exc:
            self._after_commit = []
            await tx.rollback()
            if isinstance(exc, sqlite3.OperationalError):
                raise storage_error(exc) from exc
            raise
        if small:
            self._wrote()
        hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            hook()

    @asynccontextmanager
    async def within(self, tx: AnyTransaction | None) -> AsyncIterator[AnyTransaction]:
        """The caller's transaction when given (a service's unit of work), else one of its own."""
        if tx is not None:
            yield tx
            return
        async with self.transaction() as own:
            yield own

    def on_commit(self, hook: Callable[[], None]) -> None:
        """Run `hook` once the current transaction has committed (never if it rolls back): in-memory caches
        change only with what the database really holds."""
        self._after_commit.append(hook)

    # Reads run execute-fetch-close as one operation on the reader's thread. Cursors opened and fetched in
    # separate steps would interleave between coroutines, and while any statement is active SQLite keeps the
    # connection's read snapshot: later reads would not see newer commits.

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return next(iter(await self.fetchall(sql, params)), None)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            return list(await self.reader.execute_fetchall(sql, params))
        except sqlite3.OperationalError as exc:
            raise storage_error(exc) from exc

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One statement, atomic on its own (SQLite wraps a lone statement in its own transaction): one trip to
        the database thread instead of BEGIN, statement, COMMIT. Returns the number of rows changed."""
        self._not_inside_own_transaction()
        async with self._lock:
            try:
                # One short statement: on the event loop, like a small transaction (see `transaction`).
                cursor = self.writer._conn.execute(sql, params)
            except sqlite3.OperationalError as exc:
                raise storage_error(exc) from exc
        self._wrote()
        return cursor.rowcount

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes >= CHECKPOINT_EVERY and (self._checkpointing is None or self._checkpointing.done()):
            self._writes = 0
            self._checkpointing = asyncio.create_task(self.checkpoint(), name="fieldbot-checkpoint")

    async def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file. On the reader's connection and thread, without the
        write lock: a passive checkpoint copies what is committed while writers go on (it syncs to disk, which
        takes long enough that writes must not wait for it)."""
        if self._reader is None:
            return
        try:
            await self._reader.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            log.warning("checkpoint failed (%s); the next one tries again", exc)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    async def stream(self, sql: str, params: Params, batch: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        """The rows of a long read in batches, on a connection of its own: a cursor open for the whole read holds
        one consistent snapshot, which must not become the snapshot of every other read."""
        async with aiosqlite.connect(self.path) as connection, connection.execute(sql, params) as cursor:
            while rows := await cursor.fetchmany(batch):
                yield [tuple(row) for row in rows]

    async def integrity_check(self) -> str:
        row = await self.fetchone("PRAGMA integrity_check")
        return str(row[0]) if row else "no answer"
