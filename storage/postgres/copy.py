"""A council's SQLite database copied into PostgreSQL (`fieldbot migrate`): every table, row for row, verified.

Rows go over as they are: sealed values keep their bytes (they are bound to their table, column and ids, which
stay the same, so the same key opens them), ids keep their numbers, and each identity sequence is then moved past
the largest id the council ever used (SQLite's own counter included: an id of a deleted row is never handed out
again). Every table is copied, the inbox and the processed updates too: an update kept but not yet handled when
the bot stopped is handled by the new deployment, and one handled already is not handled twice. Only SQLite's
bookkeeping stays behind (schema_migrations: the target has its own, at the same version; sqlite_sequence: it
becomes the sequences' positions).

Idempotent and resumable: rows are written in batches with `ON CONFLICT (primary key) DO NOTHING`, one
transaction per batch, so a run stopped anywhere leaves whole batches behind and the next run writes only what
is missing. Before writing anything, the target is compared with the source table by table: a row the source
does not have, or has with other values, means the target holds someone else's data (another council's, or an
earlier copy that has since been used) and the copy is refused, not merged. After writing, the comparison is made
again, row by row; only a target that holds exactly the source's rows in every table is reported done.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import asyncpg

from core.crypto import Sealer, SealError
from storage.postgres.db import Database as PostgresDatabase
from storage.postgres.db import storage_error as postgres_error
from storage.sqlite.db import Database as SqliteDatabase
from storage.sqlite.db import storage_error as sqlite_error
from storage.sqlite.seal import KEY_CHECK
from storage.types import StorageError

T = TypeVar("T")

BATCH = 2000  # rows per INSERT (and per transaction): what a stopped run may leave half-way is one batch
SKIPPED = frozenset({"schema_migrations"})  # each engine's own record of its schema
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_KEY_CHECK = ("key_check",)  # the key of meta's row that checks the encryption key
# The deployment's connections commit without waiting for the disk (storage/postgres/db.py); what this copy says
# is done must be on disk, whatever happens to the server next.
_DURABLE = "SET LOCAL synchronous_commit = on"


class CopyRefused(StorageError):
    """The copy cannot go ahead; nothing was written (or, for VerifyFailed, the target is not like the source)."""


class SchemaDiffers(CopyRefused):
    """The two databases do not have the same tables and columns (or not at the same schema version)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"the source and the target differ in their schema: {what}")
        self.what = what


@dataclass(frozen=True, slots=True)
class Foreign:
    table: str
    rows: int  # rows of the target that the source has not, or has with other values


class ForeignRows(CopyRefused):
    """The target holds rows that are not the source's: nothing was written."""

    def __init__(self, tables: Sequence[Foreign]) -> None:
        listed = ", ".join(f"{f.table} ({f.rows})" for f in tables)
        super().__init__(f"the target holds rows that are not in the source: {listed}")
        self.tables = list(tables)


class VerifyFailed(CopyRefused):
    """After copying, a table of the target does not hold exactly the source's rows."""

    def __init__(self, table: str, source_rows: int, target_rows: int, differing: int) -> None:
        super().__init__(
            f"{table}: the target does not match the source after copying ({source_rows} rows in the source, "
            f"{target_rows} in the target, {differing} missing or different)"
        )
        self.table = table
        self.source_rows = source_rows
        self.target_rows = target_rows


@dataclass(frozen=True, slots=True)
class Progress:
    """Rows of one table written so far (`done`: the table is complete)."""

    table: str
    rows: int  # the source's rows
    copied: int  # rows this run wrote so far (the others were there already)
    done: bool


@dataclass(frozen=True, slots=True)
class TableResult:
    table: str
    rows: int  # rows in the source, and (verified) in the target
    copied: int  # written by this run


@dataclass
class CopyReport:
    tables: list[TableResult] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)  # table -> the largest id now behind its sequence

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)

    @property
    def copied(self) -> int:
        return sum(table.copied for table in self.tables)


@dataclass(frozen=True, slots=True)
class _Table:
    name: str
    columns: tuple[str, ...]  # the source's column order
    key: tuple[str, ...]  # its primary key
    types: dict[str, str]  # the target's type of each column (bigint, integer, text, bytea)
    identity: str | None  # the target's identity column, if any


