"""Renderings of a report: Telegram text in the published layout, CSV for Excel, XLSX, PNG charts."""

from __future__ import annotations

import csv
import io
import logging
import struct
import warnings
from collections.abc import Iterator
from datetime import date, datetime
from importlib import resources
from pathlib import Path

import openpyxl
import pytest

from core.counts import DIMENSIONS, Counts
from core.periods import (
    Period,
    date_range,
    fiscal_year,
    iso_week,
    month,
    previous_period,
    same_period_last_year,
    so_far,
)
from core.taxonomy import DEFAULT_TAXONOMY, load_taxonomy, parse_taxonomy
from reports.export_titles import report_caption, report_file_name
from reports.render_chart import render_comparison_chart, render_multi_year_chart
from reports.render_csv import render_csv, render_csv_bytes
from reports.render_text import (
    dimension_lines,
    format_delta,
    group_lines,
    render_text,
    section_title,
    text_length,
    total_line,
)
from reports.render_xlsx import render_xlsx, sheet_name
from reports.tally import Report, Row, build_report

TAXONOMY = load_taxonomy()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NOVEMBER_1_10 = date_range(date(2026, 11, 1), date(2026, 11, 10))


def published_report() -> Report:
    """The numbers of the published example in DOMAIN.md, for FY2020 against FY2019."""
    current = Counts(
        activity={"outing": 20, "meeting": 7},
        agency={"children": 12, "elderly": 9, "health": 1, "kosha": 1},
        consulter={"volunteer": 24},
        consulter_category={
            ("volunteer", "donate"): 10,
            ("volunteer", "volunteer"): 6,
            ("volunteer", "worries"): 6,
            ("volunteer", "other"): 2,
        },
        outings=27,
        consultations=24,
        at_outing=9,
    )
    previous = Counts(
        activity={"outing": 18, "meeting": 9, "other": 1},
        agency={"children": 9, "elderly": 11, "kosha": 1},
        consulter={"volunteer": 19},
        consulter_category={("volunteer", "donate"): 6, ("volunteer", "volunteer"): 5, ("volunteer", "worries"): 8},
        outings=28,
        consultations=19,
        at_outing=6,
    )
    return build_report(TAXONOMY, fiscal_year(2020), current, fiscal_year(2019), previous)


def row(count: int, previous: int | None) -> Row:
    delta = None if previous is None else count - previous
    return Row(code="x", label="x", count=count, previous=previous, delta=delta, rank=1, new=previous == 0 < count)


# ---- text ----


@pytest.mark.parametrize(
    ("count", "previous", "text"),
    [(12, 9, "+3件"), (9, 11, "-2件"), (1, 1, "±0件"), (1, 0, "新"), (0, 2, "-2件"), (1, None, ""), (1234, 0, "新")],
)
def test_deltas_are_written_as_published(count: int, previous: int | None, text: str) -> None:
    assert format_delta(row(count, previous)) == text


def test_the_published_agency_table() -> None:
    report = published_report()
    assert section_title("agency") == "<関係機関別>"
    assert dimension_lines(report.dimensions.agency, ranked=False) == [
        "・子ども政策課 12件 (+3件)",
        "・高齢者支援課 9件 (-2件)",
        "・健康課 1件 (新)",
        "・福祉公社 1件 (±0件)",
    ]


def test_the_published_consulter_group_with_its_ranked_categories() -> None:
    report = published_report()
    # DOMAIN.md's example writes その他 as （+2件）, but that category had no count the year before: the issue's
    # rule (新 where the category had no count then) applies.
    assert group_lines(report.dimensions.consulter) == [
        "■ ボランティア希望（活動）者からの相談 24件（+5件）",
        "1位：寄付（寄贈）したい 10件（+4件）",
        "2位：ボランティアしたい 6件（+1件）",
        "2位：ボランティア活動中の悩み、活動報告など 6件（-2件）",
        "4位：その他 2件（新）",
    ]


