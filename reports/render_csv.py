"""A report as one CSV table (UTF-8 with BOM and CRLF, so that Excel in Japan opens it as is)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import BinaryIO

from core.counts import DIMENSIONS
from core.i18n import t
from reports.cells import safe_cell
from reports.export_titles import compare_headers, report_title
from reports.render_text import dimension_title, format_share, section_name
from reports.tally import PeriodInfo, Report, Row, Total

BOM = "\ufeff"

COLUMNS = ("section", "code", "label", "count", "previous", "delta", "rank", "new")

# A cell: text (made safe as it is written, see reports/cells.py) or a number (never prefixed, negative or not).
Cell = str | int


def _number(value: int | None) -> Cell:
    return "" if value is None else value


def _period_row(key: str, period: PeriodInfo | None) -> list[Cell]:
    name = t(f"report.column.{key}")
    if period is None:
        return [name, t("report.column.none")]
    return [name, period.label, period.start.isoformat(), period.end.isoformat()]


def _row(section: str, row: Row) -> list[Cell]:
    return [
        section,
        row.code,
        row.label,
        row.count,
        _number(row.previous),
        _number(row.delta),
        _number(row.rank),
        t("report.column.new_mark") if row.new else "",
    ]


def _total_row(section: str, code: str, total: Total) -> list[Cell]:
    label = t(f"report.total.{code}")
    return [section, code, label, total.count, _number(total.previous), _number(total.delta), "", ""]


def csv_rows(report: Report, *, council: str = "") -> Iterator[list[Cell]]:
    """The rows of the CSV: the title (the council's name when given, 集計表, the period), period, comparison and
    share, a blank row, then the table with its header (the comparison columns named 前年度 and 前年度比, or
    前年同期 and 前年同期比 …; codes in their own column, for re-import).

    Numbers are ints and deltas signed numbers (3, -2, 0) so that Excel can sum them; 新 is in its own column;
    text is written through `reports.cells` (a label never becomes a formula). Consulter
    sub-categories carry their group in the first column: 相談者種別/ボランティア希望（活動）者からの相談.
    """
    yield [report_title(report, council)]
    yield _period_row("period", report.period)
    yield _period_row("compare", report.compare)
    yield [t("report.total.outing_share"), format_share(report.outing_share)]
    yield []
    named = compare_headers(report)
    yield [named.get(name) or t(f"report.column.{name}") for name in COLUMNS]
    totals_section = section_name("totals")
    totals = report.totals
    yield _total_row(totals_section, "outings", totals.outings)
    yield _total_row(totals_section, "consultations", totals.consultations)
    yield _total_row(totals_section, "at_outing", totals.at_outing)
    yield _total_row(totals_section, "agency_links", totals.agency_links)
    for name in DIMENSIONS:
        section = dimension_title(name)
        if name != "consulter":
            for row in report.dimensions.rows(name):
                yield _row(section, row)
            continue
        for group in report.dimensions.consulter:
            yield _row(section, group)
            group_section = t("report.column.group_path", dimension=section, group=group.label)
            for category in group.categories:
                yield _row(group_section, category)


def render_csv(report: Report, out: BinaryIO, *, council: str = "") -> None:
    """Write the CSV to a binary stream, row by row; the stream is left open."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        text.write(BOM)
        writer = csv.writer(text, lineterminator="\r\n")
        for row in csv_rows(report, council=council):
            writer.writerow([safe_cell(cell) for cell in row])
        text.flush()
    finally:
        text.detach()


def render_csv_bytes(report: Report, *, council: str = "") -> bytes:
    buffer = io.BytesIO()
    render_csv(report, buffer, council=council)
    return buffer.getvalue()