@dataclass
class _Comparison:
    source_rows: int = 0
    target_rows: int = 0
    missing: int = 0  # in the source, not in the target
    extra: int = 0  # in the target, not in the source
    differing: int = 0  # under the same key, with other values
    foreign_keys: list[tuple[Any, ...]] = field(default_factory=list)  # the first few keys of extra/differing

    @property
    def foreign(self) -> int:
        return self.extra + self.differing


def redact(url: str) -> str:
    """The URL without its password (in the user part or as `password=`), for messages and logs."""
    text = re.sub(r"://([^:/@?#]*):[^@/?#]*@", r"://\1:***@", url)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", text)


def password_of(url: str) -> str | None:
    """The password a URL holds, if any (so that it can be kept out of anything printed)."""
    parts = urlsplit(url)
    found = parts.password
    for name, value in parse_qsl(parts.query):
        if name == "password" and value:
            found = value
    return found or None


def _quoted(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise SchemaDiffers(f"unexpected name {name!r}")
    return f'"{name}"'


async def copy_to_postgres(
    source: Path,
    url: str,
    *,
    schema: str | None = None,
    sealer: Sealer | None = None,
    batch: int = BATCH,
    progress: Callable[[Progress], None] | None = None,
) -> CopyReport:
    """Copy the SQLite database at `source` into the PostgreSQL database at `url` (in `schema` when given, a
    council's own), verify it, and say what was copied. Both are migrated to this program's schema by opening
    them. Raises CopyRefused (nothing written) when the target holds rows that are not the source's, and
    VerifyFailed when the copy does not check out; any other failure leaves whole batches behind, and running
    again resumes. `sealer`: the council's key, which lets a target that was only opened with the same key
    (and holds nothing else) be taken as empty."""
    if not await asyncio.to_thread(source.is_file):  # never create it: SQLite would make an empty one
        raise StorageError(f"{source}: no such database file")
    origin = SqliteDatabase(source)
    target = PostgresDatabase(url, schema=schema, writers=2, readers=2)
    try:
        await origin.open()
        await target.open()
        return await _copy_all(origin, target, sealer, batch, progress)
    except sqlite3.Error as exc:
        raise sqlite_error(exc) from exc
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise postgres_error(exc) from exc
    finally:
        await target.close()
        await origin.close()


async def _copy_all(
    origin: SqliteDatabase,
    target: PostgresDatabase,
    sealer: Sealer | None,
    batch: int,
    progress: Callable[[Progress], None] | None,
) -> CopyReport:
    tables = await _tables(origin, target)
    compared = {table.name: await _compare(origin, target, table) for table in tables}
    replace_key_check = await _key_check_replaceable(origin, target, compared, sealer)
    if replace_key_check:
        compared["meta"].differing = 0
    foreign = [Foreign(name, c.foreign) for name, c in compared.items() if c.foreign]
    if foreign:
        raise ForeignRows(foreign)
    if replace_key_check:
        # The target was opened once with the same key before the copy: its own check value goes, the source's
        # comes (both open with that key).
        await target.execute("DELETE FROM meta WHERE key = 'key_check'")
        compared["meta"].missing += 1
    copied = {table.name: await _copy(origin, target, table, compared[table.name], batch, progress) for table in tables}
    report = CopyReport(sequences=await _move_sequences(origin, target, tables))
    for table in tables:
        check = await _compare(origin, target, table)
        if check.missing or check.foreign or check.source_rows != check.target_rows:
            raise VerifyFailed(table.name, check.source_rows, check.target_rows, check.missing + check.foreign)
        report.tables.append(TableResult(table.name, check.source_rows, copied[table.name]))
    return report


async def _tables(origin: SqliteDatabase, target: PostgresDatabase) -> list[_Table]:
    """The tables to copy, parents before the tables that refer to them; refused unless both schemas agree."""
    source_versions = {int(r[0]) for r in await origin.fetchall("SELECT version FROM schema_migrations")}
    target_versions = {int(r[0]) for r in await target.fetchall("SELECT version FROM schema_migrations")}
    if source_versions != target_versions:
        raise SchemaDiffers(f"versions {sorted(source_versions)} and {sorted(target_versions)}")
    names = [
        str(r[0])
        for r in await origin.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        if str(r[0]) not in SKIPPED
    ]
    target_columns, identities = await _target_columns(target)
    if set(names) != set(target_columns):
        raise SchemaDiffers(f"tables {sorted(set(names) ^ set(target_columns))}")
    found: dict[str, _Table] = {}
    parents: dict[str, set[str]] = {}
    for name in names:
        info = await origin.fetchall(f"PRAGMA table_info({_quoted(name)})")
        columns = tuple(str(r[1]) for r in info)
        key = tuple(str(r[1]) for r in sorted((r for r in info if r[5]), key=lambda r: int(r[5])))
        if set(columns) != set(target_columns[name]):
            raise SchemaDiffers(f"columns of {name}")
        if not key:
            raise SchemaDiffers(f"{name} has no primary key")
        for column in columns:
            _quoted(column)
        found[name] = _Table(name, columns, key, target_columns[name], identities.get(name))
        references = await origin.fetchall(f"PRAGMA foreign_key_list({_quoted(name)})")
        parents[name] = {str(r[2]) for r in references} - {name}
    return _parents_first(found, parents)


async def _target_columns(target: PostgresDatabase) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """The target's tables: the type of each column, and the identity column of those that have one."""
    columns: dict[str, dict[str, str]] = {}
    identities: dict[str, str] = {}
    for row in await target.fetchall(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attidentity IN ('a', 'd') "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "
        "AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped"
    ):
        table, column, kind, identity = str(row[0]), str(row[1]), str(row[2]), bool(row[3])
        if table not in SKIPPED:
            columns.setdefault(table, {})[column] = kind
            if identity:
                identities[table] = column
    return columns, identities


def _parents_first(found: dict[str, _Table], parents: dict[str, set[str]]) -> list[_Table]:
    ordered: list[_Table] = []
    placed: set[str] = set()
    while len(ordered) < len(found):
        ready = [name for name in found if name not in placed and parents[name] <= placed]
        if not ready:
            raise SchemaDiffers("foreign keys that go round in a circle")
        for name in ready:
            ordered.append(found[name])
            placed.add(name)
    return ordered


def _select(table: _Table, *, postgres: bool) -> str:
    order = []
    for column in table.key:
        text = postgres and table.types[column] == "text"
        order.append(_quoted(column) + (' COLLATE "C"' if text else ""))  # byte order, as SQLite's BINARY
    columns = ", ".join(_quoted(c) for c in table.columns)
    return f"SELECT {columns} FROM {_quoted(table.name)} ORDER BY {', '.join(order)}"


@asynccontextmanager
async def _closing(stream: AsyncIterator[T]) -> AsyncIterator[AsyncIterator[T]]:
    """The stream, closed however the reading ends (its connection or cursor goes with it at once)."""
    try:
        yield stream
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()


async def _rows(stream: AsyncIterator[list[tuple[Any, ...]]]) -> AsyncIterator[tuple[Any, ...]]:
    async with _closing(stream) as batches:
        async for rows in batches:
            for row in rows:
                yield tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)