def test_the_whole_report_reads_as_one_message_with_its_footnote() -> None:
    [message] = render_text(published_report())
    lines = message.splitlines()
    assert lines[:2] == ["【集計】令和2年度", "比較：令和元年度"]
    assert lines[-1] == "※ () 内は前年度比"
    for expected in (
        "<合計>",
        "・活動記録 27件 (-1件)",
        "・相談 24件 (+5件)",
        "・出向き先で受けた相談の割合 37.5% (+5.9ポイント)",
        "<活動内容別>",
        "・その他 0件 (-1件)",
        "<支援先別>",
        "（該当なし）",
        "<相談者種別>",
        "■ ボランティア希望（活動）者からの相談 24件（+5件）",
        "<関係機関別>",
        "・健康課 1件 (新)",
    ):
        assert expected in lines
    assert lines.index("<活動内容別>") < lines.index("<相談者種別>") < lines.index("<関係機関別>")


@pytest.mark.parametrize(
    ("period", "compare", "footnote"),
    [
        (iso_week(2026, 47), iso_week(2026, 46), "※ () 内は前週比"),
        (iso_week(2026, 47), iso_week(2025, 47), "※ () 内は前年同週比"),
        (month(2026, 11), month(2026, 10), "※ () 内は前月比"),
        (month(2026, 11), month(2025, 11), "※ () 内は前年同月比"),
        (fiscal_year(2020), fiscal_year(2019), "※ () 内は前年度比"),
        (NOVEMBER_1_10, previous_period(NOVEMBER_1_10), "※ () 内は前期間比"),
        (NOVEMBER_1_10, same_period_last_year(NOVEMBER_1_10), "※ () 内は前年同期比"),
        (month(2026, 11), month(2026, 6), "※ () 内は2026年6月との比較"),
    ],
)
def test_the_footnote_matches_the_comparison(period: Period, compare: Period, footnote: str) -> None:
    report = build_report(TAXONOMY, period, Counts(agency={"children": 1}), compare, Counts(agency={"elderly": 1}))
    assert render_text(report)[-1].splitlines()[-1] == footnote


def test_without_a_comparison_there_are_no_deltas_and_no_footnote() -> None:
    counts = Counts(agency={"children": 2}, consultations=4, at_outing=1)
    [message] = render_text(build_report(TAXONOMY, month(2026, 11), counts))
    assert "比較：なし" in message and "・子ども政策課 2件" in message.splitlines()
    assert "※" not in message and "(" not in message.replace("（該当なし）", "")
    assert "・出向き先で受けた相談の割合 25.0%" in message.splitlines()


def test_top_keeps_positive_rows_up_to_a_rank_with_ties() -> None:
    report = published_report()
    assert dimension_lines(report.dimensions.agency, ranked=True, top=3) == [
        "1位：子ども政策課 12件（+3件）",
        "2位：高齢者支援課 9件（-2件）",
        "3位：健康課 1件（新）",
        "3位：福祉公社 1件（±0件）",
    ]
    assert dimension_lines(report.dimensions.activity, ranked=False, top=5) == [
        "・活動先への出向き・参加 20件 (+2件)",
        "・話し合い（会議・打合せ）への参加 7件 (-2件)",
    ]


def big_report() -> Report:
    """Every category of every dimension counted, some labels made 64 characters long: far more than one message."""
    text = resources.files("core").joinpath(DEFAULT_TAXONOMY).read_text(encoding="utf-8")
    for name in ("agency", "topic", "destination"):
        for category in TAXONOMY.dimension(name):
            longer = (category.label + "とても長い名前の区分" * 7)[:64]
            text = text.replace(f'label = "{category.label}"', f'label = "{longer}"')
    taxonomy = parse_taxonomy(text, "long labels")
    counts = Counts(
        consulter_category={(g.code, c.code): 3 for g in taxonomy.consulter for c in taxonomy.categories_of(g.code)}
    )
    for name in DIMENSIONS:
        counts.dimension(name).update({c.code: 10 + i for i, c in enumerate(taxonomy.dimension(name))})
    return build_report(taxonomy, fiscal_year(2025), counts, fiscal_year(2024), Counts(agency={"children": 1}))


def is_frame(line: str) -> bool:
    """Lines that every message repeats: titles, the comparison, the footnote, section headings, blank lines."""
    return not line or line.startswith(("【集計】", "比較：", "※", "<"))


