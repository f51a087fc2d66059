"""`fieldbot import records|baseline`: hash, validate, then write the whole file in one transaction, or nothing.

A file is refused when the same kind of import had the same bytes (sha256) or the same rows (the reader's
fingerprint: the same file saved again by Excel); a records row whose record_id the database has already (an
export of it imported again) is skipped and counted, so counts never double."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

from core.clock import utc_iso
from core.csvfile import ErrorList, SourceFile, inspect_file
from core.importing import (
    BaselineReader,
    BaselineRow,
    ImportKind,
    OutingRow,
    RecordRow,
    RecordsReader,
    reader_for,
)
from core.taxonomy import Taxonomy
from storage.interface import Store
from storage.types import DuplicateImport

NAMES_SHOWN = 20

RowT = TypeVar("RowT", RecordRow, BaselineRow)


@dataclass(slots=True)
class ImportCounts:
    outings: int = 0
    consultations: int = 0
    agency_links: int = 0
    baseline_rows: int = 0
    baseline_replaced: int = 0  # baseline rows that replace (or would replace) a count of an earlier import
    new_staff: int = 0  # names no staff member had: created as imported staff with no access
    new_staff_names: list[str] = field(default_factory=list)
    already_present: int = 0  # records rows skipped (or that would be): their record_id is in the database


@dataclass(frozen=True, slots=True)
class PreviousImport:
    import_id: int
    imported_at: datetime
    filename: str | None = None  # set when the rows were the same but the bytes were not: the file imported then


@dataclass(slots=True)
class ImportReport:
    kind: ImportKind
    path: Path
    dry_run: bool
    ok: bool = False
    errors: list[str] = field(default_factory=list)  # at most ERROR_LIMIT, then "and K more errors"
    error_count: int = 0
    counts: ImportCounts = field(default_factory=ImportCounts)
    already_imported: PreviousImport | None = None
    import_id: int | None = None  # the `imports` row written (None for a dry run or a failure)
    encoding: str | None = None
    sha256: str | None = None
    fingerprint: str | None = None  # of the file's rows (see RecordsReader.fingerprint), once validated
    names: set[str] = field(default_factory=set)  # staff names seen in the file (records)
    # record_id -> (an outing?, its agency links) of the rows that have one; for a dry run's count of skipped rows
    record_ids: dict[str, tuple[bool, int]] = field(default_factory=dict, repr=False)


class _SourceChanged(Exception):
    """The file read in the write pass is not the file that was validated: abort, rolling back."""


def _validate(
    reader: RecordsReader | BaselineReader,
    counts: ImportCounts,
    names: set[str],
    record_ids: dict[str, tuple[bool, int]] | None = None,
) -> None:
    """The validation pass: read every row, count what would be written, collect errors (in the reader)."""
    if isinstance(reader, RecordsReader):
        for row in reader:
            names.add(row.staff)
            if isinstance(row, OutingRow):
                counts.outings += 1
                links = 0
            else:
                counts.consultations += 1
                links = len(row.agencies)
                counts.agency_links += links
            if row.record_id and record_ids is not None:
                record_ids[row.record_id] = (isinstance(row, OutingRow), links)
    else:
        for _ in reader:
            counts.baseline_rows += 1


def _checked(rows: Iterator[RowT], reader: RecordsReader | BaselineReader, source: SourceFile) -> Iterator[RowT]:
    """The rows of the write pass; raises at the end (inside the transaction) if the file changed since the hash."""
    yield from rows
    if reader.errors or reader.sha256 != source.sha256:
        raise _SourceChanged("the file changed while it was being imported; nothing was written, try again")


def _previous_message(kind: ImportKind, path: Path, previous: PreviousImport) -> str:
    if previous.filename is not None:
        return (
            f"{path.name}: the same rows were already imported ({kind} import #{previous.import_id} at "
            f"{utc_iso(previous.imported_at)}, from {previous.filename}); importing them again would count them "
            "twice, so nothing was written"
        )
    return (
        f"{path.name}: this file was already imported ({kind} import #{previous.import_id} at "
        f"{utc_iso(previous.imported_at)}); importing it again would count its rows twice, so nothing was written"
    )


@dataclass(frozen=True, slots=True)
class ImportJob:
    """One import to run: what, from where, and the dates that bound it (`today`, local) and stamp it (`now`)."""

    kind: ImportKind
    path: Path
    taxonomy: Taxonomy
    today: date
    now: datetime


async def import_file(
    store: Store,
    taxonomy: Taxonomy,
    kind: ImportKind,
    path: Path,
    *,
    dry_run: bool,
    today: date,
    now: datetime,
) -> ImportReport:
    """Import one CSV file all-or-nothing; `today` (local) bounds dates and fiscal years, `now` stamps rows.

    Three streaming passes, none holding the file in memory: (a) sha256 and encoding detection, and a refusal
    when the same kind of import already has this hash; (b) validation, collecting every error, and a refusal
    when the same kind of import already had the same rows (the fingerprint); (c) unless there is an error or
    this is a dry run, the write, in one transaction, skipping rows whose record_id is in the database already.
    The write pass re-reads the file and hashes it again: a file changed in between aborts the transaction.
    (Pass (b) keeps the record_ids of a file that has them, an exported one, to find one that repeats and for a
    dry run's count of the rows the database has already.)
    """
    job = ImportJob(kind, path, taxonomy, today, now)
    report = ImportReport(kind, path, dry_run)
    source = await _inspect(store, job, report)
    if source is None:
        return report
    reader = await _validate_file(job, source, report)
    if reader is None or not await _rows_are_new(store, job, reader, report):
        return report
    if dry_run:
        await _preview(store, reader, report)
    else:
        await _write(store, job, source, report)
    report.record_ids = {}
    return report


async def _inspect(store: Store, job: ImportJob, report: ImportReport) -> SourceFile | None:
    """Pass (a): the file's hash and encoding; None (with the reason in the report) when it cannot go on."""
    try:
        # Hashing and validating are blocking work: off the event loop, so a bot sharing it keeps answering.
        # (The write pass parses between batches on the loop, since it feeds the loop's database connection.)
        source = await asyncio.to_thread(inspect_file, job.path)
    except OSError as exc:
        report.errors.append(f"{job.path}: cannot be read ({exc.strerror or exc})")
        return None
    report.encoding, report.sha256 = source.encoding, source.sha256
    found = await store.imports.already_imported(job.kind, source.sha256)
    if found is not None:
        report.already_imported = PreviousImport(*found)
        report.errors.append(_previous_message(job.kind, job.path, report.already_imported))
        return None
    return source


async def _validate_file(
    job: ImportJob, source: SourceFile, report: ImportReport
) -> RecordsReader | BaselineReader | None:
    """Pass (b): every row checked, every error collected; the reader (with what it learnt) when all is well."""
    errors = ErrorList()
    reader = reader_for(job.kind, source, job.taxonomy, today=job.today, errors=errors)
    report.names, report.record_ids = set(), {}
    try:
        await asyncio.to_thread(_validate, reader, report.counts, report.names, report.record_ids)
    except OSError as exc:
        report.errors.append(f"{job.path}: cannot be read ({exc.strerror or exc})")
        return None
    if not errors and reader.sha256 != source.sha256:
        errors.line(1, "the file changed while it was being read; try again")
    if errors:
        report.errors, report.error_count = errors.messages(), errors.total
        return None
    return reader


async def _rows_are_new(
    store: Store, job: ImportJob, reader: RecordsReader | BaselineReader, report: ImportReport
) -> bool:
    """False (with the reason in the report) when an earlier import of the same kind had the same rows."""
    report.fingerprint = reader.fingerprint
    if report.fingerprint is None:
        return True
    found = await store.imports.same_rows_imported(job.kind, report.fingerprint)
    if found is None:
        return True
    report.already_imported = PreviousImport(found.id, found.imported_at, found.filename)
    report.errors.append(_previous_message(job.kind, job.path, report.already_imported))
    return False


async def _preview(store: Store, reader: RecordsReader | BaselineReader, report: ImportReport) -> None:
    """A dry run: what the write would add besides the rows (new staff names, replaced totals, rows skipped)."""
    if isinstance(reader, RecordsReader):
        missing = await store.imports.missing_staff(report.names)
        report.counts.new_staff, report.counts.new_staff_names = len(missing), missing
        present = await store.imports.present_record_ids(report.record_ids) if report.record_ids else set()
        for record_id in present:
            outing, links = report.record_ids[record_id]
            if outing:
                report.counts.outings -= 1
            else:
                report.counts.consultations -= 1
                report.counts.agency_links -= links
        report.counts.already_present = len(present)
    else:
        report.counts.baseline_replaced = await store.imports.baseline_overlap(reader.keys)
    report.ok = True


async def _write(store: Store, job: ImportJob, source: SourceFile, report: ImportReport) -> None:
    """Pass (c): the file read again and written in one transaction; any problem writes nothing."""
    report.counts = ImportCounts()
    try:
        if job.kind == "records":
            await _write_records(store, job, source, report)
        else:
            await _write_baseline(store, job, source, report)
    except DuplicateImport as exc:
        report.already_imported = PreviousImport(exc.import_id, exc.imported_at, exc.filename)
        report.errors.append(_previous_message(job.kind, job.path, report.already_imported))
        return
    except _SourceChanged as exc:
        report.errors.append(f"{job.path.name}: {exc}")
        return
    except OSError as exc:
        report.errors.append(f"{job.path}: cannot be read ({exc.strerror or exc}); nothing was written")
        return
    report.ok = True


async def _write_records(store: Store, job: ImportJob, source: SourceFile, report: ImportReport) -> None:
    records = RecordsReader(source, job.taxonomy, today=job.today)
    records.fingerprinting = False  # the validation pass's; the sha256 shows the file is the same
    rows = _checked(iter(records), records, source)
    written = await store.imports.write_records(
        rows, filename=job.path.name, sha256=source.sha256, now=job.now, fingerprint=report.fingerprint
    )
    report.import_id, report.counts.already_present = written.import_id, written.already_present
    report.counts.outings, report.counts.consultations = written.outings, written.consultations
    report.counts.agency_links = written.agency_links
    report.counts.new_staff, report.counts.new_staff_names = written.new_staff, written.new_staff_names


async def _write_baseline(store: Store, job: ImportJob, source: SourceFile, report: ImportReport) -> None:
    baseline = BaselineReader(source, job.taxonomy, today=job.today)
    baseline.fingerprinting = False
    rows = _checked(iter(baseline), baseline, source)
    done = await store.imports.write_baseline(
        rows, filename=job.path.name, sha256=source.sha256, now=job.now, fingerprint=report.fingerprint
    )
    report.import_id = done.import_id
    report.counts.baseline_rows, report.counts.baseline_replaced = done.rows, done.replaced


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def format_report(report: ImportReport) -> str:
    """The terminal text of an import: what was (or would be) imported, or every error, in English."""
    name = report.path.name
    if not report.ok:
        if report.already_imported is not None and len(report.errors) == 1:
            return f"import {report.kind}: {report.errors[0]}"
        count = max(report.error_count, len(report.errors))
        header = (
            f"import {report.kind}: {name}: {_plural(count, 'error')}, nothing was imported"
            + (" (dry run)" if report.dry_run else "")
            + "; fix the file and run the import again:"
        )
        return "\n".join([header, *report.errors])

    counts = report.counts
    if report.kind == "records":
        what = (
            f"{_plural(counts.outings, 'outing')} and {_plural(counts.consultations, 'consultation')} "
            f"({_plural(counts.agency_links, 'agency link')})"
        )
    else:
        what = _plural(counts.baseline_rows, "baseline count")
        if counts.baseline_replaced:
            replaces = "would replace" if report.dry_run else "replaced"
            what += f" ({counts.baseline_replaced:,} {replaces} a count of an earlier baseline import)"
    source = f"from {name} ({report.encoding})"
    if report.dry_run:
        lines = [f"dry run: would import {what} {source}; nothing was written"]
    else:
        lines = [f"imported {what} {source} as import #{report.import_id}"]
    if counts.new_staff:
        verb = "would be added" if report.dry_run else "added"
        shown = counts.new_staff_names[:NAMES_SHOWN]
        more = counts.new_staff - len(shown)
        listed = ", ".join(shown) + (f" and {more:,} more" if more else "")
        lines.append(
            f"{_plural(counts.new_staff, 'staff name')} not known before {verb} as imported staff "
            f"with no access: {listed}"
        )
    if counts.already_present:
        lines.append(_present_line(counts.already_present, dry_run=report.dry_run))
    return "\n".join(lines)


def _present_line(count: int, *, dry_run: bool) -> str:
    verb = "would be" if dry_run else ("was" if count == 1 else "were")
    them = "it" if count == 1 else "them"
    return (
        f"{_plural(count, 'record')} already in the database {verb} skipped (the same record_id): "
        f"an import never changes {them}"
    )
