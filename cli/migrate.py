"""`fieldbot migrate --to postgresql://…`: a council's SQLite database copied into PostgreSQL, verified, resumable.

One council: DATABASE_PATH into the database of the URL. With COUNCILS_DIR: `--council CODE` copies that council's
file into its own schema `council_<code>` of the deployment's database. The bot must be stopped (the writer lock
is taken, as an import takes it). The URL may hold a password: `--to-env NAME` reads it from the environment, and
nothing printed ever shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re

from bot.councils import schema_of
from bot.settings import Settings
from cli.common import CommandError, add_council_option, settings_for
from core.i18n import t
from storage.postgres.copy import (
    CopyReport,
    ForeignRows,
    Progress,
    SchemaDiffers,
    VerifyFailed,
    copy_to_postgres,
    password_of,
    redact,
)
from storage.sqlite.lock import WriterLock
from storage.types import StorageError

_POSTGRES_URL = re.compile(r"^postgres(ql)?://")


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    migrate = commands.add_parser(
        "migrate",
        help="copy this council's SQLite database into PostgreSQL, every table, and verify it (stop the bot first; "
        "run again to resume or to check)",
    )
    target = migrate.add_mutually_exclusive_group()
    target.add_argument(
        "--to", metavar="URL", help="the PostgreSQL database, postgresql://user:password@host:5432/database"
    )
    target.add_argument(
        "--to-env",
        metavar="NAME",
        help="the environment variable holding that URL (keeps a password off the command line); "
        "without --to or --to-env: DATABASE_URL",
    )
    add_council_option(migrate)
    migrate.set_defaults(func=cmd_migrate)


def _target(args: argparse.Namespace, settings: Settings) -> str:
    if args.to is not None:
        url: str | None = args.to.strip()
    elif args.to_env is not None:
        url = os.environ.get(args.to_env, "").strip() or None
        if url is None:
            raise CommandError(t("cli.migrate.no_env", name=args.to_env))
    else:
        url = settings.postgres_url()
    if not url:
        raise CommandError(t("cli.migrate.no_target"))
    if not _POSTGRES_URL.match(url):
        raise CommandError(t("cli.migrate.bad_target"))  # never echoed: it may hold a password
    return url


def _scrub(text: str, url: str) -> str:
    """A message from the driver or the server, with neither the URL nor its password in it."""
    text = text.replace(url, redact(url))
    secret = password_of(url)
    return text.replace(secret, "***") if secret else text


def _progress(step: Progress) -> None:
    if not step.done:
        return
    if step.copied:
        print(t("cli.migrate.copied", table=step.table, copied=step.copied, rows=step.rows), flush=True)
    else:
        print(t("cli.migrate.present", table=step.table, rows=step.rows), flush=True)


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = settings_for(args)
    code = settings.council_code
    if settings.councils_dir is not None and code is None and not args.demo:
        raise CommandError(t("cli.council.which", command=args.command))
    url = _target(args, settings)
    source = settings.database_path
    if not source.is_file():
        raise CommandError(t("cli.no_database", path=source))
    schema = schema_of(code) if code is not None else None
    sealer = settings.sealer() if settings.field_encryption_key is not None else None
    shown = redact(url)
    with WriterLock.acquire(source, "fieldbot migrate"):
        if schema is None:
            print(t("cli.migrate.start", source=source, target=shown), flush=True)
        else:
            print(t("cli.migrate.start_council", code=code, source=source, target=shown, schema=schema), flush=True)
        try:
            report = asyncio.run(copy_to_postgres(source, url, schema=schema, sealer=sealer, progress=_progress))
        except ForeignRows as exc:
            tables = t("cli.separator").join(
                t("cli.migrate.foreign_table", table=f.table, rows=f.rows) for f in exc.tables
            )
            raise CommandError(t("cli.migrate.foreign", tables=tables)) from None
        except SchemaDiffers as exc:
            raise CommandError(t("cli.migrate.schema", what=exc.what)) from None
        except VerifyFailed as exc:
            raise CommandError(
                t("cli.migrate.mismatch", table=exc.table, source=exc.source_rows, target=exc.target_rows)
            ) from None
        except StorageError as exc:
            raise CommandError(t("cli.migrate.stopped", error=_scrub(str(exc), url))) from None
    _print_report(report, settings, schema)


def _print_report(report: CopyReport, settings: Settings, schema: str | None) -> None:
    print(t("cli.migrate.verified_title"))
    for table in report.tables:
        print(t("cli.migrate.verified", table=table.table, rows=table.rows))
    if report.copied:
        print(t("cli.migrate.done", tables=len(report.tables), rows=report.rows, copied=report.copied))
    else:
        print(t("cli.migrate.nothing", tables=len(report.tables), rows=report.rows))
    if schema is None:
        print(t("cli.migrate.next", path=settings.database_path))
    else:
        print(t("cli.migrate.next_council", code=settings.council_code, schema=schema, path=settings.database_path))