def test_a_long_report_is_split_into_messages_at_section_boundaries() -> None:
    report = big_report()
    whole = render_text(report, limit=100_000)
    assert len(whole) == 1
    messages = render_text(report, limit=1500)
    assert len(messages) > 2
    assert all(text_length(m) <= 1500 for m in messages)
    assert messages[0].startswith("【集計】令和7年度\n比較：令和6年度")
    assert all(m.startswith("【集計】令和7年度（続き）") for m in messages[1:])
    assert all(m.endswith("※ () 内は前年度比") for m in messages)
    # No line is lost or cut, and every dimension's heading starts a block.
    body = [line for m in messages for line in m.splitlines() if not is_frame(line)]
    expected = [line for line in whole[0].splitlines() if not is_frame(line)]
    assert body == expected
    for m in messages:
        blocks = m.split("\n\n")[1:-1]
        assert all(block.startswith("<") for block in blocks)


def test_a_section_longer_than_a_message_is_split_between_lines_with_its_heading_repeated() -> None:
    messages = render_text(big_report(), limit=700)
    assert all(text_length(m) <= 700 for m in messages)
    consulter_blocks = [b for m in messages for b in m.split("\n\n") if b.startswith("<相談者種別>")]
    assert len(consulter_blocks) > 1
    # Where a group fits in a message, the split falls between groups.
    messages = render_text(big_report(), limit=1000)
    consulter_blocks = [b for m in messages for b in m.split("\n\n") if b.startswith("<相談者種別>")]
    assert len(consulter_blocks) > 1
    assert all(block.splitlines()[1].startswith("■ ") for block in consulter_blocks)
    assert render_text(big_report())[0].count("\n") > 10  # the Telegram default limit still packs sections


def test_the_default_limit_is_telegrams() -> None:
    assert all(text_length(m) <= 4096 for m in render_text(big_report()))


# ---- CSV ----


def test_the_csv_is_utf8_with_bom_and_crlf_and_opens_as_one_table() -> None:
    data = render_csv_bytes(published_report())
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["集計表　令和2年度"]  # the title: the period (and the council's name when given)
    assert rows[1] == ["期間", "令和2年度", "2020-04-01", "2021-03-31"]
    assert rows[2] == ["比較", "令和元年度", "2019-04-01", "2020-03-31"]
    # The comparison columns as published tables name them; the codes in a column of their own.
    header = rows.index(["区分", "コード", "項目", "件数", "前年度", "前年度比", "順位", "新規"])
    body = rows[header + 1 :]
    assert ["関係機関", "health", "健康課", "1", "0", "1", "3", "新"] in body
    assert ["関係機関", "elderly", "高齢者支援課", "9", "11", "-2", "2", ""] in body
    assert ["相談者種別", "volunteer", "ボランティア希望（活動）者からの相談", "24", "19", "5", "", ""] in body
    group = "相談者種別/ボランティア希望（活動）者からの相談"
    assert [group, "other", "その他", "2", "0", "2", "4", "新"] in body
    assert ["活動内容", "other", "その他", "0", "1", "-1", "3", ""] in body


def test_the_csv_is_written_to_a_binary_stream_that_stays_open() -> None:
    out = io.BytesIO()
    render_csv(build_report(TAXONOMY, month(2026, 11), Counts()), out)
    assert not out.closed
    text = out.getvalue().decode("utf-8-sig")
    assert text.splitlines()[2] == "比較,なし"


# ---- XLSX ----


def test_the_workbook_has_a_sheet_per_dimension_with_period_rows_and_a_frozen_table() -> None:
    out = io.BytesIO()
    render_xlsx(published_report(), out)
    book = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    assert book.sheetnames == [
        "概要",
        "活動内容",
        "支援先",
        "相談経路",
        "相談者種別",
        "相談内容",
        "関係機関",
        "つなぎ先",
        "コード",
    ]
    sheet = book["関係機関"]
    assert sheet["A1"].value == "関係機関別　令和2年度"
    assert [c.value for c in sheet[2]][:4] == ["期間", "令和2年度", datetime(2020, 4, 1), datetime(2021, 3, 31)]
    assert [c.value for c in sheet[3]][:2] == ["比較", "令和元年度"]
    assert sheet["A4"].value == "※ () 内は前年度比"
    assert sheet.freeze_panes == "A7"
    assert [c.value for c in sheet[6]] == ["順位", "項目", "件数", "前年度", "前年度比"]
    table = [[c.value for c in r] for r in sheet.iter_rows(min_row=7)]
    assert table == [
        [1, "子ども政策課", 12, 9, 3],
        [2, "高齢者支援課", 9, 11, -2],
        [3, "健康課", 1, 0, 1],
        [3, "福祉公社", 1, 1, 0],
    ]
    assert sheet["A7"].number_format == '0"位"'
    assert sheet["C7"].number_format == "#,##0"
    assert sheet["E7"].number_format == '"+"#,##0;"-"#,##0;"±"0'
    assert sheet["E9"].number_format == '"新"'  # a new category shows 新 but keeps its numeric delta
    assert sheet.column_dimensions["B"].width >= 24


