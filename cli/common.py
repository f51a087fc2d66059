"""What every `fieldbot` command shares: its settings (the council's, or the demo's with --demo), the clock, and
the rule that a command which only reads never creates a database."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.councils import NoDeployment, council_settings
from bot.settings import Settings, load_settings
from core.clock import Clock, SystemClock
from core.councils import UnknownCouncil
from core.crypto import Sealer
from core.i18n import t
from demo import DATABASE, DEFAULT_DATA, KEY_FILE
from storage.engines import open_store
from storage.sqlite.store import SqlStore


class CommandError(ValueError):
    """A wrong input for a command, or a state it cannot work in: printed as one line."""


def clock_of(args: argparse.Namespace) -> Clock:
    """The clock `main` put on the arguments (tests inject theirs), else the system's."""
    clock: Clock = getattr(args, "clock", None) or SystemClock()
    return clock


def settings_for(args: argparse.Namespace) -> Settings:
    """The settings from the environment and .env; with --demo, those of the demo (`make run` without a token):
    its database and key under ./data/demo/, the built-in taxonomy, and no .env (as the demo itself)."""
    if not getattr(args, "demo", False):
        return of_council(args, load_settings())
    key_file = DEFAULT_DATA / KEY_FILE
    key = key_file.read_text(encoding="ascii").strip() if key_file.is_file() else None
    return load_settings(
        database_path=DEFAULT_DATA / DATABASE,
        field_encryption_key=key,
        taxonomy_file=None,
        _env_file=None,
    )


def existing_database(args: argparse.Namespace, settings: Settings) -> Path:
    """The database path, which must exist: a command that only reads (report, export, audit, check, purge...)
    would otherwise create an empty one and answer from it, as if the council had no records. With DATABASE_URL
    the data is on a PostgreSQL server, not in this file (`open_database` connects there)."""
    path = settings.database_path
    if path.is_file() or settings.postgres_url() is not None:
        return path
    if getattr(args, "demo", False):
        raise CommandError(t("cli.no_demo_database", path=path))
    if (DEFAULT_DATA / DATABASE).is_file():  # after `make run`: the data the admin has seen is the demo's
        raise CommandError(t("cli.no_database_demo", path=path, command=args.command))
    raise CommandError(t("cli.no_database", path=path))


async def open_database(settings: Settings, database: Path, sealer: Sealer | None = None) -> SqlStore:
    """The store a command works on: the PostgreSQL database of DATABASE_URL when set, else the SQLite file."""
    return await open_store(database, settings.postgres_url(), sealer, schema=settings.database_schema)


def sqlite_only(settings: Settings, command: str) -> None:
    """Refuse a command that works on the SQLite file itself (backup, restore) when the data is on PostgreSQL."""
    if settings.postgres_url() is not None:
        raise CommandError(t("cli.postgres_file_command", command=command))


# The commands that act on one council's data: with COUNCILS_DIR, `--council CODE` says whose.
PER_COUNCIL = (
    "run",
    "check",
    "rotate-key",
    "audit",
    "purge",
    "import",
    "export",
    "backup",
    "restore",
    "places",
    "tallies",
)


def add_council_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--council", dest="council_code", metavar="CODE", help="with COUNCILS_DIR: the council whose data this is"
    )


def of_council(args: argparse.Namespace, settings: Settings) -> Settings:
    """The settings of the council `--council CODE` names (its database, key, taxonomy and token), else as given.

    With COUNCILS_DIR set, a command that acts on one council's data needs `--council`: none would silently
    act on DATABASE_PATH, which is no council of the deployment."""
    code = getattr(args, "council_code", None)
    if code is None:
        if settings.councils_dir is not None and args.command in PER_COUNCIL:
            raise CommandError(t("cli.council.which", command=args.command))
        return settings
    try:
        return council_settings(settings, code)
    except NoDeployment:
        raise CommandError(t("cli.council.no_deployment")) from None
    except UnknownCouncil:
        raise CommandError(t("cli.council.unknown", code=code)) from None
