"""What the report files a council is sent call their comparison columns and themselves: 前年度, 前年度比, the
council's name and the period; never the product's name."""

from __future__ import annotations

import re

from core.i18n import t
from reports.tally import Report, basis_word


def compare_headers(report: Report) -> dict[str, str]:
    """The headers of the comparison columns, as published tables word them: `previous` is the period compared
    with (前年度, 前年同期, 前週 …) and `delta` the change from it (前年度比 …). Without a comparison, the plain
    words of the catalogue."""
    if report.compare is None:
        return {}
    word = basis_word(report.period_kind, report.basis, report.compare.label)
    return {"previous": word, "delta": t("report.column.delta_from", basis=word)}


def report_title(report: Report, council: str = "") -> str:
    """The title of a report file: the council's name (when known), 集計表 and the period."""
    if council:
        return t("report.export.council_title", council=council, period=report.period.label)
    return t("report.export.title", period=report.period.label)


_NOT_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


def report_file_name(council_short: str, period_label: str, extension: str) -> str:
    """A file name as a council names its files: 市民社協_令和7年度_集計.xlsx (令和7年度_集計.xlsx without a
    name). Characters no file name may hold (/ \\ : * ? " < > | and control characters) become _."""
    council = council_short.strip()
    stem = (
        t("report.export.council_file_name", council=council, period=period_label)
        if council
        else t("report.export.file_name", period=period_label)
    )
    return f"{_NOT_IN_FILE_NAMES.sub('_', stem)}.{extension}"


def report_caption(council: str, period_label: str) -> str:
    """The caption of the report files sent in a chat: the council's name (when known) and the period."""
    if council:
        return t("report.export.council_caption", council=council, period=period_label)
    return t("report.export.caption", period=period_label)
