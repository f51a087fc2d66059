"""The PostgreSQL database (asyncpg): pools of connections, numbered migrations and write transactions.

The repositories' SQL is written once with `?` placeholders (storage/sql.py); it is translated here to `$n` once
per statement text and cached. Unlike SQLite, PostgreSQL lets many transactions write at once: no lock in this
process serialises them. What SQLite's single writer guaranteed comes from the database itself: a version-checked
update or an `INSERT ... ON CONFLICT DO NOTHING` whose row count is checked blocks on the row another open
transaction wrote, and counts 0 once that one commits (READ COMMITTED re-reads the row); reads that decide a
write are part of that write's WHERE clause, and ids for rows written in bulk come from the tables' sequences.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from storage.sql import Params, Row, shipped_migrations
from storage.sql import Transaction as AnyTransaction
from storage.types import StorageError

log = logging.getLogger(__name__)

# A string literal, a quoted identifier, or a placeholder (`?` or `?NNN`); only placeholders are rewritten.
_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?(\d*)")
_RETURNS_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES)\b|\bRETURNING\b", re.IGNORECASE)
_SCHEMA_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")  # a council's schema: council_<code> (core/councils.py)
_MIGRATION_LOCK = 7_204_811_902  # pg_advisory_xact_lock key: one process migrates at a time
_BUSY = (
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.LockNotAvailableError,
    asyncpg.exceptions.QueryCanceledError,
    asyncpg.exceptions.TooManyConnectionsError,
)


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> tuple[str, bool]:
    """`sql` with `$n` placeholders, and whether it returns rows (a SELECT, or a write with RETURNING)."""
    counter = 0

    def placeholder(match: re.Match[str]) -> str:
        nonlocal counter
        token = match.group(0)
        if token[0] in "'\"":
            return token
        if match.group(1):
            return "$" + match.group(1)
        counter += 1
        return f"${counter}"

    text = _TOKEN.sub(placeholder, sql)
    return text, bool(_RETURNS_ROWS.search(text))


def _changed(status: str) -> int:
    """Rows changed, from a command status such as 'INSERT 0 1', 'UPDATE 3' or 'DELETE 0'."""
    last = status.rpartition(" ")[2]
    return int(last) if last.isdigit() else 0


def storage_error(exc: BaseException) -> StorageError:
    """A driver or server failure, in the terms of StorageError (the transaction was rolled back)."""
    if isinstance(exc, _BUSY):
        kind = "busy"
    elif isinstance(exc, asyncpg.exceptions.DiskFullError | asyncpg.exceptions.ProgramLimitExceededError):
        kind = "full"
    elif isinstance(exc, asyncpg.exceptions.ReadOnlySQLTransactionError):
        kind = "readonly"
    elif isinstance(exc, OSError | asyncpg.exceptions.ConnectionDoesNotExistError | asyncpg.InterfaceError):
        kind = "io"
    else:
        kind = "other"
    return StorageError(f"database: {exc}", kind)


# What the caller may want to catch as an engine failure: converted to StorageError where it surfaces.
_FAILURES = (
    *_BUSY,
    asyncpg.exceptions.DiskFullError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    OSError,
)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration in storage/postgres/migrations, in order, numbered 1..n."""
    return shipped_migrations("storage.postgres")


@dataclass(frozen=True, slots=True)
class Done:
    """What one statement of a transaction did: rows changed, the rows it returned."""

    rowcount: int
    rows: Sequence[Row]
    lastrowid: None = None  # PostgreSQL has none: the repositories ask for ids with RETURNING

    def one(self) -> Row | None:
        return self.rows[0] if self.rows else None


@dataclass(frozen=True, slots=True)
class _Deferred:
    sql: str
    params: Params
    changes: int
    error: Exception


