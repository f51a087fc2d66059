"""Writing validated historical imports (records and baseline counts) in one transaction, in batches."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Final

from core.clock import parse_utc, utc_iso
from core.faults import crash_point
from core.importing import BaselineRow, ConsultationRow, ImportKind, OutingRow, RecordRow
from storage.sqlite.db import Database, Transaction
from storage.sqlite.staff import StaffRepository
from storage.types import BaselineWritten, DuplicateImport, ImportInfo, RecordsWritten, StorageError

BATCH_SIZE: Final = 5000
# SQLite's default limit on bound parameters is 32766 since 3.32; stay well under it for IN (...) lists.
_IN_CHUNK: Final = 500
NEW_STAFF_LISTED: Final = 1000


_OUTINGS: Final = (
    "INSERT INTO outings (id, import_id, staff_id, date, area, activity, destination, headcount, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CONSULTATIONS: Final = (
    "INSERT INTO consultations (id, import_id, staff_id, date, area, channel, consulter, consulter_category, topic, "
    "at_outing, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_LINKS: Final = "INSERT INTO consultation_agencies (consultation_id, agency) VALUES (?, ?)"
_BASELINE: Final = (
    "INSERT INTO baseline_counts (fiscal_year, dimension, category, count, import_id) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (fiscal_year, dimension, category) "
    "DO UPDATE SET count = excluded.count, import_id = excluded.import_id"
)


async def _send(tx: Transaction, statements: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
    """One batch: an executemany per statement, in order (consultations before the agency links that cite them)."""
    for sql, rows in statements:
        if rows:
            await tx.executemany(sql, rows)
    crash_point("import.batch")


class ImportRepository:
    """Imports are all-or-nothing: every write method runs in one transaction and any exception rolls it back,
    including one raised by the row iterator itself (the caller's way to abort a write pass).

    Records are written with explicit ids taken above the current maximum: BEGIN IMMEDIATE holds the only
    write lock, so no other writer can take those ids, and executemany can then write consultations and their
    agency links in batches without asking SQLite for each row's id.
    """

    def __init__(self, db: Database, staff: StaffRepository | None = None) -> None:
        self.db = db
        self.staff = staff or StaffRepository(db)

    async def already_imported(self, kind: ImportKind, sha256: str) -> tuple[int, datetime] | None:
        """(import id, imported_at) of an earlier import of the same file, or None."""
        row = await self.db.fetchone(
            "SELECT id, imported_at FROM imports WHERE kind = ? AND sha256 = ?", (kind, sha256)
        )
        return (int(row["id"]), parse_utc(row["imported_at"])) if row else None

    async def list_imports(self) -> list[ImportInfo]:
        rows = await self.db.fetchall("SELECT id, kind, sha256, filename, rows, imported_at FROM imports ORDER BY id")
        return [
            ImportInfo(r["id"], r["kind"], r["sha256"], r["filename"], r["rows"], parse_utc(r["imported_at"]))
            for r in rows
        ]

    async def missing_staff(self, names: Iterable[str]) -> list[str]:
        """The names no staff member has yet (an import would create them as imported staff), sorted."""
        wanted = sorted(set(names))
        known: set[str] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = await self.db.fetchall(f"SELECT DISTINCT name FROM staff WHERE name IN ({marks})", chunk)
            known.update(r[0] for r in rows)
        return [name for name in wanted if name not in known]

    async def baseline_overlap(self, keys: Iterable[tuple[int, str, str]]) -> int:
        """How many of these (fiscal_year, dimension, category) keys already have a baseline count."""
        rows = await self.db.fetchall("SELECT fiscal_year, dimension, category FROM baseline_counts")
        existing = {(r[0], r[1], r[2]) for r in rows}
        return sum(1 for key in keys if key in existing)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Transaction]:
        """The write transaction, with SQLite's own failures (locked, disk full, read-only) as StorageError."""
        try:
            async with self.db.transaction() as tx:
                yield tx
        except (sqlite3.OperationalError, StorageError) as exc:
            kind = exc.kind if isinstance(exc, StorageError) else "other"
            raise StorageError(f"the import could not be written, so nothing was ({exc})", kind) from None

    async def _begin(self, tx: Transaction, kind: ImportKind, sha256: str, filename: str, now: datetime) -> int:
        try:
            cursor = await tx.execute(
                "INSERT INTO imports (kind, sha256, filename, rows, imported_at) VALUES (?, ?, ?, 0, ?)",
                (kind, sha256, filename, utc_iso(now)),
            )
        except sqlite3.IntegrityError:
            found = await tx.execute(
                "SELECT id, imported_at FROM imports WHERE kind = ? AND sha256 = ?", (kind, sha256)
            )
            row = found.one()
            if row is None:
                raise
            raise DuplicateImport(int(row[0]), parse_utc(row[1])) from None
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    @staticmethod
    async def _scalar(tx: Transaction, sql: str, params: tuple[Any, ...] = ()) -> int:
        row = (await tx.execute(sql, params)).one()
        return int(row[0]) if row and row[0] is not None else 0

    async def write_records(
        self,
        rows: Iterable[RecordRow],
        *,
        filename: str,
        sha256: str,
        now: datetime,
        batch_size: int = BATCH_SIZE,
    ) -> RecordsWritten:
        """Write validated outings and consultations as one import, in one transaction.

        Imported rows have no submission (submission_id NULL) and point at their `imports` row, so deleting
        that row removes the whole import. Staff names are resolved once each: a name no staff member has
        becomes an imported staff member with no access. Raises DuplicateImport when the same file was
        imported before (the UNIQUE (kind, sha256) of `imports` makes that check race-free).
        """
        stamp = utc_iso(now)
        async with self._transaction() as tx:
            import_id = await self._begin(tx, "records", sha256, filename, now)
            last_staff = await self._scalar(tx, "SELECT MAX(id) FROM staff")
            next_outing = await self._scalar(tx, "SELECT MAX(id) FROM outings") + 1
            next_consultation = await self._scalar(tx, "SELECT MAX(id) FROM consultations") + 1
            result = RecordsWritten(import_id)
            staff_ids: dict[str, int] = {}
            outings: list[tuple[Any, ...]] = []
            consultations: list[tuple[Any, ...]] = []
            links: list[tuple[int, str]] = []
            for row in rows:
                staff_id = staff_ids.get(row.staff)
                if staff_id is None:
                    staff_id = staff_ids[row.staff] = await self.staff.imported(tx, row.staff, now)
                day = row.date.isoformat()
                if isinstance(row, OutingRow):
                    outings.append(
                        (
                            next_outing,
                            import_id,
                            staff_id,
                            day,
                            row.area,
                            row.activity,
                            row.destination,
                            row.headcount,
                            stamp,
                        )
                    )
                    next_outing += 1
                    result.outings += 1
                else:
                    assert isinstance(row, ConsultationRow)
                    consultations.append(
                        (
                            next_consultation,
                            import_id,
                            staff_id,
                            day,
                            row.area,
                            row.channel,
                            row.consulter,
                            row.consulter_category,
                            row.topic,
                            int(row.at_outing),
                            stamp,
                        )
                    )
                    links.extend((next_consultation, agency) for agency in row.agencies)
                    result.agency_links += len(row.agencies)
                    next_consultation += 1
                    result.consultations += 1
                if len(outings) + len(consultations) >= batch_size:
                    await _send(tx, [(_OUTINGS, outings), (_CONSULTATIONS, consultations), (_LINKS, links)])
                    outings, consultations, links = [], [], []
            await _send(tx, [(_OUTINGS, outings), (_CONSULTATIONS, consultations), (_LINKS, links)])
            await tx.execute(
                "UPDATE imports SET rows = ? WHERE id = ?", (result.outings + result.consultations, import_id)
            )
            result.new_staff = await self._scalar(tx, "SELECT COUNT(*) FROM staff WHERE id > ?", (last_staff,))
            names = await tx.execute(
                "SELECT name FROM staff WHERE id > ? ORDER BY id LIMIT ?", (last_staff, NEW_STAFF_LISTED)
            )
            result.new_staff_names = [r[0] for r in names.rows]
        return result

    async def write_baseline(
        self,
        rows: Iterable[BaselineRow],
        *,
        filename: str,
        sha256: str,
        now: datetime,
        batch_size: int = BATCH_SIZE,
    ) -> BaselineWritten:
        """Write validated baseline counts as one import, in one transaction.

        An upsert: a count for a (fiscal_year, dimension, category) that an earlier baseline import gave is
        replaced, not added to, and then belongs to this import. So a corrected baseline file is imported as
        is, and deleting the earlier import row no longer removes the corrected counts. Raises DuplicateImport
        when the same file was imported before.
        """
        async with self._transaction() as tx:
            import_id = await self._begin(tx, "baseline", sha256, filename, now)
            before = await self._scalar(tx, "SELECT COUNT(*) FROM baseline_counts")
            result = BaselineWritten(import_id)
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append((row.fiscal_year, row.dimension, row.category, row.count, import_id))
                result.rows += 1
                if len(batch) >= batch_size:
                    await _send(tx, [(_BASELINE, batch)])
                    batch = []
            await _send(tx, [(_BASELINE, batch)])
            after = await self._scalar(tx, "SELECT COUNT(*) FROM baseline_counts")
            # Keys are unique within a file (the reader checks), so every row either added a key or replaced one.
            result.replaced = result.rows - (after - before)
            await tx.execute("UPDATE imports SET rows = ? WHERE id = ?", (result.rows, import_id))
        return result
