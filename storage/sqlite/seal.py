"""Sealed columns: which ones there are, opening and sealing them, the key check, and key rotation."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from core.crypto import Sealer, SealError
from storage.sql import Database, Transaction
from storage.types import StorageError

# Every column that holds sealed text: (table, its key columns, the sealed column). Rotation walks exactly these.
SEALED_COLUMNS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("drafts", ("id",), "state"),
    ("inbox", ("bot_id", "update_id"), "payload"),
    ("submissions", ("id",), "memo"),
    ("followups", ("id",), "reason"),
    ("followup_notes", ("id",), "body"),
)
KEY_CHECK = "fieldbot key check"
BINDING = "seal_binding"  # meta: "row" once every sealed value is bound to its row (see `place`)


def place(table: str, column: str, *key: object) -> str:
    """Where a sealed value lives: its table, column and row. AES-GCM takes it as associated data, so a value
    opens only in the cell it was sealed for: two reasons swapped in the file, or a reason copied into a
    note, no longer open."""
    return f"{table}.{column}#{','.join(str(k) for k in key)}"


class Seal:
    """The sealer of an open store; reading or writing sealed columns without a key is an error, not clear text."""

    def __init__(self, sealer: Sealer | None) -> None:
        self._sealer = sealer

    @property
    def sealer(self) -> Sealer:
        if self._sealer is None:
            raise StorageError("no FIELD_ENCRYPTION_KEY: sealed personal data can be neither written nor read")
        return self._sealer

    def seal(self, text: str, where: str) -> bytes:
        return self.sealer.seal(text, where)

    def open(self, blob: bytes, where: str) -> str:
        return self.sealer.open(blob, where)

    def seal_optional(self, text: str | None, where: str) -> bytes | None:
        return None if text is None else self.seal(text, where)

    def open_optional(self, blob: bytes | None, where: str) -> str | None:
        return None if blob is None else self.open(blob, where)


async def check_key(db: Database, sealer: Sealer) -> None:
    """The first key used seals a known text in meta; every later start must open it with its key."""
    row = await db.fetchone("SELECT value FROM meta WHERE key = 'key_check'")
    if row is None:
        await db.execute(
            "INSERT INTO meta (key, value) VALUES ('key_check', ?) ON CONFLICT DO NOTHING",
            (sealer.seal(KEY_CHECK, "meta.key_check").hex(),),
        )
        return
    try:
        if sealer.open(bytes.fromhex(row[0]), "meta.key_check") != KEY_CHECK:
            raise SealError("key check text differs")
    except (SealError, ValueError):
        raise StorageError(
            "setting FIELD_ENCRYPTION_KEY: this is not the key this database was encrypted with"
        ) from None


def key_opens(path: Path, sealer: Sealer) -> bool:
    """Whether the database file at `path` was sealed with this key (a database that never sealed: yes)."""
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as connection:
        row = connection.execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()
    if row is None:
        return True
    try:
        return sealer.open(bytes.fromhex(row[0]), "meta.key_check") == KEY_CHECK
    except (SealError, ValueError):
        return False


async def bind_to_rows(db: Database, sealer: Sealer) -> int:
    """Once per database: re-seal every value sealed before values were bound to their rows (`place`), in one
    transaction. Returns how many values were re-sealed."""
    row = await db.fetchone("SELECT value FROM meta WHERE key = ?", (BINDING,))
    if row is not None and row[0] == "row":
        return 0
    done = 0
    async with db.transaction() as tx:
        for table, key, column in SEALED_COLUMNS:
            done += await _reseal(tx, table, key, column, sealer, sealer, old_bound=False)
        await tx.execute(
            "INSERT INTO meta (key, value) VALUES (?, 'row') ON CONFLICT (key) DO UPDATE SET value = 'row'",
            (BINDING,),
        )
    return done


async def rotate_key(db: Database, old: Sealer, new: Sealer) -> dict[str, int]:
    """Re-seal every sealed value under `new`, in one transaction: all or nothing. Returns values per table."""
    done: dict[str, int] = {}
    async with db.transaction() as tx:
        for table, key, column in SEALED_COLUMNS:
            done[table] = await _reseal(tx, table, key, column, old, new)
        await tx.execute(
            "UPDATE meta SET value = ? WHERE key = 'key_check'", (new.seal(KEY_CHECK, "meta.key_check").hex(),)
        )
    return done


async def _reseal(
    tx: Transaction,
    table: str,
    keys: tuple[str, ...],
    column: str,
    old: Sealer,
    new: Sealer,
    *,
    old_bound: bool = True,
) -> int:
    rows = (await tx.execute(f"SELECT {', '.join(keys)}, {column} FROM {table} WHERE {column} IS NOT NULL")).rows
    match = " AND ".join(f"{k} = ?" for k in keys)
    resealed = []
    for row in rows:
        where = place(table, column, *row[:-1])
        was = where if old_bound else f"{table}.{column}"  # before binding, only the table and column
        resealed.append((new.seal(old.open(row[-1], was), where), *row[:-1]))
    await tx.executemany(f"UPDATE {table} SET {column} = ? WHERE {match}", resealed)
    return len(rows)
