"""Online backup while the bot runs (SQLite's backup API), and a restore that checks the file first."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from storage.sqlite.db import migrations
from storage.types import StorageError


@dataclass(frozen=True, slots=True)
class BackupInfo:
    path: Path
    bytes: int
    schema: int
    outings: int
    consultations: int


def check(path: Path) -> BackupInfo:
    """A database file that passes PRAGMA integrity_check and has a schema this program knows."""
    if not path.is_file():
        raise StorageError(f"{path}: no such file")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            result = connection.execute("PRAGMA integrity_check").fetchone()
            if result is None or result[0] != "ok":
                raise StorageError(f"{path}: fails the integrity check ({result[0] if result else 'no answer'})")
            schema = connection.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0
            outings = connection.execute("SELECT count(*) FROM outings").fetchone()[0]
            consultations = connection.execute("SELECT count(*) FROM consultations").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"{path}: not a fieldbot database ({exc})") from None
    if schema > len(migrations()):
        raise StorageError(f"{path}: schema {schema} is newer than this program knows ({len(migrations())})")
    return BackupInfo(path, path.stat().st_size, schema, outings, consultations)


def backup(source: Path, target: Path) -> BackupInfo:
    """Copy the live database to `target` in one consistent snapshot; writers keep going meanwhile (WAL)."""
    if not source.is_file():
        raise StorageError(f"{source}: no database to back up")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with sqlite3.connect(source) as live, sqlite3.connect(partial) as copy:
            live.execute("PRAGMA busy_timeout = 10000")
            live.backup(copy)  # all pages in one step: one read snapshot of the whole database
        copy_info = check(partial)
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"backup to {target} failed: {exc}") from None
    partial.replace(target)
    return BackupInfo(target, copy_info.bytes, copy_info.schema, copy_info.outings, copy_info.consultations)


def restore(backup_file: Path, live: Path, now: datetime) -> tuple[BackupInfo, Path | None]:
    """Replace the live database with a checked backup; the replaced one is kept beside it first.

    Run it with the bot stopped. The pages are copied with the backup API into the live file, so its -wal and
    -shm companions stay consistent with it.
    """
    info = check(backup_file)
    kept = None
    if live.is_file():
        kept = live.with_name(f"{live.name}.before-restore-{now:%Y%m%d-%H%M%S}")
        backup(live, kept)
    live.parent.mkdir(parents=True, exist_ok=True)
    try:
        with sqlite3.connect(backup_file) as source, sqlite3.connect(live) as target:
            target.execute("PRAGMA busy_timeout = 10000")
            source.backup(target)
    except sqlite3.Error as exc:
        raise StorageError(f"restore into {live} failed: {exc}; the previous database is kept at {kept}") from None
    check(live)
    return info, kept
