"""A report as an XLSX workbook: a summary sheet, then one sheet per dimension with the period in its header rows."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from os import PathLike
from typing import Any, BinaryIO

# XlsxWriter ships no type information (no py.typed): its classes are Any to mypy.
from xlsxwriter import Workbook  # type: ignore[import-untyped]
from xlsxwriter.format import Format  # type: ignore[import-untyped]
from xlsxwriter.worksheet import Worksheet  # type: ignore[import-untyped]

from core.counts import DIMENSIONS
from core.i18n import t
from reports.cells import safe_text
from reports.export_titles import compare_headers
from reports.render_tables import add_table_sheets
from reports.render_text import dimension_title, footnote, section_name
from reports.tables import NamedTable
from reports.tally import PeriodInfo, Report, Row, Total

SHEET_NAME_MAX = 31
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")

# Rows of a sheet: title, period, comparison, footnote, blank, then the table's header and its rows.
HEADER_ROW = 5
TABLE_COLUMNS = ("rank", "label", "count", "previous", "delta")


def sheet_name(text: str) -> str:
    """A valid sheet name: at most 31 characters, none of []:*?/\\, not starting or ending with '."""
    cleaned = _SHEET_NAME_FORBIDDEN.sub("_", text).strip("'")
    return cleaned[:SHEET_NAME_MAX] or "_"