@dataclass
class Transaction:
    """An open transaction on one connection of the pool.

    A deferred statement runs before the next statement that runs at once, or before COMMIT. SQLite defers them
    to save trips to its thread; here the trips are the same either way, and running them early takes their row
    locks early: a unit of work records its update (storage/sqlite/inbox.py `mark`) before its first write, so a
    second delivery of the same update handled at the same moment waits there for the first one's outcome,
    and then stops with AlreadyProcessed before it has done any work.
    """

    connection: Any  # asyncpg.Connection (the driver ships no type information)
    hooks: list[Callable[[], None]] = field(default_factory=list)
    _deferred: list[_Deferred] = field(default_factory=list)

    async def execute(self, sql: str, params: Params = ()) -> Done:
        await self._flush()
        text, returns_rows = translate(sql)
        if returns_rows:
            rows = await self.connection.fetch(text, *params)
            return Done(len(rows), rows)
        return Done(_changed(await self.connection.execute(text, *params)), [])

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self._flush()
        batch = [tuple(row) for row in rows]
        if batch:
            await self.connection.executemany(translate(sql)[0], batch)

    def defer(self, sql: str, params: Params, *, changes: int, error: Exception) -> None:
        self._deferred.append(_Deferred(sql, params, changes, error))

    async def _flush(self) -> None:
        deferred, self._deferred = self._deferred, []
        for statement in deferred:
            if (await self.execute(statement.sql, statement.params)).rowcount != statement.changes:
                raise statement.error

    async def commit(self) -> None:
        await self._flush()
        await self.connection.execute("COMMIT")


class PostgresDialect:
    name = "postgresql"

    def json_rows(self, columns: str) -> str:
        return f"coalesce(json_agg(json_build_array({columns})), '[]')::text"

    def skip_locked(self, alias: str) -> str:
        return f" FOR UPDATE OF {alias} SKIP LOCKED"

    def string_agg(self, expression: str, separator: str) -> str:
        # In the order of the values: SQLite's group_concat follows the order rows are read, which for the
        # export's agency links is their primary key's.
        return f"string_agg({expression}, {separator} ORDER BY {expression})"

    async def new_ids(self, tx: AnyTransaction, table: str, count: int) -> list[int]:
        # From the table's own sequence: no other transaction, now or later, is given these ids.
        done = await tx.execute(
            "SELECT nextval(pg_get_serial_sequence(?, 'id')) FROM generate_series(1, ?)", (table, count)
        )
        return sorted(int(row[0]) for row in done.rows)


