"""Historical imports: encodings, codes and labels, every error by line and column, all-or-nothing, streaming."""

from __future__ import annotations

import asyncio
import csv
import io
import random
import re
import sqlite3
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import csvfile
from core.csvfile import CHUNK, ErrorList, inspect_file
from core.importing import ImportKind, RecordsReader, record_header
from core.periods import fiscal_year
from core.taxonomy import DEFAULT_TAXONOMY, Taxonomy, load_taxonomy, parse_taxonomy
from services import imports as bot_importing
from services.exports import write_csv, write_xlsx
from services.imports import ImportReport, format_report, import_file
from storage.sqlite.db import migrations
from storage.sqlite.imports import ImportRepository
from storage.sqlite.records import export_rows
from storage.sqlite.store import Store
from storage.types import EXPORT_COLUMNS, StorageError
from tests import seed

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
TAXONOMY = load_taxonomy()

RECORD_HEADER = (
    "kind,date,staff,area,activity,destination,headcount,channel,consulter,consulter_category,topic,agencies,at_outing"
)
BASELINE_HEADER = "fiscal_year,dimension,category,count"


def write(path: Path, lines: Sequence[str], *, encoding: str = "utf-8", newline: str = "\n") -> Path:
    """The lines as a CSV file in `encoding`, each ending in `newline` (utf-8-sig writes the BOM)."""
    path.write_bytes("".join(line + newline for line in lines).encode(encoding))
    return path


async def run(
    store: Store, kind: ImportKind, path: Path, *, dry_run: bool = False, taxonomy: Taxonomy = TAXONOMY
) -> ImportReport:
    return await import_file(store, taxonomy, kind, path, dry_run=dry_run, today=TODAY, now=NOW)


async def count(store: Store, table: str, where: str = "") -> int:
    row = await store.db.fetchone(f"SELECT COUNT(*) FROM {table} {where}")
    assert row is not None
    return int(row[0])


async def table_counts(store: Store) -> dict[str, int]:
    tables = ("outings", "consultations", "consultation_agencies", "baseline_counts", "imports")
    found = {table: await count(store, table) for table in tables}
    found["imported staff"] = await count(store, "staff", "WHERE imported = 1")
    return found


EMPTY = {
    "outings": 0,
    "consultations": 0,
    "consultation_agencies": 0,
    "baseline_counts": 0,
    "imports": 0,
    "imported staff": 0,
}

