"""`fieldbot places import|export FILE.csv`: the register of places (活動先) from and to a council's spreadsheet."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.settings import Settings
from cli.common import CommandError, clock_of, existing_database, open_database, settings_for
from core.i18n import t
from core.places import PlacesReader, places_csv
from core.taxonomy import Taxonomy, load_taxonomy
from storage.sqlite.lock import WriterLock


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    places = commands.add_parser(
        "places",
        help="import or export the register of places as CSV: name,kind,area,organiser,status,"
        "started_on,ended_on (codes or labels; all or nothing)",
    )
    action = places.add_subparsers(dest="action", required=True)
    importer = action.add_parser("import", help="add or update places from a CSV file (stop the bot first)")
    importer.add_argument("file", type=Path)
    exporter = action.add_parser("export", help="write every place to a CSV file that imports again")
    exporter.add_argument("file", type=Path)
    places.set_defaults(func=cmd_places)


def cmd_places(args: argparse.Namespace) -> None:
    settings = settings_for(args)
    taxonomy = load_taxonomy(settings.taxonomy_file)
    database = existing_database(args, settings)
    if args.action == "export":
        data = asyncio.run(_export(settings, database, taxonomy))
        args.file.write_bytes(data)
        print(t("place.cli.exported", path=args.file))
        return
    if not args.file.is_file():
        raise CommandError(t("cli.import.not_a_file", path=args.file))
    reader = PlacesReader(taxonomy)
    places = reader.read(args.file)
    if reader.errors:
        print(t("place.cli.refused", path=args.file, count=len(reader.errors)))
        print("\n".join(reader.errors.messages()))
        raise SystemExit(1)

    async def write() -> tuple[int, int]:
        store = await open_database(settings, database)
        try:
            return await store.places.import_all(places, clock_of(args).now())
        finally:
            await store.close()

    with WriterLock.acquire(database, "fieldbot places import"):
        added, updated = asyncio.run(write())
    print(t("place.cli.imported", path=args.file, added=added, updated=updated))


async def _export(settings: Settings, database: Path, taxonomy: Taxonomy) -> bytes:
    store = await open_database(settings, database)
    try:
        return places_csv(await store.places.all(), taxonomy)
    finally:
        await store.close()
