"""The supervisors' tables on the demo's two fiscal years: each adds up to the report of the same period and scope;
and the pure folds (zero rows, －, 不明, imported totals) on small counts."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from core.counts import Counts
from core.crypto import Sealer
from core.periods import fiscal_year, month
from core.taxonomy import Taxonomy, parse_taxonomy
from demo.seed import seed
from reports.render_tables import add_table_sheets, render_table_csv, render_table_text, render_table_xlsx
from reports.tables import (
    GridRow,
    GridTable,
    MonthTable,
    NamedTable,
    Value,
    YearsTable,
    area_table,
    years_table,
)
from services.access import Scope
from services.report_tables import ReportTables
from services.reporting import Reporter
from storage.sqlite.store import Store
from storage.types import OutingCell
from tests.conftest import TEST_KEY, TODAY
from tests.seed import STAMP, consultation, outing

TOKYO = ZoneInfo("Asia/Tokyo")
SCOPES = (Scope(), Scope(zone="west"))


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory, taxonomy: Taxonomy) -> Path:
    """The demo's records (FY2025 whole, FY2026 up to the day before TODAY), seeded once for the module."""
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"

    async def make() -> None:
        store = await Store.open(path, Sealer.from_text(TEST_KEY))
        try:
            await seed(store, taxonomy, TODAY, TOKYO)
        finally:
            await store.close()

    asyncio.run(make())
    return path


@pytest.fixture
async def demo(demo_db: Path) -> AsyncIterator[Store]:
    store = await Store.open(demo_db, Sealer.from_text(TEST_KEY))
    try:
        yield store
    finally:
        await store.close()


def grid(named: NamedTable) -> GridTable:
    assert isinstance(named.table, GridTable)
    return named.table


def number(value: Value) -> int:
    return value if isinstance(value, int) else 0


def column_sum(table: GridTable, column: int) -> int:
    return sum(number(row.values[column]) for row in table.rows)


@pytest.mark.parametrize("scope", SCOPES, ids=["council", "west"])
@pytest.mark.parametrize("fy", [2025, 2026])
async def test_every_table_adds_up_to_the_report_of_the_same_period(
    demo: Store, taxonomy: Taxonomy, scope: Scope, fy: int
) -> None:
    reporter = Reporter(demo, taxonomy)
    tables = ReportTables(reporter, TOKYO)
    period = fiscal_year(fy)
    report = await reporter.report(period, scope=scope, today=TODAY)
    outings, consultations = report.totals.outings.count, report.totals.consultations.count
    links = report.totals.agency_links.count
    assert outings > 100 and consultations > 50

    staff = grid(await tables.table("staff", period, scope=scope, today=TODAY))
    assert staff.total is not None and staff.total.values == [outings, consultations, links]
    assert [column_sum(staff, c) for c in range(3)] == [outings, consultations, links]

    area = grid(await tables.table("area", period, scope=scope, today=TODAY))
    assert [column_sum(area, 0), column_sum(area, 1)] == [outings, consultations]
    expected = taxonomy.areas() if scope.zone is None else taxonomy.areas_of(scope.zone)
    assert [row.code for row in area.rows] == [a.code for a in expected if not a.retired]
    assert all(isinstance(row.values[2], date) and row.values[2] <= report.period.end for row in area.rows)

    cross = grid(await tables.table("cross", period, scope=scope, today=TODAY))
    assert cross.total is not None and cross.total.values[-1] == outings
    assert column_sum(cross, len(cross.columns) - 1) == outings
    by_activity = {row.code: row.values[-1] for row in cross.rows}
    assert {r.code: r.count for r in report.dimensions.activity if r.count} == {
        k: v for k, v in by_activity.items() if v
    }

    headcount = grid(await tables.table("headcount", period, scope=scope, today=TODAY))
    assert headcount.total is not None and headcount.total.values[0] == outings
    assert column_sum(headcount, 0) == outings and column_sum(headcount, 2) == headcount.total.values[2]

    named = await tables.table("month", period, scope=scope, today=TODAY)
    assert named.period == report.period.label
    months = named.table
    assert isinstance(months, MonthTable) and months.months[0] == "4月" and months.months[-1] == "3月"
    totals = {row.code: sum(row.counts) for row in months.rows if row.dimension == "totals"}
    assert totals == {"outings": outings, "consultations": consultations}
    for dimension, total in (("activity", outings), ("destination", outings), ("consulter", consultations)):
        assert sum(sum(row.counts) for row in months.rows if row.dimension == dimension) == total


