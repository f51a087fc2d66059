"""`fieldbot export`: a fiscal year's records as CSV or XLSX for the city, streamed row by row.

Every text cell goes through `reports.cells` (text stays text, never a formula; the import reads it back).
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from core.taxonomy import Taxonomy
from reports.cells import safe_cell, write_cell
from storage.types import EXPORT_COLUMNS

Batches = AsyncIterator[list[tuple[Any, ...]]]


def _labelled(row: tuple[Any, ...], taxonomy: Taxonomy) -> list[Any]:
    """Codes to today's labels (the import reads either), at_outing as yes/no, the record_id last."""
    kind, day, staff, area, activity, destination, headcount, channel, consulter, category, topic, agencies, at, rid = (
        row
    )
    group = taxonomy.categories_of(consulter) if consulter else None
    return [
        kind,
        day,
        staff,
        taxonomy.area_label(area),
        taxonomy.activity.label(activity) if activity else "",
        taxonomy.destination.label(destination) if destination else "",
        "" if headcount is None else headcount,
        taxonomy.channel.label(channel) if channel else "",
        taxonomy.consulter.label(consulter) if consulter else "",
        group.label(category) if group is not None and category else "",
        taxonomy.topic.label(topic) if topic else "",
        "|".join(taxonomy.agency.label(a) for a in agencies.split("|")) if agencies else "",
        "" if at is None else ("yes" if at else "no"),
        rid or "",
    ]


async def write_csv(batches: Batches, taxonomy: Taxonomy, path: Path) -> int:
    """UTF-8 with BOM and CRLF, as Excel in Japan opens it; the columns of `fieldbot import records`."""
    rows = 0
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        async for batch in batches:
            writer.writerows([safe_cell(cell) for cell in _labelled(row, taxonomy)] for row in batch)
            rows += len(batch)
    return rows


async def write_xlsx(batches: Batches, taxonomy: Taxonomy, path: Path, title: str) -> int:
    """One sheet; XlsxWriter's constant-memory mode flushes each row to disk as it is written. Cells one by one
    (text with write_string, headcounts with write_number), never write_row: it makes "=…" a formula."""
    import xlsxwriter  # type: ignore[import-untyped]

    book = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
    )
    sheet = book.add_worksheet(title[:31])
    bold = book.add_format({"bold": True})
    for col, name in enumerate(EXPORT_COLUMNS):
        write_cell(sheet, 0, col, name, bold)
    sheet.freeze_panes(1, 0)
    rows = 0
    async for batch in batches:
        for row in batch:
            rows += 1
            for col, cell in enumerate(_labelled(row, taxonomy)):
                write_cell(sheet, rows, col, cell)
    book.close()
    return rows