class Database:
    """Two pools: writers (transactions and one-statement writes) and readers. Reads never wait for a connection
    held by an open transaction, so a transaction that reads on the side (as the repositories do) cannot starve
    the pool it needs to finish."""

    dialect = PostgresDialect()

    def __init__(self, url: str, *, schema: str | None = None, writers: int = 10, readers: int = 5) -> None:
        """`schema`: the council's own schema in a deployment of many councils (every table of the council is
        there and every statement reads and writes there: the connections' search_path is that schema alone);
        None: the database's default schema (one council)."""
        if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"not a schema name this program makes: {schema!r}")
        self.url = url
        self.schema = schema
        self._sizes = (writers, readers)
        self._writers: Any = None
        self._readers: Any = None
        # The transaction the current task has open, if any (a task's context is copied into tasks it starts).
        self._current: ContextVar[Transaction | None] = ContextVar(f"fieldbot-pg-{id(self)}", default=None)

    async def open(self) -> None:
        session = {"jit": "off", "timezone": "UTC"}  # JIT compiles a report's query slower than it runs it
        if self.schema is not None:
            session["search_path"] = self.schema  # nothing of another council's schema is ever named
        if "synchronous_commit" not in self.url:
            # SQLite's durability here (WAL, synchronous=NORMAL): a commit is safe once written, not once on disk;
            # a power cut may lose the last moments, never consistency. Waiting for the disk at every commit
            # tripled a button press's time. `?synchronous_commit=on` in DATABASE_URL asks for the wait.
            session["synchronous_commit"] = "off"
        options: dict[str, Any] = {
            "min_size": 1,
            "server_settings": session,
            "statement_cache_size": 1000,  # each statement text parsed once per connection
            # No reset query on every release (a trip to the server per read): this program changes no session state
            # (no SET, LISTEN or advisory lock on a pooled connection); an open transaction is still rolled back.
            "reset": _keep_session,
        }
        try:
            self._writers = await asyncpg.create_pool(self.url, max_size=self._sizes[0], **options)
            self._readers = await asyncpg.create_pool(self.url, max_size=self._sizes[1], **options)
            await self._migrate()
        except (asyncpg.PostgresError, *_FAILURES) as exc:
            await self.close()
            kind = storage_error(exc).kind
            raise StorageError(f"{_safe(self.url)}: cannot open the database ({exc})", kind) from None

    async def _migrate(self) -> None:
        known = migrations()
        async with self._writers.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            if self.schema is not None:
                await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            await connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                'name TEXT COLLATE "C" NOT NULL, applied_at TEXT COLLATE "C" NOT NULL DEFAULT '
                "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"
            )
            applied = {row[0] for row in await connection.fetch("SELECT version FROM schema_migrations")}
            newest = max(applied, default=0)
            if newest > len(known):
                raise StorageError(
                    f"{_safe(self.url)}: the database is at schema {newest}, newer than this program knows "
                    f"({len(known)})"
                )
            for version, name, sql in known:
                if version in applied:
                    continue
                log.info("applying migration %s", name)
                async with connection.transaction():  # a savepoint: each migration whole or not at all
                    await connection.execute(sql)
                    await connection.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
                    )

    async def close(self) -> None:
        for pool in (self._readers, self._writers):
            if pool is not None:
                await pool.close()
        self._readers = self._writers = None

    def _pool(self, pool: Any) -> Any:
        if pool is None:
            raise RuntimeError("database is not open")
        return pool

    def _not_inside_own_transaction(self) -> None:
        # As on SQLite: a write of its own inside the task's open transaction is a mistake (here it would wait
        # for ever on a row the transaction locked). The write belongs in the transaction: pass it `tx`.
        if self._current.get() is not None:
            raise RuntimeError("a write outside the open transaction of the same task; pass it the transaction")

    @asynccontextmanager
    async def transaction(self, *, small: bool = False) -> AsyncIterator[AnyTransaction]:
        """BEGIN ... COMMIT on a connection of the writers' pool; any exception rolls everything back.
        `small` means nothing here (SQLite runs small transactions on the event loop)."""
        self._not_inside_own_transaction()
        async with self._pool(self._writers).acquire() as connection:
            tx = Transaction(connection)
            token = self._current.set(tx)
            try:
                await connection.execute("BEGIN")
                try:
                    yield tx
                    await tx.commit()
                except BaseException as exc:
                    if not connection.is_closed():
                        with contextlib.suppress(*_FAILURES, asyncpg.PostgresError):
                            await connection.execute("ROLLBACK")
                    if isinstance(exc, _FAILURES):
                        raise storage_error(exc) from exc
                    raise
            finally:
                self._current.reset(token)
        for hook in tx.hooks:
            hook()

    @asynccontextmanager
    async def within(self, tx: AnyTransaction | None) -> AsyncIterator[AnyTransaction]:
        if tx is not None:
            yield tx
            return
        async with self.transaction() as own:
            yield own

    def on_commit(self, hook: Callable[[], None]) -> None:
        current = self._current.get()
        if current is None:
            hook()  # no transaction open in this task: what it wrote has committed already
        else:
            current.hooks.append(hook)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        try:
            rows: list[Row] = await self._pool(self._readers).fetch(translate(sql)[0], *params)
        except _FAILURES as exc:
            raise storage_error(exc) from exc
        return rows

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One statement, atomic on its own (autocommit). Returns the number of rows changed."""
        self._not_inside_own_transaction()
        try:
            status = await self._pool(self._writers).execute(translate(sql)[0], *params)
        except _FAILURES as exc:
            raise storage_error(exc) from exc
        return _changed(status)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    async def stream(self, sql: str, params: Params, batch: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        """One REPEATABLE READ snapshot on a reader's connection, a server-side cursor read `batch` rows at a
        time."""
        async with (
            self._pool(self._readers).acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            cursor = await connection.cursor(translate(sql)[0], *params)
            while rows := await cursor.fetch(batch):
                yield [tuple(row) for row in rows]


async def _keep_session(connection: Any) -> None:
    """What the pool does to a connection given back, besides rolling back a transaction left open: nothing."""


def _safe(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", url)