def display_width(text: str) -> int:
    """Width in Excel columns: a full-width (Japanese) character is about two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _text(sheet: Worksheet, row: int, col: int, text: str, cell_format: Format | None = None) -> None:
    """Every text cell of the workbook: a string (never a formula), escaped as in reports/cells.py."""
    sheet.write_string(row, col, safe_text(text), cell_format)


class _Formats:
    def __init__(self, book: Workbook) -> None:
        def add(**props: Any) -> Format:
            return book.add_format(props)

        self.title = add(bold=True, font_size=14)
        self.key = add(bold=True)
        self.date = add(num_format="yyyy/mm/dd", align="left")
        self.note = add(italic=True, font_color="#555555")
        self.header = add(bold=True, bg_color="#DDEBF7", border=1, align="center")
        rank_format = f'0"{t("report.column.rank_suffix")}"'
        self.rank = add(num_format=rank_format, align="center")
        self.label = add()
        self.count = add(num_format="#,##0")
        self.delta = add(num_format='"+"#,##0;"-"#,##0;"±"0')
        # A new category: the cell keeps its numeric delta (sums still work) but shows 新 as tables do.
        self.new = add(num_format=f'"{t("report.column.new_mark")}"', align="right")
        self.group_rank = add(num_format=rank_format, align="center", bold=True, bg_color="#F2F2F2")
        self.group_label = add(bold=True, bg_color="#F2F2F2")
        self.group_count = add(num_format="#,##0", bold=True, bg_color="#F2F2F2")
        self.group_delta = add(num_format='"+"#,##0;"-"#,##0;"±"0', bold=True, bg_color="#F2F2F2")
        self.group_new = add(
            num_format=f'"{t("report.column.new_mark")}"', align="right", bold=True, bg_color="#F2F2F2"
        )
        self.sub_label = add(indent=1)
        self.percent = add(num_format="0.0%")
        self.points = add(num_format='"+"0.0%;"-"0.0%;"±"0.0%')


def _write_period(sheet: Worksheet, row: int, key: str, period: PeriodInfo | None, formats: _Formats) -> None:
    _text(sheet, row, 0, t(f"report.column.{key}"), formats.key)
    if period is None:
        _text(sheet, row, 1, t("report.column.none"))
        return
    _text(sheet, row, 1, period.label)
    sheet.write_datetime(row, 2, period.start, formats.date)
    sheet.write_datetime(row, 3, period.end, formats.date)


def _write_head(sheet: Worksheet, report: Report, title: str, formats: _Formats, council: str) -> None:
    """Rows 0-3: the title (with the council's name when known), the period, the comparison and the footnote
    (row 4 stays blank)."""
    period = report.period.label
    heading = (
        t("report.xlsx.council_title", council=council, title=title, period=period)
        if council
        else t("report.xlsx.title", title=title, period=period)
    )
    _text(sheet, 0, 0, heading, formats.title)
    _write_period(sheet, 1, "period", report.period, formats)
    _write_period(sheet, 2, "compare", report.compare, formats)
    note = footnote(report)
    if note:
        _text(sheet, 3, 0, note, formats.note)


def _write_header(sheet: Worksheet, report: Report, columns: Sequence[str], formats: _Formats) -> None:
    """The table's header: the comparison columns named by what they compare with (前年度, 前年度比, 前年同期 …)."""
    named = compare_headers(report)
    for col, name in enumerate(columns):
        _text(sheet, HEADER_ROW, col, named.get(name) or t(f"report.column.{name}"), formats.header)
    sheet.freeze_panes(HEADER_ROW + 1, 0)


def _write_row(
    sheet: Worksheet, row: int, item: Row, formats: _Formats, *, group: bool = False, sub: bool = False
) -> None:
    if item.rank is not None:  # consulter groups are published in their order, without a rank
        sheet.write_number(row, 0, item.rank, formats.group_rank if group else formats.rank)
    label_format = formats.group_label if group else formats.sub_label if sub else formats.label
    _text(sheet, row, 1, item.label, label_format)
    count_format = formats.group_count if group else formats.count
    sheet.write_number(row, 2, item.count, count_format)
    if item.previous is not None and item.delta is not None:
        sheet.write_number(row, 3, item.previous, count_format)
        if item.new:
            sheet.write_number(row, 4, item.delta, formats.group_new if group else formats.new)
        else:
            sheet.write_number(row, 4, item.delta, formats.group_delta if group else formats.delta)
    elif group:
        sheet.write_blank(row, 3, None, formats.group_count)
        sheet.write_blank(row, 4, None, formats.group_count)


def _set_widths(sheet: Worksheet, labels: Iterable[str], *, first: float = 8) -> None:
    widest = max((display_width(label) for label in labels), default=10)
    sheet.set_column(0, 0, first)
    sheet.set_column(1, 1, min(max(widest + 4, 24), 90))
    sheet.set_column(2, 4, 12)


def _summary_sheet(book: Workbook, report: Report, formats: _Formats, council: str) -> None:
    sheet = book.add_worksheet(sheet_name(t("report.xlsx.summary_sheet")))
    labels = [t(f"report.total.{name}") for name in ("outings", "consultations", "at_outing", "agency_links")]
    share_label = t("report.total.outing_share")
    _set_widths(sheet, [*labels, share_label, report.period.label], first=10)
    _write_head(sheet, report, section_name("totals"), formats, council)
    _write_header(sheet, report, ("label", "count", "previous", "delta"), formats)
    totals = report.totals
    items: list[tuple[str, Total]] = list(
        zip(labels, (totals.outings, totals.consultations, totals.at_outing, totals.agency_links), strict=True)
    )
    row = HEADER_ROW + 1
    for label, total in items:
        _text(sheet, row, 0, label)
        sheet.write_number(row, 1, total.count, formats.count)
        if total.previous is not None and total.delta is not None:
            sheet.write_number(row, 2, total.previous, formats.count)
            sheet.write_number(row, 3, total.delta, formats.delta)
        row += 1
    _text(sheet, row, 0, share_label)
    if report.outing_share is not None:
        sheet.write_number(row, 1, report.outing_share, formats.percent)
    before = report.previous_outing_share()
    if report.compare is not None and before is not None:
        sheet.write_number(row, 2, before, formats.percent)
        if report.outing_share is not None:
            sheet.write_number(row, 3, round(report.outing_share - before, 4), formats.points)


def _dimension_sheet(book: Workbook, report: Report, name: str, formats: _Formats, council: str) -> None:
    title = dimension_title(name)
    sheet = book.add_worksheet(sheet_name(title))
    rows = report.dimensions.rows(name)
    labels = [row.label for row in rows]
    if name == "consulter":
        labels += [f"  {c.label}" for group in report.dimensions.consulter for c in group.categories]
    _set_widths(sheet, [*labels, report.period.label])
    _write_head(sheet, report, section_name(name), formats, council)
    _write_header(sheet, report, TABLE_COLUMNS, formats)
    row = HEADER_ROW + 1
    if name != "consulter":
        for item in rows:
            _write_row(sheet, row, item, formats)
            row += 1
        return
    for group in report.dimensions.consulter:
        _write_row(sheet, row, group, formats, group=True)
        row += 1
        for category in group.categories:
            _write_row(sheet, row, category, formats, sub=True)
            row += 1


def _codes_sheet(book: Workbook, report: Report, formats: _Formats) -> None:
    """Every row of every table with its code (the consulter sub-categories as group/category), for re-import
    and for joining with other files; the other sheets show labels only."""
    sheet = book.add_worksheet(sheet_name(t("report.xlsx.codes_sheet")))
    columns = ("section", "code", "label")
    for col, name in enumerate(columns):
        _text(sheet, 0, col, t(f"report.column.{name}"), formats.header)
    sheet.freeze_panes(1, 0)
    row = 1
    labels: list[str] = []
    for name in DIMENSIONS:
        section = dimension_title(name)
        entries = [(section, item.code, item.label) for item in report.dimensions.rows(name) if name != "consulter"]
        if name == "consulter":
            for group in report.dimensions.consulter:
                entries.append((section, group.code, group.label))
                path = t("report.column.group_path", dimension=section, group=group.label)
                entries += [(path, f"{group.code}/{c.code}", c.label) for c in group.categories]
        for values in entries:
            for col, value in enumerate(values):
                _text(sheet, row, col, value)
            labels.append(values[0])
            row += 1
    widest = max((display_width(label) for label in labels), default=10)
    sheet.set_column(0, 0, min(max(widest + 2, 12), 60))
    sheet.set_column(1, 1, 24)
    sheet.set_column(2, 2, 40)


def render_xlsx(
    report: Report, out: BinaryIO | str | PathLike[str], *, council: str = "", tables: Sequence[NamedTable] = ()
) -> None:
    """Write the workbook to a binary stream or a path.

    Sheets: 概要 (totals and the share of consultations at outings), then one per dimension in report order, then
    コード (the code of every row). Each sheet: title (the council's name, when given, the table and the period),
    period and comparison rows (dates as date cells), the footnote, then a frozen header (順位, 項目, 件数, then
    the comparison as the published tables name it: 前年度 and 前年度比, or 前年同期 and 前年同期比) and the rows;
    the consulter sheet shows each group (bold) followed by its indented sub-categories. Rows are written in
    order in constant_memory mode, so memory stays flat however long the tables are. `tables` (the supervisors'
    tables of the same period and scope) follow as sheets of their own.
    """
    book = Workbook(out, {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    try:
        formats = _Formats(book)
        _summary_sheet(book, report, formats, council)
        for name in DIMENSIONS:
            _dimension_sheet(book, report, name, formats, council)
        _codes_sheet(book, report, formats)
        add_table_sheets(book, tables)
    finally:
        book.close()