async def _compare(origin: SqliteDatabase, target: PostgresDatabase, table: _Table) -> _Comparison:
    """Both tables read in key order and walked side by side (text keys compare byte by byte on both engines, as
    Python compares str), each row compared whole."""
    at = [table.columns.index(k) for k in table.key]
    result = _Comparison()
    async with (
        _closing(_rows(origin.stream(_select(table, postgres=False), (), BATCH))) as source,
        _closing(_rows(target.stream(_select(table, postgres=True), (), BATCH))) as theirs,
    ):
        await _walk(source, theirs, at, result)
    return result


async def _walk(
    source: AsyncIterator[tuple[Any, ...]],
    theirs: AsyncIterator[tuple[Any, ...]],
    at: list[int],
    result: _Comparison,
) -> None:
    mine = await anext(source, None)
    other = await anext(theirs, None)
    while mine is not None or other is not None:
        mine_key = None if mine is None else tuple(mine[i] for i in at)
        other_key = None if other is None else tuple(other[i] for i in at)
        if other_key is None or (mine_key is not None and mine_key < other_key):
            assert mine is not None
            result.missing += 1
            result.source_rows += 1
            mine = await anext(source, None)
        elif mine_key is None or other_key < mine_key:
            result.extra += 1
            result.target_rows += 1
            if len(result.foreign_keys) < 10:
                result.foreign_keys.append(other_key)
            other = await anext(theirs, None)
        else:
            if mine != other:
                result.differing += 1
                if len(result.foreign_keys) < 10:
                    result.foreign_keys.append(other_key)
            result.source_rows += 1
            result.target_rows += 1
            mine, other = await anext(source, None), await anext(theirs, None)