def test_the_consulter_sheet_has_group_rows_and_indented_sub_categories() -> None:
    out = io.BytesIO()
    render_xlsx(published_report(), out)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue()))["相談者種別"]
    rows = list(sheet.iter_rows(min_row=7))
    assert [[c.value for c in r] for r in rows] == [
        [None, "ボランティア希望（活動）者からの相談", 24, 19, 5],
        [1, "寄付（寄贈）したい", 10, 6, 4],
        [2, "ボランティアしたい", 6, 5, 1],
        [2, "ボランティア活動中の悩み、活動報告など", 6, 8, -2],
        [4, "その他", 2, 0, 2],
    ]
    assert rows[0][1].font.bold and rows[0][1].alignment.indent == 0
    assert rows[1][1].alignment.indent == 1 and not rows[1][1].font.bold


def test_the_summary_sheet_has_totals_and_the_share_at_outings(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    render_xlsx(published_report(), path)
    sheet = openpyxl.load_workbook(path)["概要"]
    table = {r[0].value: [c.value for c in r[1:]] for r in sheet.iter_rows(min_row=7)}
    assert table["活動記録"] == [27, 28, -1]
    assert table["出向き先で受けた相談の割合"] == [0.375, 0.3158, 0.0592]


def test_sheet_names_are_valid() -> None:
    assert sheet_name("相談者種別") == "相談者種別"
    assert sheet_name("a/b:c" + "x" * 40) == "a_b_c" + "x" * 26
    assert len(sheet_name("あ" * 40)) == 31


def test_a_workbook_without_comparison_leaves_previous_and_delta_empty() -> None:
    out = io.BytesIO()
    render_xlsx(build_report(TAXONOMY, month(2026, 11), Counts(agency={"children": 2})), out)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue()))["関係機関"]
    assert [c.value for c in sheet[3]][:2] == ["比較", "なし"]
    assert [c.value for c in sheet[7]] == [1, "子ども政策課", 2, None, None]


# ---- PNG charts ----


@pytest.fixture
def no_font_warnings(caplog: pytest.LogCaptureFixture) -> Iterator[list[warnings.WarningMessage]]:
    """Fails the test if matplotlib warns about a missing glyph or font, through warnings or logging."""
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING, logger="matplotlib"):
        warnings.simplefilter("always")
        yield caught
    assert [str(w.message) for w in caught] == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith("matplotlib")] == []


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_comparison_chart_is_a_png_with_japanese_labels_that_render(
    no_font_warnings: list[warnings.WarningMessage],
) -> None:
    data = render_comparison_chart(published_report(), "agency")
    width, height = png_size(data)
    assert 600 <= width <= 2000 and 250 <= height <= 6000
    assert 10_000 < len(data) < 2_000_000


def test_the_comparison_chart_of_a_consulter_group_and_of_an_empty_dimension(
    no_font_warnings: list[warnings.WarningMessage],
) -> None:
    report = published_report()
    png_size(render_comparison_chart(report, "consulter:volunteer"))
    png_size(render_comparison_chart(report, "destination"))
    png_size(render_comparison_chart(build_report(TAXONOMY, month(2026, 11), Counts(topic={"case": 1})), "topic"))


