"""Admin commands around the data: keygen, rotate-key, audit and purge (all without Telegram)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from cli.common import CommandError, clock_of, existing_database, open_database, settings_for, sqlite_only
from core.clock import parse_utc
from core.crypto import Sealer, SealError, generate_key
from core.i18n import catalogue, t
from core.models import Role
from core.periods import fiscal_year
from core.taxonomy import Taxonomy, load_taxonomy
from core.text import clean_name
from services.exports import write_csv, write_xlsx
from services.imports import NAMES_SHOWN, ImportReport, import_file
from services.reminders import ClockBehind, Erasable, RetentionService
from storage.sqlite.backup import backup, restore
from storage.sqlite.lock import WriterLock
from storage.sqlite.records import export_rows
from storage.sqlite.seal import key_opens, rotate_key
from storage.types import AuditEntry

__all__ = ["CommandError", "add_parsers"]


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
    purge_help = (
        "erase now what is past RETENTION_DAYS: the reason and notes of follow-ups closed longer ago, and the "
        "memo of outings and consultations saved longer ago (counts stay)"
    )
    purge = commands.add_parser("purge", help=purge_help, description=purge_help)
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
    settings = settings_for(args)
    sqlite_only(settings, "backup")
    info = backup(existing_database(args, settings), args.file, force=args.force)
    print(
        f"backed up to {info.path} ({info.bytes:,} bytes, schema {info.schema}, {info.outings:,} outings, "
        f"{info.consultations:,} consultations); integrity check ok"
    )


def cmd_restore(args: argparse.Namespace) -> None:
    settings = settings_for(args)
    sqlite_only(settings, "restore")
    with WriterLock.acquire(settings.database_path, "fieldbot restore"):
        sealer = settings.sealer()
        info, kept = restore(
            args.file,
            settings.database_path,
            clock_of(args).now().astimezone(settings.tz),
            key_matches=lambda path: key_opens(path, sealer),
        )
    print(
        f"restored {info.path} into {settings.database_path} ({info.outings:,} outings, "
        f"{info.consultations:,} consultations); integrity check ok"
    )
    if kept is not None:
        print(f"the database it replaced is kept at {kept}")


def cmd_export(args: argparse.Namespace) -> None:
    settings = settings_for(args)
    taxonomy = load_taxonomy(settings.taxonomy_file)
    period = fiscal_year(args.fy)
    database = existing_database(args, settings)

    async def run() -> int:
        store = await open_database(settings, database)
        try:
            batches = export_rows(store.db, period.start, period.end)
            if args.format == "csv":
                return await write_csv(batches, taxonomy, args.out)
            return await write_xlsx(batches, taxonomy, args.out, period.label)
        finally:
            await store.close()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = asyncio.run(run())
    print(t("cli.exported", period=period.label, count=rows, path=args.out))


def cmd_import(args: argparse.Namespace) -> None:
    """One transaction: a large import holds the write lock for its whole length, so run it with the bot stopped."""
    settings = settings_for(args)
    if not args.file.is_file():
        raise CommandError(t("cli.import.not_a_file", path=args.file))
    taxonomy = load_taxonomy(settings.taxonomy_file)

    async def run() -> ImportReport:
        store = await open_database(settings, settings.database_path)
        try:
            clock = clock_of(args)
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
    print(import_text(report, settings.tz))
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
    settings = settings_for(args)
    old = settings.sealer()
    database = existing_database(args, settings)
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
        store = await open_database(settings, database, old)
        try:
            done = await rotate_key(store.db, old, new)
            await store.audit.record(
                None, None, "key.rotate", "database", f"{sum(done.values())} values", clock_of(args).now()
            )
            return done
        finally:
            await store.close()

    with WriterLock.acquire(settings.database_path, "fieldbot rotate-key"):
        done = asyncio.run(run())
    print(f"re-encrypted {sum(done.values())} values ({', '.join(f'{k}: {v}' for k, v in done.items())}).")
    print("Now set FIELD_ENCRYPTION_KEY to the new key and start the bot; keep a copy of the key somewhere safe.")


def cmd_audit(args: argparse.Namespace) -> None:
    settings = settings_for(args)
    since = None
    if args.since:
        try:
            since = datetime.combine(date.fromisoformat(args.since), time(0), tzinfo=settings.tz).astimezone(UTC)
        except ValueError:
            raise CommandError(t("cli.audit.bad_since", value=args.since)) from None
    database = existing_database(args, settings)
    taxonomy = load_taxonomy(settings.taxonomy_file)

    async def run() -> list[AuditEntry]:
        store = await open_database(settings, database)
        try:
            return await store.audit.since(since)
        finally:
            await store.close()

    entries = asyncio.run(run())
    lines = [audit_line(entry, taxonomy, settings.tz) for entry in entries]
    print("\n".join(lines) if lines else t("cli.audit.none"))


def audit_line(entry: AuditEntry, taxonomy: Taxonomy, tz: ZoneInfo) -> str:
    """One entry as an admin reads it: local time, who (their cleaned name), what, on what, with codes as labels."""
    action_key = "cli.audit.action." + entry.action.replace(".", "_")
    return t(
        "cli.audit.line",
        at=f"{entry.at.astimezone(tz):%Y-%m-%d %H:%M:%S}",
        actor=_actor(entry.actor_id, entry.actor_name),
        action=t(action_key) if action_key in catalogue() else entry.action,
        subject=_subject(entry.subject),
        detail=_detail(entry.action, entry.detail, taxonomy, tz),
    ).rstrip()


def _actor(actor_id: int | None, name: str | None) -> str:
    if actor_id is None:
        return t("cli.audit.system")
    # A messenger name is whatever its owner typed: cleaned as everywhere names are shown.
    shown = clean_name(name or "") or t("cli.audit.unnamed")
    return t("cli.audit.actor", name=shown, id=actor_id)


def _subject(subject: str) -> str:
    kind, _, ident = subject.partition(":")
    key = f"cli.audit.subject.{kind}"
    if key not in catalogue():
        return subject
    return t(key, id=ident) if ident else t(key)


def _role_label(role: str) -> str:
    return t(f"role.{role}") if role in {r.value for r in Role} else role


def _zone_label(zone: str, taxonomy: Taxonomy) -> str:
    return t("cli.audit.detail.no_zone") if zone == "-" else taxonomy.zone_label(zone)


def _count(key: str, name: str, position: int) -> Callable[[list[str], Taxonomy, ZoneInfo], str | None]:
    """A detail whose word at `position` is a number (`3 notes`, `untouched 30 days`)."""

    def show(words: list[str], taxonomy: Taxonomy, tz: ZoneInfo) -> str | None:
        if len(words) > position and words[position].isdigit():
            return t(key, **{name: int(words[position])})
        return None

    return show


def _owner(words: list[str], taxonomy: Taxonomy, tz: ZoneInfo) -> str | None:
    return t("cli.audit.detail.owner", id=words[1]) if len(words) == 2 and words[0] == "owner" else None


def _role_zone(words: list[str], taxonomy: Taxonomy, tz: ZoneInfo) -> str | None:
    if len(words) != 2:
        return None
    return t("cli.audit.detail.role", role=_role_label(words[0]), zone=_zone_label(words[1], taxonomy))


def _invite(words: list[str], taxonomy: Taxonomy, tz: ZoneInfo) -> str | None:
    if len(words) != 4 or words[2] != "until":
        return None
    try:
        until = f"{parse_utc(words[3]).astimezone(tz):%Y-%m-%d %H:%M}"
    except ValueError:
        return None
    role, zone = _role_label(words[0]), _zone_label(words[1], taxonomy)
    return t("cli.audit.detail.until", role=role, zone=zone, until=until)


def _register(words: list[str], taxonomy: Taxonomy, tz: ZoneInfo) -> str | None:
    if len(words) != 4 or words[0] != "invite":
        return None
    role, zone = _role_label(words[2]), _zone_label(words[3], taxonomy)
    return t("cli.audit.detail.register", id=words[1].rstrip(":"), role=role, zone=zone)


def _outcome(words: list[str], taxonomy: Taxonomy, tz: ZoneInfo) -> str | None:
    code = " ".join(words)
    return taxonomy.outcome.label(code) if taxonomy.outcome.get(code) is not None else None


# How the detail of each action (as storage/ writes it) is shown; codes become labels.
DETAILS: dict[str, Callable[[list[str], Taxonomy, ZoneInfo], str | None]] = {
    "followup.close": _outcome,
    "followup.view": _count("cli.audit.detail.notes", "count", 0),
    "followup.reassign": _owner,
    "draft.expire": _count("cli.audit.detail.untouched", "days", 1),
    "submission.undo": _count("cli.audit.detail.consultations", "count", 0),
    "key.rotate": _count("cli.audit.detail.values", "count", 0),
    "staff.role": _role_zone,
    "invite.revoke": _role_zone,
    "invite.create": _invite,
    "staff.register": _register,
}


def _detail(action: str, detail: str, taxonomy: Taxonomy, tz: ZoneInfo) -> str:
    """The detail written with the entry, codes shown as labels; as it is when not recognised."""
    if detail == "retention":
        return t("cli.audit.detail.retention")
    show = DETAILS.get(action)
    shown = show(detail.split(), taxonomy, tz) if show is not None else None
    return detail if shown is None else shown


def cmd_purge(args: argparse.Namespace) -> None:
    """Erase now what is past RETENTION_DAYS by this machine's clock (the nightly job waits for a second night
    to see it due): the clock's time is printed first, with the last nightly run, so that an admin sees a
    wrong clock; a clock behind the last nightly run (it went backwards) erases nothing."""
    settings = settings_for(args)
    tz = settings.tz
    database = existing_database(args, settings)
    taxonomy = load_taxonomy(settings.taxonomy_file)

    async def run() -> tuple[datetime, datetime | None, Erasable]:
        store = await open_database(settings, database, settings.sealer())
        try:
            retention = RetentionService(store, clock_of(args), tz, settings.retention_days)
            now, last_run = retention.clock.now(), await retention.watch.last_run()
            try:
                found = await retention.purgeable()
            except ClockBehind as exc:
                raise CommandError(
                    t(
                        "cli.purge.clock_behind",
                        now=f"{now.astimezone(tz):%Y-%m-%d %H:%M}",
                        last=f"{exc.last_run.astimezone(tz):%Y-%m-%d %H:%M}",
                    )
                ) from None
            if not args.dry_run:
                await retention.erase(found)
            return now, last_run, found
        finally:
            await store.close()

    now, last_run, found = asyncio.run(run())
    done = "dry" if args.dry_run else "done"
    days = settings.retention_days
    last = f"{last_run.astimezone(tz):%Y-%m-%d %H:%M}" if last_run is not None else t("cli.purge.never")
    print(t("cli.purge.clock", now=f"{now.astimezone(tz):%Y-%m-%d %H:%M}", tz=tz.key, last=last))
    print(t(f"cli.purge.followups_{done}", days=days, count=len(found.followups)))
    for followup in found.followups:
        closed = (
            f"{followup.closed_at.astimezone(tz):%Y-%m-%d}"
            if followup.closed_at is not None
            else t("cli.purge.unknown")
        )
        area = taxonomy.area_label(followup.area) if followup.area else t("cli.purge.unknown")
        print(t("cli.purge.followup_line", id=followup.id, closed=closed, area=area))
    print(t(f"cli.purge.memos_{done}", days=days, count=len(found.memos)))
    for submission, saved in found.memos:
        print(t("cli.purge.memo_line", id=submission, saved=f"{saved.astimezone(tz):%Y-%m-%d}"))


# ---- the terminal text of an import (services.imports.format_report is its English twin, for logs and tests)


def import_text(report: ImportReport, tz: ZoneInfo) -> str:
    """What was (or would be) imported, or why nothing was: the lines an admin reads, from the catalogue.

    The errors of rows (line, column, problem) come from the file's validation as they are.
    """
    kind = t(f"cli.import.{report.kind}")
    name = report.path.name
    if not report.ok:
        previous = report.already_imported
        if previous is not None and len(report.errors) == 1:
            at = f"{previous.imported_at.astimezone(tz):%Y-%m-%d %H:%M}"
            if previous.filename is not None:
                return t(
                    "cli.import.same_rows", kind=kind, file=name, id=previous.import_id, at=at, source=previous.filename
                )
            return t("cli.import.same_file", kind=kind, file=name, id=previous.import_id, at=at)
        count = max(report.error_count, len(report.errors))
        dry = t("cli.import.dry_mark") if report.dry_run else ""
        header = t("cli.import.failed", kind=kind, file=name, count=count, dry=dry)
        return "\n".join([header, *report.errors])

    counts = report.counts
    done = "dry" if report.dry_run else "done"
    if report.kind == "records":
        what = t(
            "cli.import.records_what",
            outings=counts.outings,
            consultations=counts.consultations,
            links=counts.agency_links,
        )
    else:
        what = t("cli.import.baseline_what", rows=counts.baseline_rows)
        if counts.baseline_replaced:
            what += t(f"cli.import.replaces_{done}", count=counts.baseline_replaced)
    encoding = report.encoding or ""
    if report.dry_run:
        lines = [t("cli.import.dry", file=name, encoding=encoding, what=what)]
    else:
        lines = [t("cli.import.done", file=name, encoding=encoding, what=what, id=report.import_id)]
    if counts.new_staff:
        shown = [clean_name(n) for n in counts.new_staff_names[:NAMES_SHOWN]]
        more = counts.new_staff - len(shown)
        names = t("cli.separator").join(shown) + (t("cli.import.more_names", count=more) if more else "")
        lines.append(t(f"cli.import.new_staff_{done}", count=counts.new_staff, names=names))
    if counts.already_present:
        lines.append(t(f"cli.import.present_{done}", count=counts.already_present))
    return "\n".join(lines)