async def _key_check_replaceable(
    origin: SqliteDatabase, target: PostgresDatabase, compared: dict[str, _Comparison], sealer: Sealer | None
) -> bool:
    """Whether the target's only row unlike the source's is its key check, made by opening it with the key that
    opens the source's check too (`fieldbot check` run with DATABASE_URL set before the copy)."""
    meta = compared.get("meta")
    if sealer is None or meta is None or meta.foreign != 1 or meta.foreign_keys != [_KEY_CHECK]:
        return False
    if any(c.foreign for name, c in compared.items() if name != "meta"):
        return False
    values = [await db.fetchone("SELECT value FROM meta WHERE key = 'key_check'") for db in (origin, target)]
    try:
        return all(
            row is not None and sealer.open(bytes.fromhex(str(row[0])), "meta.key_check") == KEY_CHECK for row in values
        )
    except (SealError, ValueError):
        return False


async def _copy(
    origin: SqliteDatabase,
    target: PostgresDatabase,
    table: _Table,
    compared: _Comparison,
    batch: int,
    progress: Callable[[Progress], None] | None,
) -> int:
    """Write the source's rows the target lacks, a batch per transaction; returns how many were written."""
    written = 0
    if compared.missing:
        arrays = ", ".join(f"?::{table.types[c]}[]" for c in table.columns)
        sql = (
            f"INSERT INTO {_quoted(table.name)} ({', '.join(_quoted(c) for c in table.columns)}) "
            f"SELECT * FROM unnest({arrays}) ON CONFLICT ({', '.join(_quoted(k) for k in table.key)}) DO NOTHING"
        )
        async with _closing(origin.stream(_select(table, postgres=False), (), batch)) as batches:
            async for rows in batches:
                by_column = [[bytes(v) if isinstance(v, memoryview) else v for v in c] for c in zip(*rows, strict=True)]
                async with target.transaction() as tx:
                    await tx.execute(_DURABLE)
                    written += (await tx.execute(sql, by_column)).rowcount
                if progress is not None:
                    progress(Progress(table.name, compared.source_rows, written, done=False))
    if progress is not None:
        progress(Progress(table.name, compared.source_rows, written, done=True))
    return written


async def _move_sequences(origin: SqliteDatabase, target: PostgresDatabase, tables: list[_Table]) -> dict[str, int]:
    """Each identity sequence past the largest id the source holds or ever handed out (never moved back)."""
    handed_out: dict[str, int] = {}
    if await origin.fetchone("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"):
        handed_out = {str(r[0]): int(r[1]) for r in await origin.fetchall("SELECT name, seq FROM sqlite_sequence")}
    moved: dict[str, int] = {}
    async with target.transaction() as tx:
        await tx.execute(_DURABLE)
        for table in tables:
            if table.identity is None:
                continue
            column, name = _quoted(table.identity), _quoted(table.name)
            row = await origin.fetchone(f"SELECT coalesce(max({column}), 0) FROM {name}")
            largest = max(int(row[0]) if row else 0, handed_out.get(table.name, 0))
            if largest <= 0:
                continue
            sequence = f"pg_get_serial_sequence('{table.name}', '{table.identity}')::regclass"
            last = f"coalesce(pg_sequence_last_value({sequence}), 0)"
            await tx.execute(f"SELECT setval({sequence}, greatest(CAST(? AS BIGINT), {last}))", (largest,))
            moved[table.name] = largest
    return moved
