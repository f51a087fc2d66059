"""Admin commands around the data: keygen, rotate-key, audit and purge (all without Telegram)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path

from bot.settings import load_settings
from core.clock import SystemClock
from core.crypto import Sealer, SealError, generate_key
from core.periods import fiscal_year
from core.taxonomy import load_taxonomy
from services.exports import write_csv, write_xlsx
from services.imports import ImportReport, format_report, import_file
from services.reminders import ClockBehind, Erasable, RetentionService
from storage.sqlite.backup import backup, restore
from storage.sqlite.lock import WriterLock
from storage.sqlite.records import export_rows
from storage.sqlite.seal import key_opens, rotate_key
from storage.sqlite.store import Store


class CommandError(ValueError):
    """A wrong input for an admin command: printed as one line."""


def add_parsers(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keygen = commands.add_parser("keygen", help="print a new FIELD_ENCRYPTION_KEY (or write it to a file)")
    keygen.add_argument("--out", type=Path, metavar="FILE", help="write the key to FILE, readable by you only")
    keygen.set_defaults(func=cmd_keygen)
    rotate = commands.add_parser(
        "rotate-key",
        help="re-encrypt all personal data under a new key read from standard input (stop the bot first)",
    )
    rotate.set_defaults(func=cmd_rotate_key)
    audit = commands.add_parser("audit", help="print who read or changed personal data")
    audit.add_argument("--since", metavar="DATE", help="only entries from this day on, e.g. 2026-11-01")
    audit.set_defaults(func=cmd_audit)
    purge = commands.add_parser("purge", help="erase the text of follow-ups closed longer than RETENTION_DAYS ago")
    purge.add_argument("--dry-run", action="store_true", help="only list what would be erased")
    purge.set_defaults(func=cmd_purge)
    importer = commands.add_parser(
        "import", help="import historical records or past years' totals from CSV (all or nothing; stop the bot first)"
    )
    importer.add_argument("kind", choices=("records", "baseline"))
    importer.add_argument("file", type=Path)
    importer.add_argument("--dry-run", action="store_true", help="validate and count, write nothing")
    importer.set_defaults(func=cmd_import)
    export = commands.add_parser("export", help="a fiscal year's records as CSV or XLSX (the columns of import)")
    export.add_argument("--fy", type=int, required=True, metavar="YEAR", help="fiscal year starting 1 April YEAR")
    export.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    export.add_argument("--out", type=Path, required=True)
    export.set_defaults(func=cmd_export)
    back = commands.add_parser("backup", help="copy the database to FILE while the bot runs, then check the copy")
    back.add_argument("file", type=Path)
    back.add_argument("--force", action="store_true", help="replace FILE if it exists")
    back.set_defaults(func=cmd_backup)
    restore = commands.add_parser("restore", help="check FILE, then make it the database (stop the bot first)")
    restore.add_argument("file", type=Path)
    restore.set_defaults(func=cmd_restore)


def cmd_backup(args: argparse.Namespace) -> None:
    settings = load_settings()
    info = backup(settings.database_path, args.file, force=args.force)
    print(
        f"backed up to {info.path} ({info.bytes:,} bytes, schema {info.schema}, {info.outings:,} outings, "
        f"{info.consultations:,} consultations); integrity check ok"
    )


def cmd_restore(args: argparse.Namespace) -> None:
    settings = load_settings()
    with WriterLock.acquire(settings.database_path, "fieldbot restore"):
        sealer = settings.sealer()
        info, kept = restore(
            args.file,
            settings.database_path,
            SystemClock().now().astimezone(settings.tz),
            key_matches=lambda path: key_opens(path, sealer),
        )
    print(
        f"restored {info.path} into {settings.database_path} ({info.outings:,} outings, "
        f"{info.consultations:,} consultations); integrity check ok"
    )
    if kept is not None:
        print(f"the database it replaced is kept at {kept}")


def cmd_export(args: argparse.Namespace) -> None:
    settings = load_settings()
    taxonomy = load_taxonomy(settings.taxonomy_file)
    period = fiscal_year(args.fy)

    async def run() -> int:
        store = await Store.open(settings.database_path)
        try:
            batches = export_rows(store.db, period.start, period.end)
            if args.format == "csv":
                return await write_csv(batches, taxonomy, args.out)
            return await write_xlsx(batches, taxonomy, args.out, period.label)
        finally:
            await store.close()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = asyncio.run(run())
    print(f"wrote {rows:,} records of {period.key} to {args.out}")


def cmd_import(args: argparse.Namespace) -> None:
    """One transaction: a large import holds the write lock for its whole length, so run it with the bot stopped."""
    settings = load_settings()
    if not args.file.is_file():
        raise CommandError(f"import: {args.file} is not a file")
    taxonomy = load_taxonomy(settings.taxonomy_file)

    async def run() -> ImportReport:
        store = await Store.open(settings.database_path)
        try:
            clock = SystemClock()
            today = clock.now().astimezone(settings.tz).date()
            return await import_file(
                store, taxonomy, args.kind, args.file, dry_run=args.dry_run, today=today, now=clock.now()
            )
        finally:
            await store.close()

    if args.dry_run:
        report = asyncio.run(run())
    else:
        with WriterLock.acquire(settings.database_path, "fieldbot import"):
            report = asyncio.run(run())
    print(format_report(report))
    if not report.ok:
        raise SystemExit(1)


def cmd_keygen(args: argparse.Namespace) -> None:
    key = generate_key()
    if args.out is None:
        print(key)
        return
    try:
        descriptor = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CommandError(f"keygen: {args.out} already exists; a key is never overwritten") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(key + "\n")
    print(f"wrote a new key to {args.out} (readable by you only)")


def cmd_rotate_key(args: argparse.Namespace) -> None:
    settings = load_settings()
    old = settings.sealer()
    line = sys.stdin.readline().strip()
    if not line:
        raise CommandError(
            "rotate-key: give the new key on standard input, e.g. `fieldbot keygen --out new.key; "
            "fieldbot rotate-key < new.key`"
        )
    try:
        new = Sealer.from_text(line)
    except SealError as exc:
        raise CommandError(f"rotate-key: the new key {exc}") from None

    async def run() -> dict[str, int]:
        store = await Store.open(settings.database_path, old)
        try:
            done = await rotate_key(store.db, old, new)
            await store.audit.record(
                None, None, "key.rotate", "database", f"{sum(done.values())} values", SystemClock().now()
            )
            return done
        finally:
            await store.close()

    with WriterLock.acquire(settings.database_path, "fieldbot rotate-key"):
        done = asyncio.run(run())
    print(f"re-encrypted {sum(done.values())} values ({', '.join(f'{k}: {v}' for k, v in done.items())}).")
    print("Now set FIELD_ENCRYPTION_KEY to the new key and start the bot; keep a copy of the key somewhere safe.")


def cmd_audit(args: argparse.Namespace) -> None:
    settings = load_settings()
    since = None
    if args.since:
        try:
            since = datetime.combine(date.fromisoformat(args.since), time(0), tzinfo=settings.tz).astimezone(UTC)
        except ValueError:
            raise CommandError(f"--since: {args.since!r} is not a date like 2026-11-01") from None

    async def run() -> list[str]:
        store = await Store.open(settings.database_path)
        try:
            entries = await store.audit.since(since)
        finally:
            await store.close()
        return [
            f"{e.at.astimezone(settings.tz):%Y-%m-%d %H:%M:%S}  {_actor(e.actor_id, e.actor_name)}  "
            f"{e.action}  {e.subject}  {e.detail}".rstrip()
            for e in entries
        ]

    lines = asyncio.run(run())
    print("\n".join(lines) if lines else "no audit entries")


def _actor(actor_id: int | None, name: str | None) -> str:
    return "system" if actor_id is None else f"{name or 'staff'} (#{actor_id})"


def cmd_purge(args: argparse.Namespace) -> None:
    """Erase now what is past RETENTION_DAYS by this machine's clock (the nightly job waits for a second night
    to see it due): the clock's time is printed first, with the last nightly run, so that an admin sees a
    wrong clock; a clock behind the last nightly run (it went backwards) erases nothing."""
    settings = load_settings()
    tz = settings.tz

    async def run() -> tuple[datetime, datetime | None, Erasable]:
        store = await Store.open(settings.database_path, settings.sealer())
        try:
            retention = RetentionService(store, SystemClock(), tz, settings.retention_days)
            now, last_run = retention.clock.now(), await retention.watch.last_run()
            try:
                found = await retention.purgeable()
            except ClockBehind as exc:
                raise CommandError(
                    f"purge: the clock ({now.astimezone(tz):%Y-%m-%d %H:%M}) is behind the last nightly run "
                    f"({exc.last_run.astimezone(tz):%Y-%m-%d %H:%M}): nothing erased; check the system clock"
                ) from None
            if not args.dry_run:
                await retention.erase(found)
            return now, last_run, found
        finally:
            await store.close()

    now, last_run, found = asyncio.run(run())
    verb = "would erase" if args.dry_run else "erased"
    days = settings.retention_days
    last = f"{last_run.astimezone(tz):%Y-%m-%d %H:%M}" if last_run is not None else "never"
    print(f"by the clock {now.astimezone(tz):%Y-%m-%d %H:%M} ({tz.key}; the last nightly run: {last})")
    print(f"{verb} the reason and notes of {len(found.followups)} follow-up(s) closed more than {days} days ago")
    for followup in found.followups:
        closed = f"{followup.closed_at.astimezone(tz):%Y-%m-%d}" if followup.closed_at is not None else "?"
        print(f"  follow-up #{followup.id}  closed {closed}  area {followup.area}")
    print(f"{verb} the memo of {len(found.memos)} record(s) saved more than {days} days ago")
    for submission, saved in found.memos:
        print(f"  submission #{submission}  saved {saved.astimezone(tz):%Y-%m-%d}")