def test_the_multi_year_chart_groups_activity_counts_by_fiscal_year(
    no_font_warnings: list[warnings.WarningMessage],
) -> None:
    series = {
        2018: {"outing": 120, "meeting": 40, "consult": 33},
        2019: {"outing": 98, "meeting": 51, "info": 12},
        2020: {"outing": 61, "meeting": 70, "outreach": 9, "gone": 2},
    }
    width, height = png_size(render_multi_year_chart(TAXONOMY, series))
    assert 600 <= width <= 2000 and 250 <= height <= 6000
    with pytest.raises(ValueError):
        render_multi_year_chart(TAXONOMY, {})


def test_a_missing_glyph_would_be_caught(caplog: pytest.LogCaptureFixture) -> None:
    """The font check above is not vacuous: a character IPAexGothic lacks does warn."""
    report = published_report()
    agency = [r.model_copy(update={"label": "\U0001f600"}) for r in report.dimensions.agency]
    odd = report.model_copy(update={"dimensions": report.dimensions.model_copy(update={"agency": agency})})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        render_comparison_chart(odd, "agency")
    assert any("missing from" in str(w.message) for w in caught)


def test_totals_read_a_number_even_when_they_were_zero_before() -> None:
    report = build_report(
        TAXONOMY, iso_week(2026, 47), Counts(outings=3, consultations=2), iso_week(2026, 46), Counts(outings=3)
    )
    assert total_line("consultations", report.totals.consultations) == "・相談 2件 (+2件)"
    assert total_line("outings", report.totals.outings) == "・活動記録 3件 (±0件)"


# ---- files a council is sent ----


def test_report_files_are_named_for_the_council_and_the_period_without_the_product() -> None:
    assert report_file_name("市民社協", "令和7年度", "xlsx") == "市民社協_令和7年度_集計.xlsx"
    assert report_file_name("", "令和7年度", "csv") == "令和7年度_集計.csv"
    assert report_file_name("A/B社協", "令和8年度（12/1まで）", "csv") == "A_B社協_令和8年度（12_1まで）_集計.csv"
    assert report_caption("市民社会福祉協議会", "令和7年度") == "市民社会福祉協議会 令和7年度 集計表"
    assert "fieldbot" not in report_caption("", "令和7年度")
    assert TAXONOMY.council_short == "市民社協"
    text = resources.files("core").joinpath(DEFAULT_TAXONOMY).read_text(encoding="utf-8")
    without = parse_taxonomy(text.replace('council_short = "市民社協"\n', ""), "no short name")
    assert without.council_short == without.council == "市民社会福祉協議会"


def test_the_workbook_and_csv_titles_carry_the_council_and_codes_have_a_sheet_of_their_own() -> None:
    out = io.BytesIO()
    render_xlsx(published_report(), out, council="市民社会福祉協議会")
    book = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    assert book["関係機関"]["A1"].value == "市民社会福祉協議会　関係機関別　令和2年度"
    assert book["概要"]["A1"].value == "市民社会福祉協議会　合計　令和2年度"
    codes = [[c.value for c in r] for r in book["コード"].iter_rows()]
    assert codes[0] == ["区分", "コード", "項目"]
    assert ["関係機関", "health", "健康課"] in codes
    assert ["相談者種別/ボランティア希望（活動）者からの相談", "volunteer/donate", "寄付（寄贈）したい"] in codes
    rows = list(
        csv.reader(io.StringIO(render_csv_bytes(published_report(), council="市民社会福祉協議会").decode("utf-8-sig")))
    )
    assert rows[0] == ["市民社会福祉協議会　集計表　令和2年度"]


def test_a_running_year_is_compared_with_the_same_span_and_its_columns_say_so() -> None:
    current, before = so_far(fiscal_year(2026), date(2026, 12, 1))
    report = build_report(TAXONOMY, current, Counts(activity={"outing": 3}), before, Counts(activity={"outing": 1}))
    rows = list(csv.reader(io.StringIO(render_csv_bytes(report).decode("utf-8-sig"))))
    assert ["区分", "コード", "項目", "件数", "前年同期", "前年同期比", "順位", "新規"] in rows
    out = io.BytesIO()
    render_xlsx(report, out)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue()))["活動内容"]
    assert [c.value for c in sheet[6]] == ["順位", "項目", "件数", "前年同期", "前年同期比"]
    assert isinstance(sheet["C2"].value, datetime)  # the period's dates are date cells
