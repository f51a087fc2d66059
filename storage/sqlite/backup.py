"""Online backup while the bot runs (SQLite's backup API), and a restore that checks the file first."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
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
        # As a URI built from the resolved path (as_uri escapes '#', '?' and '%'): a raw path such as
        # "good#evil.sqlite3" would otherwise name another file.
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
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


def backup(source: Path, target: Path, *, force: bool = False) -> BackupInfo:
    """Copy the live database to `target` in one consistent snapshot; writers keep going meanwhile (WAL).

    An existing `target` is replaced only with `force`. The copy is written beside the target, readable by its
    owner only, checked, then moved into place: nothing half-written is left behind, whatever fails."""
    if not source.is_file():
        raise StorageError(f"{source}: no database to back up")
    if target.exists() and not force:
        raise StorageError(f"{target}: already exists; give another file, or --force to replace it")
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        partial.touch(mode=0o600)
        with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(partial)) as copy:
            live.execute("PRAGMA busy_timeout = 10000")
            live.backup(copy)  # all pages in one step: one read snapshot of the whole database
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal or -shm beside it
        copy_info = check(partial)
        partial.replace(target)
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"backup to {target} failed: {exc}") from None
    finally:
        for leftover in (partial, *(partial.with_name(partial.name + end) for end in ("-wal", "-shm", "-journal"))):
            leftover.unlink(missing_ok=True)
    return BackupInfo(target, copy_info.bytes, copy_info.schema, copy_info.outings, copy_info.consultations)


def restore(
    backup_file: Path, live: Path, now: datetime, key_matches: Callable[[Path], bool] | None = None
) -> tuple[BackupInfo, Path | None]:
    """Replace the live database with a checked backup; the replaced one is kept beside it first.

    Run it with the bot stopped. Nothing is replaced unless the backup passes its checks, and (`key_matches`)
    was sealed with the key the bot will open it with. The pages are copied with the backup API into the live
    file, so its -wal and -shm companions stay consistent with it.
    """
    info = check(backup_file)
    if key_matches is not None and not key_matches(backup_file):
        raise StorageError(
            f"{backup_file}: sealed with another encryption key than FIELD_ENCRYPTION_KEY; nothing was replaced"
        )
    kept = None
    if live.is_file():
        kept = live.with_name(f"{live.name}.before-restore-{now:%Y%m%d-%H%M%S}")
        backup(live, kept)
    live.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        with sqlite3.connect(backup_file) as source, sqlite3.connect(live) as target:
            target.execute("PRAGMA busy_timeout = 10000")
            source.backup(target)
    except sqlite3.Error as exc:
        raise StorageError(f"restore into {live} failed: {exc}; the previous database is kept at {kept}") from None
    check(live)
    return info, kept
