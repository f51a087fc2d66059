"""What the repositories need from a SQL engine: the Protocols SQLite's and PostgreSQL's Database implement.

The repositories in storage/sqlite/ are written once, in SQL both engines run (`?` placeholders, RETURNING,
ON CONFLICT, CAST(? AS TEXT) where a bare parameter's type could not be told), against these Protocols. The few
phrases that differ between the dialects (aggregating rows into one JSON value, joining strings, taking ids for
rows written in bulk) come from the engine's `Dialect`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from importlib import resources
from typing import Any, Protocol, TypeAlias, overload

Params: TypeAlias = Sequence[Any]
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def shipped_migrations(package: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration in `package`/migrations, in order; numbered 1..n without gaps
    (both engines' folders hold the same numbers and names: tests/test_postgres.py)."""
    found = []
    for entry in resources.files(package).joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations are not numbered 1..n without gaps: {versions}")
    return found


class Row(Protocol):
    """A result row, read by position or by column name (sqlite3.Row, asyncpg.Record)."""

    @overload
    def __getitem__(self, key: int | str, /) -> Any: ...
    @overload
    def __getitem__(self, key: slice, /) -> tuple[Any, ...]: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...


class Done(Protocol):
    """What one statement of a transaction did: the rows it changed, the rows it returned."""

    @property
    def rowcount(self) -> int: ...
    @property
    def rows(self) -> Sequence[Row]: ...
    def one(self) -> Row | None: ...


class Transaction(Protocol):
    """An open write transaction: everything in it commits together or not at all."""

    async def execute(self, sql: str, params: Params = ()) -> Done: ...
    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...
    def defer(self, sql: str, params: Params, *, changes: int, error: Exception) -> None:
        """Run `sql` by the commit; unless it changes exactly `changes` rows, roll back and raise `error`."""
        ...


class Dialect(Protocol):
    """The phrases that differ between the engines."""

    name: str

    def json_rows(self, columns: str) -> str:
        """An aggregate of the rows' `columns` as one JSON text: an array of arrays ('[]' for no rows)."""
        ...

    def string_agg(self, expression: str, separator: str) -> str:
        """The aggregate joining `expression` of the rows with `separator` (a SQL string literal), in the order
        of the values (SQLite: in the order the rows are read; a caller that needs an order reads them so)."""
        ...

    def skip_locked(self, alias: str) -> str:
        """The clause ending a SELECT that picks a row to write, so that concurrent writers each pick a row no
        other has locked instead of queueing behind one ('' where one writer at a time is all there is)."""
        ...

    async def new_ids(self, tx: Transaction, table: str, count: int) -> list[int]:
        """`count` ids for new rows of `table` that no other row has or will be given (rows written in bulk
        with their ids, so that rows citing them go in the same batch)."""
        ...


class Database(Protocol):
    """An open database: reads, one-statement writes, and transactions."""

    @property
    def dialect(self) -> Dialect: ...

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...
    async def fetchall(self, sql: str, params: Params = ()) -> Sequence[Row]: ...
    async def execute(self, sql: str, params: Params = ()) -> int:
        """One statement, atomic on its own; the number of rows changed."""
        ...

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None: ...
    def transaction(self, *, small: bool = False) -> AbstractAsyncContextManager[Transaction]: ...
    def within(self, tx: Transaction | None) -> AbstractAsyncContextManager[Transaction]:
        """The caller's transaction when given, else one of its own."""
        ...

    def on_commit(self, hook: Callable[[], None]) -> None:
        """Run `hook` once the current transaction committed (never if it rolls back)."""
        ...

    def stream(self, sql: str, params: Params, batch: int) -> AsyncIterator[list[tuple[Any, ...]]]:
        """The rows of a long read in batches, from one consistent snapshot, never all in memory."""
        ...

    async def close(self) -> None: ...
