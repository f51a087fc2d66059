"""`fieldbot tallies rebuild [--check]`: the counts reports read (kept with every save, undo and import), recomputed
from the records, or only compared with them."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.settings import Settings
from cli.common import existing_database, open_database, settings_for
from core.i18n import t
from storage.sqlite.lock import WriterLock


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    tallies = commands.add_parser(
        "tallies", help="the daily and monthly counts reports read, kept with every save, undo and import"
    )
    action = tallies.add_subparsers(dest="action", required=True)
    rebuild = action.add_parser(
        "rebuild",
        help="recompute every count from the records in one transaction and print how many rows changed "
        "(0: they were right; stop the bot first)",
    )
    rebuild.add_argument(
        "--check", action="store_true", help="only compare with the records, change nothing; exit 1 if any differ"
    )
    tallies.set_defaults(func=cmd_tallies)


def cmd_tallies(args: argparse.Namespace) -> None:
    settings = settings_for(args)
    database = existing_database(args, settings)
    if args.check:
        daily, monthly = asyncio.run(_compared(settings, database, rebuild=False))
        if daily or monthly:
            print(t("cli.tallies.differ", count=daily + monthly, daily=daily, monthly=monthly))
            raise SystemExit(1)
        print(t("cli.tallies.agree"))
        return
    # One transaction that holds the write lock while it reads every record: not while the bot writes.
    with WriterLock.acquire(database, "fieldbot tallies rebuild"):
        daily, monthly = asyncio.run(_compared(settings, database, rebuild=True))
    print(t("cli.tallies.rebuilt", count=daily + monthly, daily=daily, monthly=monthly))


async def _compared(settings: Settings, database: Path, *, rebuild: bool) -> tuple[int, int]:
    """The rows of (daily, monthly) tallies that differ from the records', made right when `rebuild`: on the
    engine and in the schema the settings name (counts only: no key needed)."""
    store = await open_database(settings, database)
    try:
        return await (store.tallies.rebuild() if rebuild else store.tallies.differences())
    finally:
        await store.close()
