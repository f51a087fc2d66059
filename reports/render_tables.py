"""The supervisors' tables (reports/tables.py) as Telegram text, as CSV and as XLSX sheets.

Text cells of CSV and XLSX go through reports/cells.py (never a formula); a count that does not exist (a year
before a category was counted, the closing of a follow-up still open) is written －, never 0.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any, BinaryIO

# XlsxWriter ships no type information (no py.typed): its classes are Any to mypy.
from xlsxwriter import Workbook  # type: ignore[import-untyped]

from core.era import fiscal_year_label
from core.i18n import t
from reports.cells import safe_cell, safe_text
from reports.render_text import TELEGRAM_LIMIT, pack_sections
from reports.tables import GridRow, GridTable, MonthTable, NamedTable, TableName, Value, YearsTable

BOM = "\ufeff"
SHEET_NAME_MAX = 31

# How the values of each column read in text: a count (件), a number of people (人), an average, a date.
_KINDS: dict[TableName, tuple[str, ...]] = {
    "staff": ("count", "count", "count"),
    "area": ("count", "count", "date"),
    "headcount": ("count", "count", "people", "average"),
    "outcomes": ("count", "count"),
    "places": ("text", "text", "text", "count", "count", "count", "date"),
}


def table_title(name: TableName) -> str:
    """担当者別件数, 月別件数 …: the title of a table."""
    return t(f"report.table.title.{name}")


def _heading(title: str) -> str:
    return t("report.heading", title=title)


def _day(value: date) -> str:
    return t("report.period.day", year=value.year, month=value.month, day=value.day)


def format_value(kind: str, value: Value) -> str:
    """A cell as text: 12件, 30人, 7.5人, 2026/11/20, or － for none."""
    if value is None:
        return t("report.table.none")
    if isinstance(value, date):
        return _day(value)
    if isinstance(value, str):
        return value
    if kind == "average":
        return t("report.table.average", value=value)
    return t(f"report.table.{kind}", value=value)


# ---- text ---------------------------------------------------------------------------------------------------


def _years_sections(table: YearsTable) -> list[list[str]]:
    years = [fiscal_year_label(fy) for fy in table.fiscal_years]
    sections = []
    for name, rows in (("activity", table.activity), ("destination", table.destination)):
        lines = [_heading(t(f"report.section.{name}"))]
        for row in rows:
            cells = [
                t("report.table.cell", column=y, value=format_value("count", n))
                for y, n in zip(years, row.counts, strict=True)
            ]
            lines.append(t("report.table.years_line", label=row.label, cells=t("report.table.separator").join(cells)))
        sections.append(lines)
    if table.notes:
        sections[-1] += table.notes
    return sections


def _month_sections(table: MonthTable) -> list[list[str]]:
    sections: list[list[str]] = []
    current = ""
    for row in table.rows:
        if row.dimension != current:
            current = row.dimension
            sections.append([_heading(t(f"report.section.{current}"))])
        cells = [t("report.table.month_cell", month=m, value=n) for m, n in zip(table.months, row.counts, strict=True)]
        separator = t("report.table.separator")
        head = t("report.table.month_line", label=row.label, count=sum(row.counts))
        sections[-1].append("\n".join([head, separator.join(cells[:6]), separator.join(cells[6:])]))
    if table.notes:
        sections[-1] += table.notes
    return sections


def _grid_line(name: TableName, table: GridTable, row: GridRow) -> str:
    if name == "cross":  # many columns: only those with a count, the row's total first
        pairs = [(table.columns[-1], row.values[-1])]
        pairs += [(c, v) for c, v in zip(table.columns[:-1], row.values[:-1], strict=True) if v]
        kinds = ["count"] * len(pairs)
    else:
        pairs = list(zip(table.columns, row.values, strict=True))
        kinds = list(_KINDS[name])
    cells = [t("report.table.cell", column=c, value=format_value(k, v)) for (c, v), k in zip(pairs, kinds, strict=True)]
    return t("report.table.line", label=row.label, cells=t("report.table.separator").join(cells))


def _grid_sections(name: TableName, table: GridTable) -> list[list[str]]:
    lines = [_heading(t(f"report.table.sheet.{name}"))]
    lines += [_grid_line(name, table, row) for row in table.rows]
    if table.total is not None:
        lines.append(_grid_line(name, table, table.total))
    return [lines + table.notes]


def table_sections(named: NamedTable) -> list[list[str]]:
    """The table as sections of text lines (each a heading and its lines)."""
    table = named.table
    if isinstance(table, YearsTable):
        return _years_sections(table)
    if isinstance(table, MonthTable):
        return _month_sections(table)
    return _grid_sections(named.name, table)


def render_table_text(named: NamedTable, *, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """The table as one or more plain-text messages of at most `limit` characters, each with its title."""
    title = table_title(named.name)
    head = t("report.table.heading", title=title, period=named.period)
    continued = t("report.table.continued", title=title, period=named.period)
    return pack_sections(head, continued, table_sections(named), "", limit=limit)


# ---- CSV ----------------------------------------------------------------------------------------------------

Cell = str | int | float


def _cell(value: Value) -> Cell:
    if value is None:
        return t("report.table.none")
    if isinstance(value, date):
        return value.isoformat()
    return value


def table_rows(named: NamedTable) -> Iterator[list[Cell]]:
    """The table as rows of cells: its title and period, a blank row, the header, the rows (and 合計), the notes."""
    yield [table_title(named.name), named.period]
    yield []
    table = named.table
    section, label = t("report.table.column.section"), t("report.table.column.label")
    if isinstance(table, YearsTable):
        yield [section, label, *(fiscal_year_label(fy) for fy in table.fiscal_years)]
        for name, rows in (("activity", table.activity), ("destination", table.destination)):
            for row in rows:
                yield [t(f"report.section.{name}"), row.label, *(_cell(n) for n in row.counts)]
    elif isinstance(table, MonthTable):
        yield [section, label, *table.months, t("report.table.total")]
        for month_row in table.rows:
            yield [
                t(f"report.section.{month_row.dimension}"),
                month_row.label,
                *month_row.counts,
                sum(month_row.counts),
            ]
    else:
        yield [label, *table.columns]
        for grid_row in [*table.rows, *([table.total] if table.total is not None else [])]:
            yield [grid_row.label, *(_cell(v) for v in grid_row.values)]
    for note in table.notes:
        yield [note]


def render_table_csv(named: NamedTable, out: BinaryIO) -> None:
    """Write the table as CSV (UTF-8 with BOM, CRLF, as the report's CSV) to a binary stream left open."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        text.write(BOM)
        writer = csv.writer(text, lineterminator="\r\n")
        for row in table_rows(named):
            writer.writerow([safe_cell(cell) for cell in row])
        text.flush()
    finally:
        text.detach()


# ---- XLSX ---------------------------------------------------------------------------------------------------


class _Formats:
    def __init__(self, book: Workbook) -> None:
        def add(**props: Any) -> Any:
            return book.add_format(props)

        self.title = add(bold=True, font_size=14)
        self.header = add(bold=True, bg_color="#DDEBF7", border=1, align="center")
        self.count = add(num_format="#,##0")
        self.average = add(num_format="#,##0.0")
        self.date = add(num_format="yyyy/mm/dd")
        self.none = add(align="right")
        self.total_label = add(bold=True, bg_color="#F2F2F2")
        self.total = add(bold=True, bg_color="#F2F2F2", num_format="#,##0")
        self.note = add(italic=True, font_color="#555555")


def _write_value(sheet: Any, row: int, col: int, value: Value | str, formats: _Formats, *, total: bool) -> None:
    if value is None:
        sheet.write_string(row, col, t("report.table.none"), formats.none)
    elif isinstance(value, date):
        sheet.write_datetime(row, col, value, formats.date)
    elif isinstance(value, str):
        sheet.write_string(row, col, safe_text(value), formats.total_label if total else None)
    elif isinstance(value, float):
        sheet.write_number(row, col, value, formats.average)
    else:
        sheet.write_number(row, col, value, formats.total if total else formats.count)


def _sheet_rows(named: NamedTable) -> tuple[list[str], list[tuple[list[Value | str], bool]]]:
    """The header and the rows of a table's sheet: (cells, is the 合計 row)."""
    table = named.table
    section, label = t("report.table.column.section"), t("report.table.column.label")
    if isinstance(table, YearsTable):
        header = [section, label, *(fiscal_year_label(fy) for fy in table.fiscal_years)]
        rows: list[tuple[list[Value | str], bool]] = [
            ([t(f"report.section.{name}"), row.label, *row.counts], False)
            for name, found in (("activity", table.activity), ("destination", table.destination))
            for row in found
        ]
        return header, rows
    if isinstance(table, MonthTable):
        header = [section, label, *table.months, t("report.table.total")]
        return header, [
            ([t(f"report.section.{r.dimension}"), r.label, *r.counts, sum(r.counts)], False) for r in table.rows
        ]
    rows = [([row.label, *row.values], False) for row in table.rows]
    if table.total is not None:
        rows.append(([table.total.label, *table.total.values], True))
    return [label, *table.columns], rows


def write_table_sheet(book: Workbook, named: NamedTable, formats: _Formats | None = None) -> None:
    """One sheet for one table, appended to `book` (any workbook, constant_memory too: rows are written in
    order). Row 0: the title and period; row 2: the header; then the rows, 合計 in bold, and the notes."""
    formats = formats or _Formats(book)
    name = t(f"report.table.sheet.{named.name}")[:SHEET_NAME_MAX]
    sheet = book.add_worksheet(name)
    title = t("report.xlsx.title", title=table_title(named.name), period=named.period)
    sheet.write_string(0, 0, safe_text(title), formats.title)
    header, rows = _sheet_rows(named)
    for col, text in enumerate(header):
        sheet.write_string(2, col, safe_text(text), formats.header)
    sheet.freeze_panes(3, 0)
    row_number = 3
    for cells, total in rows:
        for col, value in enumerate(cells):
            _write_value(sheet, row_number, col, value, formats, total=total)
        row_number += 1
    for note in named.table.notes:
        row_number += 1
        sheet.write_string(row_number, 0, safe_text(note), formats.note)
    first = 2 if isinstance(named.table, YearsTable | MonthTable) else 1
    sheet.set_column(0, first - 1, 28)
    sheet.set_column(first, max(first, len(header) - 1), 12)


def add_table_sheets(book: Workbook, tables: Sequence[NamedTable]) -> None:
    """The tables' sheets, one each in the order given, appended to a workbook being written (the report's)."""
    formats = _Formats(book)
    for named in tables:
        write_table_sheet(book, named, formats)


def render_table_xlsx(named: NamedTable, out: BinaryIO) -> None:
    """A workbook of the one table (`fieldbot report --table NAME --format xlsx`)."""
    book = Workbook(out, {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    try:
        add_table_sheets(book, [named])
    finally:
        book.close()
