"""`fieldbot export`: a fiscal year's records as CSV or XLSX for the city, streamed row by row.

Every text cell goes through `reports.cells` (text stays text, never a formula; the import reads it back).
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from core.i18n import t
from core.importing import record_header
from core.taxonomy import Taxonomy
from reports.cells import safe_cell, write_cell
from reports.render_xlsx import sheet_name
from storage.types import EXPORT_COLUMNS

Batches = AsyncIterator[list[tuple[Any, ...]]]
DATE = EXPORT_COLUMNS.index("date")


def _labelled(row: tuple[Any, ...], taxonomy: Taxonomy) -> list[Any]:
    """Codes to today's labels (the import reads either), kinds and at_outing in Japanese, the record_id last.

    The date stays a `date` (the CSV writes it as 2025-06-01, the workbook as a date cell). A topic or an agency
    that consulted is written only on a consultation of the group that came from an agency: one kept from before
    that group asked them (a topic asked of every group) is counted nowhere, and the import refuses it elsewhere.
    """
    kind, day, staff, area, activity, destination, headcount, channel, consulter, category, *rest = row
    from_agency, topic, referrals, at, place, rid = rest
    group = taxonomy.categories_of(consulter) if consulter else None
    from_group = consulter is not None and consulter == taxonomy.agency_group
    return [
        t(f"records.value.{kind}"),
        date.fromisoformat(day),
        staff,
        taxonomy.area_label(area),
        taxonomy.activity.label(activity) if activity else "",
        taxonomy.destination.label(destination) if destination else "",
        "" if headcount is None else headcount,
        taxonomy.channel.label(channel) if channel else "",
        taxonomy.consulter.label(consulter) if consulter else "",
        group.label(category) if group is not None and category else "",
        taxonomy.agency.label(from_agency) if from_group and from_agency else "",
        taxonomy.topic.label(topic) if from_group and topic else "",
        "|".join(taxonomy.agency.label(a) for a in referrals.split("|")) if referrals else "",
        "" if at is None else t("records.value.yes" if at else "records.value.no"),
        place or "",
        rid or "",
    ]


def export_header() -> list[str]:
    """The header row of a records export: the Japanese header of each column (the import reads it back)."""
    return [record_header(column) for column in EXPORT_COLUMNS]


async def write_csv(batches: Batches, taxonomy: Taxonomy, path: Path) -> int:
    """UTF-8 with BOM and CRLF, as Excel in Japan opens it; the columns of `fieldbot import records` under their
    Japanese headers, dates as 2025-06-01."""
    rows = 0
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(export_header())
        async for batch in batches:
            for row in batch:
                cells = _labelled(row, taxonomy)
                cells[DATE] = cells[DATE].isoformat()
                writer.writerow([safe_cell(cell) for cell in cells])
            rows += len(batch)
    return rows


async def write_xlsx(batches: Batches, taxonomy: Taxonomy, path: Path, title: str) -> int:
    """One sheet; XlsxWriter's constant-memory mode flushes each row to disk as it is written. Cells one by one
    (text with write_string, headcounts with write_number, dates as date cells), never write_row: it makes "=…"
    a formula."""
    import xlsxwriter  # type: ignore[import-untyped]

    book = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
    )
    sheet = book.add_worksheet(sheet_name(title))
    bold = book.add_format({"bold": True})
    day_format = book.add_format({"num_format": "yyyy/mm/dd"})
    for col, name in enumerate(export_header()):
        write_cell(sheet, 0, col, name, bold)
    sheet.set_column(DATE, DATE, 11)
    sheet.freeze_panes(1, 0)
    rows = 0
    async for batch in batches:
        for row in batch:
            rows += 1
            cells = _labelled(row, taxonomy)
            sheet.write_datetime(rows, DATE, datetime.combine(cells[DATE], time()), day_format)
            for col, cell in enumerate(cells):
                if col != DATE:
                    write_cell(sheet, rows, col, cell)
    book.close()
    return rows
