"""Writing validated historical imports (records and baseline counts) in one transaction, in batches."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Final

from core.clock import parse_utc, utc_iso
from core.faults import crash_point
from core.importing import BaselineRow, ConsultationRow, ImportKind, OutingRow, RecordRow
from storage.sql import Database, Dialect, Transaction
from storage.sqlite.staff import StaffRepository
from storage.sqlite.tallies import count_import
from storage.types import BaselineWritten, DuplicateImport, ImportInfo, RecordsWritten, StorageError

BATCH_SIZE: Final = 5000
# SQLite's default limit on bound parameters is 32766 since 3.32; stay well under it for IN (...) lists.
_IN_CHUNK: Final = 500
NEW_STAFF_LISTED: Final = 1000


_OUTINGS: Final = (
    "INSERT INTO outings (id, import_id, staff_id, date, area, activity, destination, headcount, created_at, "
    "record_id, place_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_CONSULTATIONS: Final = (
    "INSERT INTO consultations (id, import_id, staff_id, date, area, channel, consulter, consulter_category, topic, "
    "from_agency, at_outing, created_at, record_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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


def _present_sql(count: int) -> str:
    marks = ", ".join("?" * count)
    return (
        f"SELECT record_id FROM outings WHERE record_id IN ({marks}) "
        f"UNION ALL SELECT record_id FROM consultations WHERE record_id IN ({marks})"
    )


async def _present_in(tx: Transaction, record_ids: list[str]) -> set[str]:
    """Which of these record ids an outing or a consultation of the database (this transaction included) has."""
    found: set[str] = set()
    for start in range(0, len(record_ids), _IN_CHUNK):
        chunk = record_ids[start : start + _IN_CHUNK]
        found.update(r[0] for r in (await tx.execute(_present_sql(len(chunk)), (*chunk, *chunk))).rows)
    return found


class _RecordsWriter:
    """The rows of one records import, written a batch at a time in its transaction.

    A row whose record_id the database has already (an earlier import of it, or a record exported from this
    database) is skipped and counted; the others are written with their record_id, or a new one.
    """

    def __init__(
        self, tx: Transaction, staff: StaffRepository, import_id: int, now: datetime, dialect: Dialect
    ) -> None:
        self.tx, self.staff, self.now, self.dialect = tx, staff, now, dialect
        self.stamp = utc_iso(now)
        self.outing_ids: Iterator[int] = iter(())
        self.consultation_ids: Iterator[int] = iter(())
        self.staff_ids: dict[str, int] = {}
        self.place_ids: dict[tuple[str, str], int] = {}
        self.result = RecordsWritten(import_id)

    async def _staff_id(self, name: str) -> int:
        staff_id = self.staff_ids.get(name)
        if staff_id is None:
            staff_id = self.staff_ids[name] = await self.staff.imported(self.tx, name, self.now)
        return staff_id

    async def write(self, rows: list[RecordRow]) -> None:
        present = await _present_in(self.tx, [row.record_id for row in rows if row.record_id])
        kept = [row for row in rows if row.record_id not in present]
        self.result.already_present += len(rows) - len(kept)
        # The batch's ids, taken at once: consultations and the agency links that cite them go in one batch.
        new_outings = sum(isinstance(row, OutingRow) for row in kept)
        if new_outings:
            self.outing_ids = iter(await self.dialect.new_ids(self.tx, "outings", new_outings))
        if len(kept) > new_outings:
            self.consultation_ids = iter(await self.dialect.new_ids(self.tx, "consultations", len(kept) - new_outings))
        outings: list[tuple[Any, ...]] = []
        consultations: list[tuple[Any, ...]] = []
        links: list[tuple[int, str]] = []
        for row in kept:
            staff_id = await self._staff_id(row.staff)
            if isinstance(row, OutingRow):
                place_id = None if row.place is None else await self._place_id(row)
                outings.append((*self._outing(row, staff_id), place_id))
            else:
                consultation = self._consultation(row, staff_id)
                consultations.append(consultation)
                links.extend((consultation[0], agency) for agency in row.agencies)
        await _send(self.tx, [(_OUTINGS, outings), (_CONSULTATIONS, consultations), (_LINKS, links)])

    async def _place_id(self, row: OutingRow) -> int:
        """The registered place of the row's area and name, else one registered now for a supervisor to confirm
        (its kind: the outing's 支援先); in the import's transaction, so a refused import registers nothing."""
        assert row.place is not None
        key = (row.area, row.place)
        if key not in self.place_ids:
            found = await self.tx.execute("SELECT id FROM places WHERE area = ? AND name = ?", key)
            if found.rows:
                self.place_ids[key] = int(found.rows[0][0])
            else:
                made = await self.tx.execute(
                    "INSERT INTO places (name, kind, area, status, confirmed, created_at, updated_at) "
                    "VALUES (?, ?, ?, 'active', 0, ?, ?) RETURNING id",
                    (row.place, row.destination, row.area, self.stamp, self.stamp),
                )
                self.place_ids[key] = int(made.rows[0][0])
        return self.place_ids[key]

    def _outing(self, row: OutingRow, staff_id: int) -> tuple[Any, ...]:
        outing_id = next(self.outing_ids)
        self.result.outings += 1
        record_id = row.record_id or "o-" + secrets.token_hex(16)
        day = row.date.isoformat()
        return (
            outing_id,
            self.result.import_id,
            staff_id,
            day,
            row.area,
            row.activity,
            row.destination,
            row.headcount,
            self.stamp,
            record_id,
        )

    def _consultation(self, row: ConsultationRow, staff_id: int) -> tuple[Any, ...]:
        consultation_id = next(self.consultation_ids)
        self.result.consultations += 1
        self.result.agency_links += len(row.agencies)
        record_id = row.record_id or "c-" + secrets.token_hex(16)
        return (
            consultation_id,
            self.result.import_id,
            staff_id,
            row.date.isoformat(),
            row.area,
            row.channel,
            row.consulter,
            row.consulter_category,
            row.topic,
            row.from_agency,
            int(row.at_outing),
            self.stamp,
            record_id,
        )


class ImportRepository:
    """Imports are all-or-nothing: every write method runs in one transaction and any exception rolls it back,
    including one raised by the row iterator itself (the caller's way to abort a write pass).

    Records are written with explicit ids taken for each batch (the dialect's `new_ids`: above the current maximum
    on SQLite, whose BEGIN IMMEDIATE holds the only write lock; from the tables' sequences on PostgreSQL), so no
    other writer can take those ids, and executemany can then write consultations and their agency links in
    batches without asking the database for each row's id.
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

    async def same_rows_imported(self, kind: ImportKind, fingerprint: str) -> ImportInfo | None:
        """An earlier import of the same kind whose file had the same rows (the same fingerprint), or None."""
        r = await self.db.fetchone(
            "SELECT id, kind, sha256, filename, rows, imported_at FROM imports WHERE kind = ? AND fingerprint = ?",
            (kind, fingerprint),
        )
        return (
            ImportInfo(r["id"], r["kind"], r["sha256"], r["filename"], r["rows"], parse_utc(r["imported_at"]))
            if r
            else None
        )

    async def present_record_ids(self, record_ids: Iterable[str]) -> set[str]:
        """Which of these record ids an outing or a consultation of the database has."""
        wanted = list(set(record_ids))
        found: set[str] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            found.update(r[0] for r in await self.db.fetchall(_present_sql(len(chunk)), (*chunk, *chunk)))
        return found

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
        except StorageError as exc:  # the engine's own failures (locked, disk full, read-only) come as these
            kind = exc.kind
            raise StorageError(f"the import could not be written, so nothing was ({exc})", kind) from None

    async def _begin(
        self, tx: Transaction, kind: ImportKind, file: tuple[str, str | None], filename: str, now: datetime
    ) -> int:
        """The `imports` row of a new import; `file` is (sha256, fingerprint). DuplicateImport when an earlier
        import of the same kind had the same bytes or the same rows (the UNIQUE indexes make that race-free)."""
        sha256, fingerprint = file
        made = await tx.execute(
            "INSERT INTO imports (kind, sha256, fingerprint, filename, rows, imported_at) "
            "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT DO NOTHING RETURNING id",
            (kind, sha256, fingerprint, filename, utc_iso(now)),
        )
        if made.rows:
            return int(made.rows[0][0])
        found = await tx.execute(
            "SELECT id, imported_at, sha256 = ?2, filename FROM imports WHERE kind = ?1 "
            "AND (sha256 = ?2 OR fingerprint = ?3) ORDER BY sha256 = ?2 DESC LIMIT 1",
            (kind, sha256, fingerprint),
        )
        row = found.one()
        if row is None:
            raise StorageError(f"the import of {filename} could not be recorded")
        raise DuplicateImport(int(row[0]), parse_utc(row[1]), filename=None if row[2] else row[3])

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
        fingerprint: str | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> RecordsWritten:
        """Write validated outings and consultations as one import, in one transaction.

        Imported rows have no submission (submission_id NULL) and point at their `imports` row, so deleting
        that row removes the whole import. Staff names are resolved once each: a name no staff member has
        becomes an imported staff member with no access. A row whose record_id the database has already is
        skipped (counted in `already_present`); the others keep their record_id (or get a new one). Raises
        DuplicateImport when the same file, or a file with the same rows (`fingerprint`), was imported before.
        """
        async with self._transaction() as tx:
            import_id = await self._begin(tx, "records", (sha256, fingerprint), filename, now)
            last_staff = await self._scalar(tx, "SELECT MAX(id) FROM staff")
            next_ids = (
                await self._scalar(tx, "SELECT MAX(id) FROM outings") + 1,
                await self._scalar(tx, "SELECT MAX(id) FROM consultations") + 1,
            )
            writer = _RecordsWriter(tx, self.staff, import_id, now, self.db.dialect)
            batch: list[RecordRow] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= batch_size:
                    await writer.write(batch)
                    batch = []
            await writer.write(batch)
            await count_import(tx, import_id, *next_ids)  # the reports' tallies, in the same transaction
            result = writer.result
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
        fingerprint: str | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> BaselineWritten:
        """Write validated baseline counts as one import, in one transaction.

        An upsert: a count for a (fiscal_year, dimension, category) that an earlier baseline import gave is
        replaced, not added to, and then belongs to this import. So a corrected baseline file is imported as
        is, and deleting the earlier import row no longer removes the corrected counts. Raises DuplicateImport
        when the same file, or a file with the same rows (`fingerprint`), was imported before.
        """
        async with self._transaction() as tx:
            import_id = await self._begin(tx, "baseline", (sha256, fingerprint), filename, now)
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
