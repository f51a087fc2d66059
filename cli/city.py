"""`fieldbot report --council CODE|all`: one council's report, or its children side by side and summed."""

from __future__ import annotations

import argparse
import csv
import io
import json
from contextlib import AsyncExitStack

from xlsxwriter import Workbook  # type: ignore[import-untyped]

from bot.councils import NoDeployment, council_settings, open_council_store, registry
from bot.settings import Settings
from cli.common import CommandError
from core.councils import ALL, Council, children_of, tops
from core.i18n import t
from core.periods import Period
from core.taxonomy import load_taxonomy
from reports.cells import safe_cell, safe_text
from reports.city import CityTable, city_rows
from services.city import city_texts, city_title, city_totals
from services.deps import Child

BOM = "\ufeff"


class CityUsageError(CommandError):
    """--council with something it cannot do: printed as one line."""


def resolve(args: argparse.Namespace, settings: Settings) -> tuple[Council | None, list[Council]]:
    """(the parent, its children) for a city table; (the council, []) for a council without children, whose
    report is its own (tables, charts and zones included). A city table is one table: none of those with it."""
    try:
        councils = registry(settings).all()
    except NoDeployment:
        raise CityUsageError(t("cli.council.no_deployment")) from None
    if args.council == ALL:
        top = tops(councils)
        if len(top) == 1 and children_of(councils, top[0].code):
            parent, children = top[0], children_of(councils, top[0].code)
        else:
            parent, children = None, top
    else:
        parent = next((c for c in councils if c.code == args.council), None)
        if parent is None:
            raise CityUsageError(t("cli.council.unknown", code=args.council))
        children = children_of(councils, parent.code)
    city = parent is None or bool(children)
    if city and (args.table is not None or args.chart is not None or args.zone is not None or args.format == "png"):
        raise CityUsageError(t("report.city.cli.alone"))
    return parent, children


async def city_table_of(settings: Settings, parent: Council | None, children: list[Council], span: Period) -> CityTable:
    if not children:
        raise CityUsageError(t("report.city.cli.no_children"))
    labels = council_settings(settings, (parent or children[0]).code)
    async with AsyncExitStack() as stack:
        found = []
        for child in children:
            own = council_settings(settings, child.code)
            if own.database_url is None and not own.database_path.is_file():
                raise CityUsageError(t("cli.no_database", path=own.database_path))
            store = await open_council_store(own)  # counts only: no key, no personal text
            stack.push_async_callback(store.close)
            found.append(Child(child, store, load_taxonomy(own.taxonomy_file)))
        return await city_totals(load_taxonomy(labels.taxonomy_file), found, span)


def render(fmt: str, parent: Council | None, table: CityTable, span: Period) -> bytes:
    title = city_title(parent.name if parent is not None else "", table)
    if fmt == "text":
        return ("\n\n".join(city_texts(title, table, span, limit=10**9)) + "\n").encode("utf-8")
    head = t("report.table.heading", title=title, period=span.label)
    if fmt == "json":
        shape = {"title": head, **table.model_dump(mode="json")}
        return (json.dumps(shape, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    rows = city_rows(table)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([safe_cell(head)])
        writer.writerow([])
        writer.writerows([[safe_cell(cell) for cell in row] for row in rows])
        writer.writerows([[safe_cell(note)] for note in table.notes])
        return (BOM + out.getvalue()).encode("utf-8")
    buffer = io.BytesIO()
    book = Workbook(buffer, {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    sheet = book.add_worksheet(t("report.city.sheet"))
    bold = book.add_format({"bold": True})
    sheet.write_string(0, 0, safe_text(head), book.add_format({"bold": True, "font_size": 14}))
    for r, row in enumerate(rows, start=2):
        for c, cell in enumerate(row):
            if isinstance(cell, int):
                sheet.write_number(r, c, cell, bold if c == len(row) - 1 else None)
            else:
                sheet.write_string(r, c, safe_text(cell), bold if r == 2 else None)
    for i, note in enumerate(table.notes):
        sheet.write_string(len(rows) + 3 + i, 0, safe_text(note))
    book.close()
    return buffer.getvalue()


async def produce_city(
    settings: Settings, fmt: str, span: Period, parent: Council | None, children: list[Council]
) -> bytes:
    table = await city_table_of(settings, parent, children, span)
    return render(fmt, parent, table, span)