# Codes on some rows and labels on others; 2020/6/1 dates; agencies separated by "|"; CRLF and blank lines.
MIXED = [
    RECORD_HEADER,
    "outing,2020/6/1,山田　花子,境野,outing,子ども食堂,12,,,,,,",
    "outing,2020-06-02,Suzuki,sakaino,話し合い（会議・打合せ）への参加,area-council,,,,,,,",
    "consultation,2020/6/1,山田　花子,境野,,,,出向いた先,ボランティア希望（活動）者からの相談,その他,"
    ",子ども政策課|elderly|地域支援課,",
    "consultation,2021/3/31,Suzuki,chuo,,,,phone,individual,,,,yes",
    "consultation,2021/3/31,Suzuki,chuo,,,,office,council,,,civic,",
    "",
    "",
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp932"])
async def test_utf8_bom_and_cp932_files_import_alike(store: Store, tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "records.csv", MIXED, encoding=encoding, newline="\r\n")
    assert inspect_file(path).encoding == encoding
    report = await run(store, "records", path)
    assert report.ok, report.errors
    assert (report.counts.outings, report.counts.consultations, report.counts.agency_links) == (2, 3, 4)
    outings = await store.db.fetchall(
        "SELECT o.date, s.name, o.area, o.activity, o.destination, o.headcount, o.submission_id, o.import_id "
        "FROM outings o JOIN staff s ON s.id = o.staff_id ORDER BY o.id"
    )
    assert [tuple(r) for r in outings] == [
        ("2020-06-01", "山田　花子", "sakaino", "outing", "kodomo-shokudo", 12, None, report.import_id),
        ("2020-06-02", "Suzuki", "sakaino", "meeting", "area-council", None, None, report.import_id),
    ]
    consultations = await store.db.fetchall(
        "SELECT id, date, area, channel, consulter, consulter_category, topic, at_outing, outing_id, submission_id "
        "FROM consultations ORDER BY id"
    )
    assert [tuple(r)[1:] for r in consultations] == [
        ("2020-06-01", "sakaino", "outing", "volunteer", "other", None, 1, None, None),
        ("2021-03-31", "chuo", "phone", "individual", None, None, 1, None, None),
        ("2021-03-31", "chuo", "office", "council", None, None, 0, None, None),
    ]
    links = await store.db.fetchall("SELECT consultation_id, agency FROM consultation_agencies ORDER BY agency")
    first, _, third = (r["id"] for r in consultations)
    assert sorted(tuple(r) for r in links) == sorted(
        [(first, "children"), (first, "elderly"), (first, "community"), (third, "civic")]
    )
    [info] = await ImportRepository(store.db).list_imports()
    assert (info.id, info.kind, info.filename, info.rows, info.sha256) == (
        report.import_id,
        "records",
        "records.csv",
        5,
        report.sha256,
    )
    assert format_report(report).startswith(
        f"imported 2 outings and 3 consultations (4 agency links) from records.csv ({encoding}) as import #"
    )


async def test_unknown_staff_become_imported_staff_with_no_access(store: Store, tmp_path: Path) -> None:
    admin = await store.staff.ensure_admin(100, NOW)
    path = write(
        tmp_path / "r.csv",
        [
            RECORD_HEADER,
            f"outing,2020/6/1,{admin.name},境野,outing,子ども食堂,,,,,,,",
            "outing,2020/6/1,佐藤,境野,outing,個人,,,,,,,",
        ],
    )
    report = await run(store, "records", path)
    assert report.ok, report.errors
    assert (report.counts.new_staff, report.counts.new_staff_names) == (1, ["佐藤"])
    rows = await store.db.fetchall("SELECT name, telegram_id, active, imported, role FROM staff ORDER BY id")
    assert [tuple(r) for r in rows] == [(admin.name, 100, 1, 0, "admin"), ("佐藤", None, 0, 1, "staff")]
    assert "1 staff name not known before added as imported staff with no access: 佐藤" in format_report(report)
    # Imported staff are not among the people of the bot.
    assert [s.name for s in await store.staff.all()] == [admin.name]


async def test_every_error_is_listed_by_line_and_column_and_nothing_is_written(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.csv",
        [
            RECORD_HEADER,
            "outing,2020/6/1,山田,境野,outing,子ども食堂,12,,,,,,",  # fine
            "outing,2020/2/30,山田,どこか,outing,子ども食堂,-1,phone,,,,,",
            "consultation,2027/1/1,,sakaino,,,,fax,volunteer,寄付,,city|elderly|高齢者支援課,maybe",
            "visit,20200601,山田,sakaino,,,,,,,,,",
            "consultation,2020/6/1,山田,sakaino,,,,phone,council,その他,,,",
            "consultation,2020/6/1,山田,sakaino,,,,phone,individual,donate,,,",
            "outing,2020/6/1,山田,sakaino,outing,子ども食堂,,,,,,",
            "outing,1988/6/1,山田,sakaino,,nowhere,100001,,,,,,",
        ],
    )
    report = await run(store, "records", path)
    assert not report.ok
    assert report.errors == [
        "line 3, column date: not a real date (2020/2/30)",
        "line 3, column area: not a code or label of an area (どこか)",
        "line 3, column channel: must be empty on an outing row (phone)",
        "line 3, column headcount: must be a whole number from 0 to 100000 (-1)",
        "line 4, column date: in the future (today is 2026-11-23) (2027/1/1)",
        "line 4, column staff: required, but empty",
        "line 4, column channel: not a code or label of a channel (fax)",
        "line 4, column consulter_category: not a sub-category of consulter group volunteer (寄付)",
        "line 4, column agencies: not a code or label of an agency (city)",
        "line 4, column agencies: the same agency is listed twice (高齢者支援課)",
        "line 4, column at_outing: must be yes, no or empty (maybe)",
        "line 5, column kind: must be outing or consultation (visit)",
        "line 5, column date: not a date like 2020-06-01 or 2020/6/1 (20200601)",
        "line 6, column consulter_category: consulter group council has no sub-categories (その他)",
        "line 7, column consulter_category: not a sub-category of consulter group individual (donate)",
        "line 8: 12 cells where the header has 13",
        "line 9, column date: before 1989-04-01, the first day of FY1989 (1988/6/1)",
        "line 9, column activity: required, but empty",
        "line 9, column destination: not a code or label of a destination (nowhere)",
        "line 9, column headcount: must be a whole number from 0 to 100000 (100001)",
    ]
    assert await table_counts(store) == EMPTY
    text = format_report(report)
    assert text.splitlines()[0] == (
        "import records: bad.csv: 20 errors, nothing was imported; fix the file and run the import again:"
    )
    assert text.splitlines()[1:] == report.errors


async def test_the_error_list_stops_at_1000_and_counts_the_rest(store: Store, tmp_path: Path) -> None:
    lines = [RECORD_HEADER] + ["outing,2020/6/1,山田,境野,outing,nowhere,,,,,,,"] * 1500
    report = await run(store, "records", write(tmp_path / "many.csv", lines))
    assert len(report.errors) == 1001
    assert report.errors[0] == "line 2, column destination: not a code or label of a destination (nowhere)"
    assert report.errors[-1] == "and 500 more errors"
    assert report.error_count == 1500
    assert format_report(report).startswith("import records: many.csv: 1,500 errors, nothing was imported")
    assert await table_counts(store) == EMPTY


async def test_missing_and_unknown_columns_are_reported_once_on_line_1(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "cols.csv",
        [
            "kind,date,staff,area,activity,channel,consulter,memo,date,",
            "outing,2020/6/1,山田,境野,outing,,,x,2020/6/1,9",
        ]
        + ["consultation,2020/6/1,山田,境野,,phone,council,,2020/6/1,"] * 3,
    )
    report = await run(store, "records", path)
    assert report.errors == [
        "line 1, column memo: unknown column (expected: kind, date, staff, area, activity, destination, channel, "
        "consulter, headcount, consulter_category, topic, agencies, at_outing, from_agency, referrals, place)",
        "line 1, column date: the column appears twice",
        "line 1, column destination: required column is missing",
        "line 2, column #10: a value in a column with no header (9)",
    ]
    assert await table_counts(store) == EMPTY


async def test_optional_columns_may_be_left_out_and_empty_unnamed_ones_are_ignored(
    store: Store, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "short.csv",
        [
            " Date ,Kind,Staff,Area,Activity,Destination,Channel,Consulter,,",  # Excel's trailing empty columns
            "2020/6/1,outing,山田,境野,outing,個人,,,,",
            "2020/6/1,consultation,山田,境野,,,出向いた先,council,, ",
            ",,,,,,,,,",
        ],
    )
    report = await run(store, "records", path)
    assert report.ok, report.errors
    row = await store.db.fetchone("SELECT consulter_category, topic, at_outing FROM consultations")
    assert row is not None and tuple(row) == (None, None, 1)


async def test_whole_file_problems(store: Store, tmp_path: Path) -> None:
    cases: dict[str, bytes] = {
        "empty.csv": b"",
        "blank.csv": b"\r\n\r\n",
        "header-only.csv": (RECORD_HEADER + "\r\n\r\n").encode(),
        "utf16.csv": (RECORD_HEADER + "\r\n").encode("utf-16"),
        "broken.csv": (RECORD_HEADER + "\nouting,2020/6/1,山\r田,境野,outing,個人,,,,,,,\n").encode(),
        "nul.csv": (RECORD_HEADER + "\nouting,2020/6/1,\x00,境野,outing,個人,,,,,,,\n").encode(),
    }
    expected = {
        "empty.csv": "line 1: the file is empty: expected a header row (kind,date,staff,area,activity,destination,"
        "channel,consulter)",
        "blank.csv": "line 1: the file is empty: expected a header row (kind,date,staff,area,activity,destination,"
        "channel,consulter)",
        "header-only.csv": "line 1: the file has a header but no data rows",
        "utf16.csv": 'line 1: the file is UTF-16 text; save it from Excel as "CSV UTF-8" or "CSV" instead',
        "broken.csv": "line 2: not readable as CSV (new-line character seen in unquoted field); reading stopped here",
        "nul.csv": "line 2, column staff: a name with control characters (\\x00)",
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        report = await run(store, "records", path)
        assert report.errors == [expected[name]], name
    assert await table_counts(store) == EMPTY


async def test_bytes_that_are_neither_utf8_nor_cp932_are_errors(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        (RECORD_HEADER + "\n").encode() + "outing,2020/6/1,山田,境野,outing,個人,,,,,,,\n".encode("cp932") + b"\x81 ,\n"
    )
    report = await run(store, "records", path)
    assert report.errors[0] == "line 3: bytes that are not cp932 text (at byte 1 of the line: 81 20 2c 0a)"


def test_the_utf8_check_reads_in_chunks_and_still_sees_characters_split_across_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvfile, "CHUNK", 7)  # every chunk boundary splits some 3-byte character
    path = write(tmp_path / "r.csv", MIXED)
    assert inspect_file(path).encoding == "utf-8"
    path = write(tmp_path / "r.csv", MIXED, encoding="cp932")
    assert inspect_file(path).encoding == "cp932"


async def test_a_dry_run_validates_and_writes_nothing(store: Store, tmp_path: Path) -> None:
    await store.staff.ensure_admin(100, NOW)
    await store.staff.rename((await store.staff.by_telegram_id(100)).id, "Suzuki")  # type: ignore[union-attr]
    path = write(tmp_path / "records.csv", MIXED)
    report = await run(store, "records", path, dry_run=True)
    assert report.ok and report.dry_run and report.import_id is None
    assert (report.counts.outings, report.counts.consultations, report.counts.agency_links) == (2, 3, 4)
    assert (report.counts.new_staff, report.counts.new_staff_names) == (1, ["山田　花子"])
    assert await table_counts(store) == EMPTY
    assert format_report(report).splitlines() == [
        "dry run: would import 2 outings and 3 consultations (4 agency links) from records.csv (utf-8); "
        "nothing was written",
        "1 staff name not known before would be added as imported staff with no access: 山田　花子",
    ]
    # A dry run does not use the file up: the real import follows.
    assert (await run(store, "records", path)).ok


async def test_importing_the_same_file_twice_is_refused_and_counts_stay(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "records.csv", MIXED)
    first = await run(store, "records", path)
    assert first.ok
    before = await table_counts(store)
    copy = tmp_path / "copy of records.csv"
    copy.write_bytes(path.read_bytes())
    for again_path, dry_run in ((path, False), (copy, False), (copy, True)):
        again = await run(store, "records", again_path, dry_run=dry_run)
        assert not again.ok
        assert again.already_imported is not None and again.already_imported.import_id == first.import_id
        assert again.errors == [
            f"{again_path.name}: this file was already imported (records import #{first.import_id} at "
            "2026-11-23T01:00:00.000000Z); importing it again would count its rows twice, so nothing was written"
        ]
        assert format_report(again) == f"import records: {again.errors[0]}"
    assert await table_counts(store) == before
    # The same bytes as a baseline are a different import (and here an invalid one).
    assert (await run(store, "baseline", path)).already_imported is None


async def test_a_file_changed_between_validation_and_writing_writes_nothing(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "records.csv", MIXED)
    validate = bot_importing._validate

    def validate_then_edit(*args: Any) -> None:
        validate(*args)
        with path.open("a", encoding="utf-8") as stream:
            stream.write("outing,2020/6/3,山田,境野,outing,個人,,,,,,,\n")

    monkeypatch.setattr(bot_importing, "_validate", validate_then_edit)
    report = await run(store, "records", path)
    assert report.errors == [
        "records.csv: the file changed while it was being imported; nothing was written, try again"
    ]
    assert await table_counts(store) == EMPTY


@pytest.mark.sqlite_only
async def test_a_locked_database_is_a_storage_error_and_writes_nothing(store: Store, tmp_path: Path) -> None:
    await store.db.writer.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(store.db.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer (the bot, say) holds the write lock
        with pytest.raises(StorageError, match="the import could not be written, so nothing was"):
            await run(store, "records", write(tmp_path / "records.csv", MIXED))
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert await table_counts(store) == EMPTY


async def test_retired_categories_are_valid_in_historical_imports(store: Store, tmp_path: Path) -> None:
    source = resources.files("core").joinpath(DEFAULT_TAXONOMY).read_text(encoding="utf-8")
    label = 'label = "市民社協からの働きかけ"'
    retired = parse_taxonomy(source.replace(label, label + "\nretired = true"), "test")
    assert retired.activity.get("outreach").retired  # type: ignore[union-attr]
    path = write(tmp_path / "r.csv", [RECORD_HEADER, "outing,2019/6/1,山田,境野,市民社協からの働きかけ,個人,,,,,,,"])
    assert (await run(store, "records", path, taxonomy=retired)).ok


# ---- baseline ----


async def baseline_rows(store: Store) -> list[tuple[Any, ...]]:
    rows = await store.db.fetchall(
        "SELECT fiscal_year, dimension, category, count, import_id FROM baseline_counts "
        "ORDER BY fiscal_year, dimension, category"
    )
    return [tuple(r) for r in rows]


async def test_a_baseline_year_with_codes_labels_and_group_slash_category(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "fy2019.csv",
        [
            "dimension,category,count,fiscal_year",
            "consulter_category,volunteer/その他,3,2019",
            "consulter_category,ニーズを抱えている個人の相談/その他,4,FY2019",
            "consulter_category,group/funds,5,2019",
            "consulter,ボランティア希望（活動）者からの相談,9,2019",
            "agency,子ども政策課,30,2019",
            "activity,outing,１２０,2019",
            'topic,ibasho,"1,234",2018',
        ],
        encoding="cp932",
    )
    report = await run(store, "baseline", path)
    assert report.ok, report.errors
    assert report.counts.baseline_rows == 7
    first = report.import_id
    assert await baseline_rows(store) == [
        (2018, "topic", "ibasho", 1234, first),
        (2019, "activity", "outing", 120, first),
        (2019, "agency", "children", 30, first),
        (2019, "consulter", "volunteer", 9, first),
        (2019, "consulter_category", "group/funds", 5, first),
        (2019, "consulter_category", "individual/other", 4, first),
        (2019, "consulter_category", "volunteer/other", 3, first),
    ]
    assert format_report(report).startswith("imported 7 baseline counts from fy2019.csv (cp932) as import #")
    # The fiscal-year tallies read them back by code: その他 of ボランティア希望 is not その他 of 個人.
    tally = await store.tallies.baseline(2019, TAXONOMY.outing_channel)
    assert tally.consulter_category == {("volunteer", "other"): 3, ("individual", "other"): 4, ("group", "funds"): 5}
    assert (tally.consulter, tally.activity, tally.agency) == ({"volunteer": 9}, {"outing": 120}, {"children": 30})

    # A later baseline file for the same keys replaces the counts (it does not add to them).
    fix = write(
        tmp_path / "fy2019-fixed.csv",
        [BASELINE_HEADER, "2019,consulter_category,volunteer/other,8", "2019,activity,活動先への出向き・参加,100"],
    )
    dry = await run(store, "baseline", fix, dry_run=True)
    assert dry.ok and dry.counts.baseline_replaced == 2
    assert "would replace" in format_report(dry)
    again = await run(store, "baseline", fix)
    assert again.ok and (again.counts.baseline_rows, again.counts.baseline_replaced) == (2, 2)
    assert format_report(again).startswith(
        "imported 2 baseline counts (2 replaced a count of an earlier baseline import) from fy2019-fixed.csv"
    )
    rows = await baseline_rows(store)
    assert len(rows) == 7
    assert (2019, "consulter_category", "volunteer/other", 8, again.import_id) in rows
    assert (2019, "activity", "outing", 100, again.import_id) in rows
    assert (2019, "consulter_category", "individual/other", 4, first) in rows


async def test_baseline_errors(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.csv",
        [
            BASELINE_HEADER,
            "2019,consulter_category,volunteer/その他,3",
            "2019,consulter_category,volunteer/other,4",
            "1988,outcome,x,-1",
            "2027,consulter_category,その他,",
            "令和元年度,consulter_category,council/その他,1",
            "2019,activity,nothing,100000001",
            "2019,,outing,1",
        ],
    )
    report = await run(store, "baseline", path)
    assert report.errors == [
        "line 3, column category: the same fiscal year, dimension and category as line 2 (volunteer/other)",
        "line 4, column fiscal_year: must be from 1989 to 2026 (1988)",
        "line 4, column dimension: must be one of activity, destination, channel, consulter, topic, agency, "
        "consulter_category (outcome)",
        "line 4, column count: must be a whole number from 0 to 100000000 (-1)",
        "line 5, column fiscal_year: must be from 1989 to 2026 (2027)",
        "line 5, column category: must be group/sub-category (codes or labels), like volunteer/other (その他)",
        "line 5, column count: required, but empty",
        "line 6, column fiscal_year: not a fiscal year like 2019 or FY2019 (令和元年度)",
        "line 6, column category: not a consulter group and one of its sub-categories (council/その他)",
        "line 7, column category: not a code or label of activity (nothing)",
        "line 7, column count: must be a whole number from 0 to 100000000 (100000001)",
        "line 8, column dimension: required, but empty",
    ]
    assert await table_counts(store) == EMPTY


# ---- fuzzing: garbage never crashes the validator and never writes part of a file ----

VALID_CELLS: dict[str, list[str]] = {
    "kind": ["outing", "consultation"],
    "date": ["2020/6/1", "2019-04-01", "2026-11-23"],
    "staff": ["山田", "Suzuki"],
    "area": ["sakaino", "境野"],
    "activity": ["outing", ""],
    "destination": ["個人", ""],
    "headcount": ["", "3"],
    "channel": ["phone", ""],
    "consulter": ["volunteer", ""],
    "consulter_category": ["", "その他"],
    "topic": ["", "ibasho"],
    "agencies": ["", "children|elderly"],
    "at_outing": ["", "yes", "no"],
}
COLUMNS = list(VALID_CELLS)
garbage = st.text(max_size=12) | st.sampled_from(
    ["\x00", '"', "\r", "\n", ",", "|", "|x|", "2020/2/29", "2019/2/29", "-0", "１２", "Yes", " outing "]
)


def cell(column: str) -> st.SearchStrategy[str]:
    return st.sampled_from(VALID_CELLS[column]) | garbage


rows_strategy = st.lists(st.tuples(*(cell(c) for c in COLUMNS)), min_size=1, max_size=8)


async def import_in_fresh_store(folder: Path, data: bytes, kind: ImportKind) -> tuple[ImportReport, dict[str, int]]:
    (folder / "db.sqlite3").unlink(missing_ok=True)
    path = folder / "fuzz.csv"
    path.write_bytes(data)
    store = await Store.open(folder / "db.sqlite3")
    try:
        report = await import_file(store, TAXONOMY, kind, path, dry_run=False, today=TODAY, now=NOW)
        return report, await table_counts(store)
    finally:
        await store.close()


def check_all_or_nothing(report: ImportReport, counts: dict[str, int]) -> None:
    format_report(report)
    if report.ok:
        assert counts["outings"] == report.counts.outings
        assert counts["consultations"] == report.counts.consultations
        assert counts["consultation_agencies"] == report.counts.agency_links
        assert counts["baseline_counts"] == report.counts.baseline_rows
        assert counts["imports"] == 1
    else:
        assert report.errors
        assert counts == EMPTY


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy, bom=st.booleans())
def test_garbage_cells_never_crash_and_never_write_part_of_a_file(rows: list[tuple[str, ...]], bom: bool) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    data = buffer.getvalue().encode("utf-8-sig" if bom else "utf-8")
    with tempfile.TemporaryDirectory() as folder:
        report, counts = asyncio.run(import_in_fresh_store(Path(folder), data, "records"))
    check_all_or_nothing(report, counts)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["records", "baseline"]),
    prefix=st.sampled_from([b"", (RECORD_HEADER + "\n").encode(), (BASELINE_HEADER + "\n").encode()]),
    data=st.binary(max_size=400),
)
def test_random_bytes_never_crash_the_import(kind: ImportKind, prefix: bytes, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        report, counts = asyncio.run(import_in_fresh_store(Path(folder), prefix + data, kind))
    check_all_or_nothing(report, counts)


# ---- streaming ----

STREAM_ROWS = 50_000


def generate_records(path: Path, rows: int, seed: int = 7) -> None:
    pick = random.Random(seed)
    areas = [a.label for a in TAXONOMY.areas()]
    activities = [c.label for c in TAXONOMY.activity]
    destinations = [c.label for c in TAXONOMY.destination]
    channels = [c.code for c in TAXONOMY.channel]
    groups = [c.code for c in TAXONOMY.consulter]
    topics = [c.label for c in TAXONOMY.topic]
    agencies = [c.code for c in TAXONOMY.agency]
    staff = [f"職員{n:03d}" for n in range(40)]
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\r\n")
        writer.writerow(RECORD_HEADER.split(","))
        for n in range(rows):
            day = date.fromordinal(date(2015, 4, 1).toordinal() + n % 3650).strftime("%Y/%-m/%-d")
            if n % 5 < 2:
                outing = [pick.choice(staff), pick.choice(areas), pick.choice(activities), pick.choice(destinations)]
                writer.writerow(["outing", day, *outing, str(pick.randint(0, 40)), "", "", "", "", "", ""])
            else:
                group = pick.choice(groups)
                categories = [c.label for c in TAXONOMY.categories_of(group)]
                who = [pick.choice(staff), pick.choice(areas), "", "", "", pick.choice(channels), group]
                category = pick.choice(categories) if categories else ""
                links = "|".join(pick.sample(agencies, pick.randint(0, 3)))
                topic = pick.choice(topics) if group == TAXONOMY.agency_group else ""
                writer.writerow(["consultation", day, *who, category, topic, links, ""])


class SpyStream:
    """A binary file that remembers the largest single read, to show nothing reads the file whole."""

    largest = 0
    reads = 0

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _seen(self, data: bytes) -> bytes:
        SpyStream.largest = max(SpyStream.largest, len(data))
        SpyStream.reads += 1
        return data

    def read(self, size: int = -1) -> bytes:
        assert size > 0, "the whole file was asked for"
        return self._seen(self._stream.read(size))

    def readline(self, size: int = -1) -> bytes:
        assert size > 0, "an unbounded line was asked for"
        return self._seen(self._stream.readline(size))

    def __enter__(self) -> SpyStream:
        return self

    def __exit__(self, *_: object) -> None:
        self._stream.close()


class SpyPath(type(Path())):  # type: ignore[misc]
    def open(self, *args: Any, **kwargs: Any) -> Any:
        return SpyStream(super().open(*args, **kwargs))


def validator_peak(path: Path, rows: int) -> tuple[int, int]:
    """The peak of Python allocations while validating a file, and the rows it yielded (all valid)."""
    source = inspect_file(path)
    tracemalloc.start()
    try:
        errors = ErrorList()
        total = sum(1 for _ in RecordsReader(source, TAXONOMY, today=TODAY, errors=errors))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (total, errors.total) == (rows, 0)
    return peak, total


async def test_a_large_file_is_streamed_not_read_whole(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "large.csv"
    generate_records(path, STREAM_ROWS)
    size = path.stat().st_size
    assert size > 5_000_000

    # The validator reads line by line: its memory does not grow with the file. Compared with a file a tenth
    # the size (a fixed fraction of one file's size was a flaky margin: the fixed overhead is most of the peak).
    small = tmp_path / "small.csv"
    generate_records(small, STREAM_ROWS // 10)
    peak_small, _ = validator_peak(small, STREAM_ROWS // 10)
    peak, total = validator_peak(path, STREAM_ROWS)
    assert total == STREAM_ROWS
    growth_per_row = (peak - peak_small) / (STREAM_ROWS - STREAM_ROWS // 10)
    assert growth_per_row < 2, (peak_small, peak)  # reading the file whole would add its ~120 bytes a row
    assert peak < 2 * peak_small, (peak_small, peak)

    # The whole import (hash, validation, batched writes in one transaction) reads the file in small pieces.
    SpyStream.largest = SpyStream.reads = 0
    started = time.perf_counter()
    report = await run(store, "records", SpyPath(path))
    elapsed = time.perf_counter() - started
    assert report.ok, report.errors[:5]
    assert SpyStream.reads > 2 * STREAM_ROWS  # hashed in chunks, then validated and written line by line
    assert SpyStream.largest <= CHUNK
    assert report.counts.outings + report.counts.consultations == STREAM_ROWS
    assert await count(store, "outings") + await count(store, "consultations") == STREAM_ROWS
    assert await count(store, "consultation_agencies") == report.counts.agency_links
    assert report.counts.new_staff == 40
    print(
        f"\n{STREAM_ROWS} rows, {size / 1e6:.1f} MB: imported at {STREAM_ROWS / elapsed:,.0f} rows/s; "
        f"validator peak {peak / 1e6:.2f} MB traced"
    )


# ---- the same rows twice, and records that are already here (issue 13, finding 11) ----


def saved_again(lines: Sequence[str]) -> list[str]:
    """A records file as a spreadsheet may save it again: columns in another order and two empty ones after
    them, rows sorted another way, dates as 2020/6/2, full-width digits, no blank lines."""
    rows = [r for r in csv.reader(lines) if any(r)]
    header, body = rows[0], rows[1:]
    order = sorted(range(len(header)), key=lambda i: header[i], reverse=True)
    retyped = {"2020-06-02": "2020/6/2", "12": "１２"}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*(header[i] for i in order), "", ""])
    for row in sorted(body, key=lambda r: (r[1], r[0]), reverse=True):
        writer.writerow([*(retyped.get(row[i], row[i]) for i in order), "", ""])
    return out.getvalue().splitlines()


def same_rows_message(path: Path, import_id: int | None, first_name: str, kind: str = "records") -> str:
    return (
        f"{path.name}: the same rows were already imported ({kind} import #{import_id} at "
        f"2026-11-23T01:00:00.000000Z, from {first_name}); importing them again would count them twice, "
        "so nothing was written"
    )


async def test_the_same_rows_saved_again_by_a_spreadsheet_are_refused_as_a_duplicate(
    store: Store, tmp_path: Path
) -> None:
    first = await run(store, "records", write(tmp_path / "records.csv", MIXED))
    assert first.ok, first.errors
    before = await table_counts(store)
    again = [
        write(tmp_path / "excel.csv", MIXED, encoding="cp932", newline="\r\n"),
        write(tmp_path / "bom.csv", MIXED, encoding="utf-8-sig", newline="\r\n"),
        write(tmp_path / "resaved.csv", saved_again(MIXED), encoding="cp932", newline="\r\n"),
        write(tmp_path / "resaved-utf8.csv", saved_again(MIXED), encoding="utf-8-sig"),
    ]
    for path in again:
        for dry_run in (True, False):
            report = await run(store, "records", path, dry_run=dry_run)
            assert not report.ok, (path.name, dry_run)
            assert report.already_imported is not None and report.already_imported.import_id == first.import_id
            assert report.errors == [same_rows_message(path, first.import_id, "records.csv")]
            assert format_report(report) == f"import records: {report.errors[0]}"
    assert await table_counts(store) == before


async def test_a_file_with_one_cell_changed_is_not_a_duplicate(store: Store, tmp_path: Path) -> None:
    assert (await run(store, "records", write(tmp_path / "records.csv", MIXED))).ok
    changed = [line.replace("子ども食堂,12,", "子ども食堂,13,") for line in MIXED]
    assert changed != MIXED
    report = await run(store, "records", write(tmp_path / "changed.csv", changed, encoding="cp932", newline="\r\n"))
    assert report.ok, report.errors
    assert (report.counts.outings, report.counts.consultations) == (2, 3)
    assert (await table_counts(store))["outings"] == 4


async def test_a_baseline_file_saved_again_is_refused_and_a_corrected_one_is_not(store: Store, tmp_path: Path) -> None:
    lines = [BASELINE_HEADER, "2019,agency,子ども政策課,9", "2019,activity,outing,30"]
    first = await run(store, "baseline", write(tmp_path / "fy2019.csv", lines))
    assert first.ok, first.errors
    resaved = write(
        tmp_path / "fy2019 (2).csv",
        ["count,category,dimension,fiscal_year", "30,outing,activity,FY2019", "9,children,agency,2019"],
        encoding="cp932",
        newline="\r\n",
    )
    report = await run(store, "baseline", resaved)
    assert report.errors == [same_rows_message(resaved, first.import_id, "fy2019.csv", "baseline")]
    corrected = write(tmp_path / "fy2019-fixed.csv", [*lines[:2], "2019,activity,outing,31"])
    assert (await run(store, "baseline", corrected)).ok


async def export_year(store: Store, path: Path, year: int = 2020) -> Path:
    period = fiscal_year(year)
    await write_csv(export_rows(store.db, period.start, period.end), TAXONOMY, path)
    return path


def exported_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a records export by column name (the file's headers are Japanese)."""
    names = {record_header(column): column for column in EXPORT_COLUMNS}
    with path.open(encoding="utf-8-sig", newline="") as source:
        return [{names[k]: v for k, v in row.items()} for row in csv.DictReader(source)]


async def test_an_export_imported_into_its_own_database_adds_nothing(store: Store, tmp_path: Path) -> None:
    assert (await run(store, "records", write(tmp_path / "records.csv", MIXED))).ok
    before = await table_counts(store)
    exported = await export_year(store, tmp_path / "fy2020.csv")
    rows = exported_rows(exported)
    assert len(rows) == 5 and len({r["record_id"] for r in rows}) == 5

    dry = await run(store, "records", exported, dry_run=True)
    assert dry.ok, dry.errors
    assert (dry.counts.outings, dry.counts.consultations, dry.counts.already_present) == (0, 0, 5)
    report = await run(store, "records", exported)
    assert report.ok, report.errors
    assert await table_counts(store) == {**before, "imports": before["imports"] + 1}
    counts = report.counts
    assert (counts.outings, counts.consultations, counts.agency_links, counts.already_present) == (0, 0, 0, 5)
    assert format_report(report).splitlines()[1:] == [
        "5 records already in the database were skipped (the same record_id): an import never changes them"
    ]
    assert format_report(dry).splitlines()[1:] == [
        "5 records already in the database would be skipped (the same record_id): an import never changes them"
    ]
    # The records keep their ids: the database exports as before.
    assert exported_rows(await export_year(store, tmp_path / "again.csv")) == rows

    # Rows added to an export (their record_id left empty) are imported; the exported ones are not.
    added = exported.read_text(encoding="utf-8-sig").rstrip("\r\n").splitlines()
    added.append("outing,2020-07-01,Suzuki,chuo,outing,個人,3,,,,,,,,,")
    report = await run(store, "records", write(tmp_path / "added.csv", added, encoding="utf-8-sig"))
    assert report.ok, report.errors
    assert (report.counts.outings, report.counts.consultations, report.counts.already_present) == (1, 0, 5)
    assert "1 record already" not in format_report(report)


async def test_an_export_imported_into_another_database_adds_its_rows_once(store: Store, tmp_path: Path) -> None:
    assert (await run(store, "records", write(tmp_path / "records.csv", MIXED))).ok
    exported = await export_year(store, tmp_path / "fy2020.csv")
    other = await Store.open(tmp_path / "other council.sqlite3")
    try:
        first = await run(other, "records", exported)
        assert first.ok, first.errors
        counts = first.counts
        assert (counts.outings, counts.consultations, counts.agency_links, counts.already_present) == (2, 3, 4, 0)
        assert "already" not in format_report(first)
        after = await table_counts(other)
        assert (after["outings"], after["consultations"], after["consultation_agencies"]) == (2, 3, 4)
        for again in (
            exported,
            write(tmp_path / "excel.csv", exported.read_text("utf-8-sig").splitlines(), encoding="cp932"),
        ):
            report = await run(other, "records", again)
            assert not report.ok and report.already_imported is not None
        assert await table_counts(other) == after
        # The rows keep their record ids: the other database's export is the same, and adds nothing back here.
        back = await export_year(other, tmp_path / "from other.csv")
        assert exported_rows(back) == exported_rows(exported)
    finally:
        await other.close()
    before = await table_counts(store)
    report = await run(store, "records", back)
    assert report.ok and report.counts.already_present == 5
    assert await table_counts(store) == {**before, "imports": before["imports"] + 1}


async def test_record_ids_are_checked(store: Store, tmp_path: Path) -> None:
    header = RECORD_HEADER + ",record_id"
    path = write(
        tmp_path / "ids.csv",
        [
            header,
            "outing,2020-06-01,Suzuki,chuo,outing,個人,,,,,,,,o-1",
            "outing,2020-06-02,Suzuki,chuo,outing,個人,,,,,,,,o-1",
            "consultation,2020-06-02,Suzuki,chuo,,,,phone,individual,,,,,c-\x07",
            "consultation,2020-06-02,Suzuki,chuo,,,,phone,individual,,,,," + "c" * 101,
        ],
    )
    report = await run(store, "records", path)
    assert report.errors == [
        "line 3, column record_id: the same record_id as line 2 (o-1)",
        "line 4, column record_id: an id with control characters (c-\\x07)",
        f"line 5, column record_id: an id longer than 100 characters ({'c' * 60}…)",
    ]
    assert await table_counts(store) == EMPTY


async def test_records_saved_before_and_after_the_migration_have_record_ids(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT)"
        )
        for version, name, sql in migrations()[:5]:
            connection.executescript(sql)
            connection.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name))
        connection.execute("INSERT INTO staff (id, name, role, created_at) VALUES (1, 'x', 'staff', '')")
        for day in ("2020-06-01", "2020-06-02"):
            connection.execute(
                "INSERT INTO outings (staff_id, date, area, activity, destination, created_at) "
                "VALUES (1, ?, 'chuo', 'outing', 'individual', '')",
                (day,),
            )
            connection.execute(
                "INSERT INTO consultations (staff_id, date, area, channel, consulter, at_outing, created_at) "
                "VALUES (1, ?, 'chuo', 'phone', 'individual', 0, '')",
                (day,),
            )
    store = await Store.open(path)
    try:
        await store.db.execute(
            "INSERT INTO outings (staff_id, date, area, activity, destination, created_at) "
            "VALUES (1, '2020-06-03', 'chuo', 'outing', 'individual', '')"
        )
        outings = [r[0] for r in await store.db.fetchall("SELECT record_id FROM outings ORDER BY id")]
        consultations = [r[0] for r in await store.db.fetchall("SELECT record_id FROM consultations")]
    finally:
        await store.close()
    assert len(set(outings)) == 3 and len(set(consultations)) == 2
    assert all(re.fullmatch("o-[0-9a-f]{32}", r) for r in outings), outings
    assert all(re.fullmatch("c-[0-9a-f]{32}", r) for r in consultations), consultations


# ---- consultations from agencies, referrals, history without area or channel ----

AGENCY_HEADER = "kind,date,staff,area,channel,consulter,consulter_category,topic,agencies,from_agency,referrals"


async def test_from_agency_topic_and_referrals_columns_are_imported(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "agency.csv",
        [
            AGENCY_HEADER + ",activity,destination",
            # The older column agencies: one agency on a row of 関係機関からの相談 is the agency that consulted.
            "consultation,2020/6/1,山田,境野,phone,関係機関からの相談,,居場所づくりに関する事,子ども政策課,,,,",
            # from_agency and referrals: who consulted, and where the consultation was connected to.
            "consultation,2020/6/2,山田,境野,phone,agency,,case,,elderly,houkatsu|地域支援課,,",
            # On a row of this group, agencies beside from_agency are referrals too; several are always referrals.
            "consultation,2020/6/3,山田,境野,phone,agency,,,kosha,children,,,",
            "consultation,2020/6/4,山田,境野,phone,agency,,,children|elderly,,,,",
            # Another group: agencies and referrals are referrals.
            "consultation,2020/6/5,山田,境野,phone,volunteer,,,civic,,children,,",
        ],
    )
    report = await run(store, "records", path)
    assert report.ok, report.errors
    assert (report.counts.consultations, report.counts.agency_links) == (5, 7)
    joined = store.db.dialect.string_agg("agency", "'|'")
    rows = await store.db.fetchall(
        "SELECT c.consulter, c.from_agency, c.topic, "
        f"(SELECT {joined} FROM (SELECT agency FROM consultation_agencies a "
        "WHERE a.consultation_id = c.id ORDER BY agency) AS linked) FROM consultations c ORDER BY c.date"
    )
    assert [tuple(r) for r in rows] == [
        ("agency", "children", "ibasho", None),
        ("agency", "elderly", "case", "community|houkatsu"),
        ("agency", "children", None, "kosha"),
        ("agency", None, None, "children|elderly"),
        ("volunteer", None, None, "children|civic"),
    ]


async def test_from_agency_or_topic_on_a_row_of_another_group_is_an_error(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad agency.csv",
        [
            AGENCY_HEADER + ",activity,destination",
            "consultation,2020/6/1,山田,境野,phone,volunteer,,居場所づくりに関する事,,子ども政策課,,,",
            "consultation,2020/6/1,山田,境野,phone,agency,,nothing,,children|elderly,city,,",
            "consultation,2020/6/1,山田,境野,phone,agency,,,,children,children,,",
        ],
    )
    report = await run(store, "records", path)
    assert report.errors == [
        "line 2, column from_agency: must be empty on a row of consulter group volunteer (only group agency has it) "
        "(子ども政策課)",
        "line 2, column topic: must be empty on a row of consulter group volunteer (only group agency has it) "
        "(居場所づくりに関する事)",
        "line 3, column topic: not a code or label of a topic (nothing)",
        "line 3, column from_agency: one agency only (the agency that consulted) (children|elderly)",
        "line 3, column referrals: not a code or label of an agency (city)",
    ]
    assert await table_counts(store) == EMPTY


async def test_history_without_area_or_channel_is_counted_as_unknown(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "old.csv",
        [
            "kind,date,staff,activity,destination,consulter",  # no area, no channel: an old council file
            "outing,2019/6/1,山田,outing,個人,",
            "consultation,2019/6/1,山田,,,individual",
        ],
    )
    report = await run(store, "records", path)
    assert report.ok, report.errors
    areas = await store.db.fetchall("SELECT area FROM outings UNION ALL SELECT area || channel FROM consultations")
    assert [r[0] for r in areas] == ["?", "??"]
    assert TAXONOMY.area_label("?") == TAXONOMY.channel.label("?") == "不明"
    counts = await store.tallies.counts(date(2019, 4, 1), date(2020, 3, 31))
    assert counts.channel == {"?": 1}


async def test_japanese_headers_and_values_of_an_export_are_read(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "japanese.csv",
        [
            "種別,日付,担当者,地域,活動内容,支援先,参加人数,相談経路,相談者種別,相談者種別の内訳,相談元の関係機関,"
            "相談内容,つなぎ先,出向き先で受けた相談,記録ID",
            "出向き,2020-06-01,山田,境野,outing,個人,3,,,,,,,,",
            "相談,2020-06-01 00:00:00,山田,不明,,,,不明,関係機関からの相談,,子ども政策課,その他,高齢者支援課,はい,",
        ],
    )
    report = await run(store, "records", path)
    assert report.ok, report.errors
    row = await store.db.fetchone("SELECT date, area, channel, from_agency, topic, at_outing FROM consultations")
    assert row is not None and tuple(row) == ("2020-06-01", "?", "?", "children", "other", 1)


async def test_a_records_export_imported_into_an_empty_database_gives_the_same_report_counts(
    store: Store, tmp_path: Path
) -> None:
    from demo.seed import seed as seed_demo
    from services.reporting import Reporter

    await seed_demo(store, TAXONOMY, TODAY, ZoneInfo("Asia/Tokyo"))
    # History with neither area nor channel (counted as 不明), exported as 不明 and read back as such.
    old = write(
        tmp_path / "old.csv", ["kind,date,staff,activity,destination,consulter", "consultation,2025/6/1,山田,,,agency"]
    )
    assert (await run(store, "records", old)).ok
    year = fiscal_year(2025)
    csv_path = await export_year(store, tmp_path / "fy2025.csv", 2025)
    xlsx_path = tmp_path / "fy2025.xlsx"
    await write_xlsx(export_rows(store.db, year.start, year.end), TAXONOMY, xlsx_path, year.label)
    resaved = write(tmp_path / "fy2025 from xlsx.csv", [], encoding="utf-8-sig")
    with resaved.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        for values in openpyxl.load_workbook(xlsx_path).worksheets[0].iter_rows(values_only=True):
            writer.writerow("" if v is None else v for v in values)
    before = await Reporter(store, TAXONOMY).counts(year)
    assert sum(before.agency.values()) == before.consulter["agency"] > 50 and before.referral and before.topic
    assert before.agency.get("?") == before.topic.get("?") == 1 and before.channel.get("?") == 1
    for source in (csv_path, resaved):
        fresh = await Store.open(tmp_path / f"empty {source.stem}.sqlite3")
        try:
            report = await run(fresh, "records", source)
            assert report.ok, report.errors[:5]
            after = await Reporter(fresh, TAXONOMY).counts(year)
            for name in ("activity", "destination", "channel", "consulter", "topic", "agency", "referral"):
                assert after.dimension(name) == before.dimension(name), name
            assert after.consulter_category == before.consulter_category
            assert (after.outings, after.consultations, after.at_outing) == (
                before.outings,
                before.consultations,
                before.at_outing,
            )
        finally:
            await fresh.close()


async def test_an_import_never_reuses_the_ids_of_records_undone_before_it(store: Store, tmp_path: Path) -> None:
    """Migration 0008: ids are never reused. An outing and its consultation saved and undone leave their ids behind
    for good: an import after them takes new ones (an export of the undone record would otherwise name a record
    the import made)."""
    staff = await store.staff.ensure_admin(1, NOW)
    await seed.outing(store, staff.id, TODAY, consultations=(seed.consultation(),))
    saved = await store.db.fetchone("SELECT max(id) FROM submissions")
    ids = await store.db.fetchone("SELECT max(o.id), max(c.id) FROM outings o, consultations c")
    assert saved is not None and ids is not None
    async with store.db.transaction() as tx:
        assert await store.records.delete_submission(tx, int(saved[0]), staff.id)
    report = await run(store, "records", write(tmp_path / "records.csv", MIXED))
    assert report.ok, report.errors
    outing_ids = [int(r[0]) for r in await store.db.fetchall("SELECT id FROM outings")]
    consultation_ids = [int(r[0]) for r in await store.db.fetchall("SELECT id FROM consultations")]
    assert outing_ids and min(outing_ids) > int(ids[0])
    assert consultation_ids and min(consultation_ids) > int(ids[1])