async def test_the_years_table_counts_each_fiscal_year_as_its_report_does(demo: Store, taxonomy: Taxonomy) -> None:
    reporter = Reporter(demo, taxonomy)
    named = await ReportTables(reporter, TOKYO).table("years", fiscal_year(2026), today=TODAY)
    table = named.table
    assert isinstance(table, YearsTable) and table.fiscal_years == [2024, 2025, 2026]
    assert named.period == "令和6年度～令和8年度"
    for i, fy in enumerate(table.fiscal_years):
        report = await reporter.report(fiscal_year(fy), today=TODAY, with_compare=False)
        assert sum(row.counts[i] or 0 for row in table.activity) == report.totals.outings.count
        assert sum(row.counts[i] or 0 for row in table.destination) == report.totals.outings.count
    five = await ReportTables(reporter, TOKYO).table("years", fiscal_year(2026), years=5)
    assert isinstance(five.table, YearsTable) and five.table.fiscal_years == [2022, 2023, 2024, 2025, 2026]


async def test_outcomes_count_follow_ups_opened_and_closed_in_the_period(demo: Store, taxonomy: Taxonomy) -> None:
    reporter = Reporter(demo, taxonomy)
    tables = ReportTables(reporter, TOKYO)
    whole = [await tables.table("outcomes", fiscal_year(fy), today=TODAY) for fy in (2025, 2026)]
    rows = await demo.db.fetchall("SELECT count(*), sum(status = 'closed') FROM followups")
    totals = [grid(n).total for n in whole]
    opened = sum(number(total.values[0]) for total in totals if total is not None)
    closed = sum(number(total.values[1]) for total in totals if total is not None)
    assert (opened, closed) == (rows[0][0], rows[0][1])
    table = grid(whole[1])
    assert table.rows[-1].label == "対応中" and table.rows[-1].values[1] is None


def small_taxonomy(taxonomy: Taxonomy) -> Taxonomy:
    """The default file with 市民社協からの働きかけ counted since FY2020."""
    from importlib import resources

    text = resources.files("core").joinpath("default_taxonomy.toml").read_text(encoding="utf-8")
    marker = 'code = "outreach"\n'
    assert marker in text
    return parse_taxonomy(text.replace(marker, marker + "counted_since = 2020\n", 1), "test")


def test_a_year_before_a_category_was_counted_reads_none_and_gets_the_published_note(taxonomy: Taxonomy) -> None:
    counted = small_taxonomy(taxonomy)
    years = [Counts(activity={"outing": 30}), Counts(activity={"outing": 20, "outreach": 2}), Counts()]
    table = years_table(counted, [2018, 2019, 2020], years)
    rows = {row.code: row.counts for row in table.activity}
    assert rows["outreach"] == [None, None, 0] and rows["outing"] == [30, 20, 0]
    assert table.notes == ["※市民社協からの働きかけは令和2年度からカウントしている"]
    named = NamedTable(name="years", period="平成30年度～令和2年度", table=table)
    text = "\n".join(render_table_text(named))
    assert "・市民社協からの働きかけ　平成30年度 －／令和元年度 －／令和2年度 0件" in text
    assert text.splitlines()[0] == "【活動内容別・支援先別件数の推移】平成30年度～令和2年度"
    assert json.loads(named.model_dump_json())["table"]["activity"][0]["counts"] == [30, 20, 0]
    buffer = io.BytesIO()
    render_table_csv(named, buffer)
    lines = list(csv.reader(io.StringIO(buffer.getvalue().decode("utf-8-sig"))))
    assert ["活動内容別", "市民社協からの働きかけ", "－", "－", "0"] in lines
    out = io.BytesIO()
    render_table_xlsx(named, out)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet is not None and sheet.title == "年度別推移"
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert ["活動内容別", "市民社協からの働きかけ", "－", "－", 0] in values


def test_areas_without_outings_are_rows_and_a_hostile_label_stays_text(taxonomy: Taxonomy) -> None:
    counts = {"kyonan": (3, 1), "?": (2, 0)}
    baseline = Counts(outings=5, consultations=4)
    table = area_table(taxonomy, ["kyonan", "chuo"], counts, {"kyonan": date(2026, 11, 20)}, baseline=baseline)
    assert [(r.label, r.values) for r in table.rows] == [
        ("境南町", [3, 1, date(2026, 11, 20)]),
        (taxonomy.area_label("chuo"), [0, 0, None]),
        ("不明", [2, 0, None]),
        ("取込集計（内訳なし）", [5, 4, None]),
    ]
    assert table.total is not None and table.total.values == [10, 5, date(2026, 11, 20)]
    row = GridRow(label="=1+1", values=[1, 2, 3])
    hostile = NamedTable(name="staff", period="=HYPERLINK(1)", table=GridTable(columns=["a", "b", "c"], rows=[row]))
    buffer = io.BytesIO()
    render_table_csv(hostile, buffer)
    assert "'=1+1" in buffer.getvalue().decode("utf-8-sig") and "'=HYPERLINK(1)" in buffer.getvalue().decode()
    out = io.BytesIO()
    render_table_xlsx(hostile, out)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    assert sheet is not None and sheet.cell(4, 1).value == "'=1+1" and sheet.cell(4, 1).data_type == "s"


async def test_a_staff_member_s_scope_counts_their_own_records(store: Store, taxonomy: Taxonomy) -> None:
    me = await store.staff.ensure_admin(1, STAMP)
    other = await store.staff.ensure_admin(2, STAMP)
    await outing(store, me.id, date(2026, 11, 2), consultations=(consultation(agencies=("elderly",)),))
    await outing(store, other.id, date(2026, 11, 3), area="chuo")
    tables = ReportTables(Reporter(store, taxonomy), TOKYO)
    mine = grid(await tables.table("staff", month(2026, 11), scope=Scope(staff_id=me.id)))
    assert [(r.label, r.values) for r in mine.rows] == [(me.name, [1, 1, 1])]
    areas = grid(await tables.table("area", month(2026, 11), scope=Scope(staff_id=me.id)))
    assert [r.code for r in areas.rows] == ["kyonan"]
    cells = await store.tables.outing_cells(date(2026, 11, 1), date(2026, 11, 30))
    assert cells == [OutingCell("2026-11", "outing", "salon-elderly", 2, 0, 0)]


def fieldbot(database: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_", "TAXONOMY_"))}
    env["DATABASE_PATH"] = str(database)
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=database.parent, env=env, capture_output=True, timeout=120
    )


@pytest.mark.slow
def test_fieldbot_report_table_writes_each_table_in_every_format(demo_db: Path) -> None:
    shown = fieldbot(demo_db, "report", "--fy", "2025", "--table", "staff", "--format", "json", "--zone", "west")
    assert shown.returncode == 0, shown.stderr.decode()
    shape = json.loads(shown.stdout)
    staff = shape["tables"]["staff"]
    assert staff["columns"] == ["活動記録", "相談", "関係機関へのつなぎ"]
    assert staff["total"]["values"] == [
        shape["totals"][k]["count"] for k in ("outings", "consultations", "agency_links")
    ]
    assert sum(row["values"][0] for row in staff["rows"]) == shape["totals"]["outings"]["count"]

    years = json.loads(
        fieldbot(demo_db, "report", "--fy", "2025", "--table", "years", "--years", "2", "--format", "json").stdout
    )
    assert years["tables"]["years"]["fiscal_years"] == [2024, 2025]
    assert {"label", "counts"} <= set(years["tables"]["years"]["activity"][0])
    month = json.loads(fieldbot(demo_db, "report", "--fy", "2025", "--table", "month", "--format", "json").stdout)
    assert month["tables"]["month"]["months"][0] == "4月" and len(month["tables"]["month"]["rows"][0]["counts"]) == 12

    text = fieldbot(demo_db, "report", "--fy", "2025", "--table", "area").stdout.decode()
    assert text.startswith("【地域別件数】令和7年度") and "最終出向き日" in text
    table = fieldbot(demo_db, "report", "--fy", "2025", "--table", "cross", "--format", "csv").stdout
    assert table.startswith(b"\xef\xbb\xbf") and "活動先への出向き・参加" in table.decode("utf-8-sig")
    out = demo_db.parent / "headcount.xlsx"
    assert (
        fieldbot(
            demo_db, "report", "--fy", "2025", "--table", "headcount", "--format", "xlsx", "--out", str(out)
        ).returncode
        == 0
    )
    sheet = openpyxl.load_workbook(out).active
    assert sheet is not None and sheet.title == "参加人数" and sheet.cell(3, 1).value == "項目"

    refused = fieldbot(demo_db, "report", "--fy", "2025", "--years", "3")
    assert refused.returncode == 2 and "--table years" in refused.stderr.decode()


async def test_every_table_is_a_sheet_of_one_workbook(demo: Store, taxonomy: Taxonomy) -> None:
    from xlsxwriter import Workbook  # type: ignore[import-untyped]

    reporter = Reporter(demo, taxonomy)
    tables = await ReportTables(reporter, TOKYO).every_table(fiscal_year(2025), today=TODAY)
    report = await reporter.report(fiscal_year(2025), today=TODAY)
    out = io.BytesIO()
    book = Workbook(out, {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    add_table_sheets(book, tables)
    book.close()
    sheets = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    assert sheets.sheetnames == [
        "年度別推移",
        "月別",
        "担当者別",
        "地域別",
        "活動内容×支援先",
        "参加人数",
        "対応結果",
        "活動先別",
    ]
    staff = [list(row) for row in sheets["担当者別"].iter_rows(values_only=True)]
    assert staff[0] == ["担当者別件数　令和7年度", None, None, None]
    assert [
        "合計",
        report.totals.outings.count,
        report.totals.consultations.count,
        report.totals.agency_links.count,
    ] in staff
    area = [list(row) for row in sheets["地域別"].iter_rows(min_row=4, values_only=True)]
    assert all(isinstance(row[3], datetime) for row in area)
