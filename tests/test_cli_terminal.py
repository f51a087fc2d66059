"""The `fieldbot` command as an admin meets it at the terminal (operations review, issue 13).

In process, with a faked terminal and an injected clock: no subprocess, no wall-clock dependence.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from telegram.error import NetworkError

from bot.settings import DEFAULT_API_BASE_URL, load_settings
from cli.main import _why
from core.crypto import generate_key
from core.i18n import t
from core.taxonomy import load_taxonomy
from simulator.lineworks import make_key_pair
from tests.conftest import TEST_KEY
from tests.terminal import Cli, cli_fixture, make_database


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    yield from cli_fixture(tmp_path, monkeypatch)


RECORDS = (
    "kind,date,staff,area,activity,destination,channel,consulter,agencies\n"
    "outing,2025-06-02,山田 花子,kyonan,outing,salon-elderly,,,\n"
    "consultation,2025-06-03,山田 花子,kyonan,,,電話,volunteer,子ども政策課\n"
)


def records_file(tmp_path: Path) -> Path:
    path = tmp_path / "records.csv"
    path.write_text(RECORDS, encoding="utf-8")
    return path


# ---- 1. --demo, and read-only commands never create a database


def test_demo_option_reads_the_demo_database(cli: Cli, tmp_path: Path) -> None:
    demo = tmp_path / "data" / "demo"
    make_database(demo / "fieldbot.sqlite3")
    (demo / "encryption.key").write_text(TEST_KEY + "\n", encoding="ascii")
    imported = cli("--demo", "import", "records", str(records_file(tmp_path)), FIELD_ENCRYPTION_KEY=None)
    assert imported.code == 0, imported
    report = cli("--demo", "report", "--fy", "2025", "--format", "json", FIELD_ENCRYPTION_KEY=None)
    assert report.code == 0, report
    assert json.loads(report.out)["totals"]["outings"]["count"] == 1
    exported = cli("--demo", "export", "--fy", "2025", "--out", str(tmp_path / "fy2025.csv"))
    assert exported.code == 0 and (tmp_path / "fy2025.csv").is_file(), exported
    assert not (tmp_path / "council.sqlite3").exists()  # DATABASE_PATH is not the demo's
    # Without --demo, after `make run`: the one line says where the demo's data is read.
    plain = cli("report", "--fy", "2025", DATABASE_PATH=None).one_error()
    assert plain == "fieldbot: " + t("cli.no_database_demo", path=Path("data/fieldbot.sqlite3"), command="report")
    assert not (tmp_path / "data" / "fieldbot.sqlite3").exists()


def test_demo_option_without_demo_data_says_so(cli: Cli, tmp_path: Path) -> None:
    line = cli("--demo", "report", "--fy", "2025").one_error()
    assert line == "fieldbot: " + t("cli.no_demo_database", path=Path("data/demo/fieldbot.sqlite3"))
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["report", "--fy", "2025"],
        ["export", "--fy", "2025", "--out", "fy2025.csv"],
        ["audit"],
        ["check"],
        ["purge", "--dry-run"],
    ],
)
def test_read_only_commands_create_no_database(cli: Cli, tmp_path: Path, argv: list[str]) -> None:
    database = tmp_path / "data" / "fieldbot.sqlite3"
    result = cli(*argv, DATABASE_PATH=None)  # the default ./data/fieldbot.sqlite3
    assert t("cli.no_database", path=Path("data/fieldbot.sqlite3")) in result.err
    assert result.code != 0 and "Traceback" not in result.err
    assert not database.exists() and not (tmp_path / "fy2025.csv").exists()


def test_a_report_without_records_says_so_instead_of_zeros(cli: Cli, tmp_path: Path) -> None:
    make_database(tmp_path / "council.sqlite3")
    result = cli("report", "--fy", "2025")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert t("cli.report.empty", period="令和7年度", start="2025/04/01", end="2026/03/31") in lines
    assert t("cli.report.database", path=tmp_path / "council.sqlite3") in lines
    assert "0件" not in result.out
    assert json.loads(cli("report", "--fy", "2025", "--format", "json").out)["empty"] is True

    assert cli("import", "records", str(records_file(tmp_path))).code == 0
    assert "0件" not in cli("report", "--fy", "2025").out.splitlines()[0]
    assert any(line.startswith("・活動記録 1件") for line in cli("report", "--fy", "2025").out.splitlines())
    assert json.loads(cli("report", "--fy", "2025", "--format", "json").out)["empty"] is False


# ---- 2. check


def test_check_without_the_encryption_key_warns_and_fails(cli: Cli, tmp_path: Path) -> None:
    make_database(tmp_path / "council.sqlite3")
    missing = cli("check", FIELD_ENCRYPTION_KEY=None)
    assert missing.code != 0
    assert "fieldbot: " + t("cli.check.no_key") in missing.err.splitlines()
    other = cli("check", FIELD_ENCRYPTION_KEY=generate_key())
    assert other.one_error() == "fieldbot: " + t("cli.check.wrong_key", path=tmp_path / "council.sqlite3")
    fine = cli("check", FIELD_ENCRYPTION_KEY=TEST_KEY)
    assert fine.code == 0, fine
    assert fine.out.splitlines() == [
        t("cli.check.settings"),
        t("cli.check.taxonomy", origin=load_taxonomy().origin, zones=3, areas=13),
        t("cli.check.database", path=tmp_path / "council.sqlite3"),
    ]


def test_check_names_what_a_lineworks_bot_lacks_and_a_key_that_does_not_load(cli: Cli, tmp_path: Path) -> None:
    make_database(tmp_path / "council.sqlite3")
    partial = cli("check", FIELD_ENCRYPTION_KEY=TEST_KEY, LINEWORKS_BOT_ID="2000001")
    assert partial.code != 0 and "LINEWORKS_BOT_SECRET" in partial.one_error()
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key", encoding="utf-8")
    lineworks = {
        "LINEWORKS_BOT_ID": "2000001",
        "LINEWORKS_BOT_SECRET": "s",
        "LINEWORKS_CLIENT_ID": "c",
        "LINEWORKS_CLIENT_SECRET": "cs",
        "LINEWORKS_SERVICE_ACCOUNT": "svc@example",
        "LINEWORKS_PRIVATE_KEY_FILE": str(bad),
        "PUBLIC_URL": "https://bot.example.org",
    }
    wrong = cli("check", FIELD_ENCRYPTION_KEY=TEST_KEY, **lineworks)
    assert wrong.one_error() == "fieldbot: " + t("cli.check.lineworks_key", path=bad)
    bad.write_bytes(make_key_pair()[0])
    fine = cli("check", FIELD_ENCRYPTION_KEY=TEST_KEY, **lineworks)
    assert fine.code == 0, fine
    assert t("cli.check.lineworks", bot="2000001") in fine.out.splitlines()


# ---- 3. --zone by its label


def test_zone_is_accepted_by_code_or_label(cli: Cli, tmp_path: Path) -> None:
    make_database(tmp_path / "council.sqlite3")
    assert cli("import", "records", str(records_file(tmp_path))).code == 0
    by_code = cli("report", "--fy", "2025", "--zone", "west", "--format", "json")
    by_label = cli("report", "--fy", "2025", "--zone", "西部圏域", "--format", "json")
    assert by_code.code == by_label.code == 0, by_label
    assert by_code.out == by_label.out
    line = cli("report", "--fy", "2025", "--zone", "北部圏域").one_error()
    assert "北部圏域" in line and "east（東部圏域）" in line and "west（西部圏域）" in line


# ---- 4. binary output to a terminal


@pytest.mark.parametrize("fmt", ["xlsx", "png"])
def test_binary_formats_are_not_written_to_a_terminal(cli: Cli, tmp_path: Path, fmt: str) -> None:
    make_database(tmp_path / "council.sqlite3")
    refused = cli("report", "--fy", "2025", "--format", fmt, tty=True)
    assert refused.one_error() == "fieldbot: " + t("cli.binary_to_terminal", format=fmt)
    assert refused.data == b""
    piped = cli("report", "--fy", "2025", "--format", fmt, tty=False)
    assert piped.code == 0 and piped.data[:2] in (b"PK", b"\x89P")


# ---- 5. --chart


def test_chart_implies_png_and_refuses_another_format(cli: Cli, tmp_path: Path) -> None:
    make_database(tmp_path / "council.sqlite3")
    out = tmp_path / "agency.png"
    drawn = cli("report", "--fy", "2025", "--chart", "agency", "--out", str(out))
    assert drawn.code == 0, drawn
    assert out.read_bytes().startswith(b"\x89PNG")
    line = cli("report", "--fy", "2025", "--chart", "agency", "--format", "csv").one_error()
    assert line == "fieldbot: " + t("cli.report.chart_needs_png", format="csv")


# ---- 6. a fiscal year that has not begun


def test_a_fiscal_year_that_has_not_begun_is_refused(cli: Cli, tmp_path: Path) -> None:
    make_database(tmp_path / "council.sqlite3")
    line = cli("report", "--fy", "2027").one_error()
    assert line == "fieldbot: " + t(
        "cli.report.not_started", period="令和9年度", start="2027/04/01", today="2026/12/05"
    )
    assert cli("report", "--fy", "2026").code == 0
    # By the clock: on 1 April 2027 (Tokyo) it has begun.
    assert cli("report", "--fy", "2027", now=datetime(2027, 3, 31, 15, 0, tzinfo=UTC)).code == 0


# ---- 7. the Bot API unreachable


def test_an_unreachable_bot_api_names_the_setting_only_when_it_was_changed() -> None:
    default = load_settings(_env_file=None, telegram_api_base_url=DEFAULT_API_BASE_URL)
    line = _why(NetworkError("down"), default)
    assert "cannot reach the Bot API" in line and "TELEGRAM_API_BASE_URL" not in line
    custom = load_settings(_env_file=None, telegram_api_base_url="http://localhost:8081/bot")
    assert "TELEGRAM_API_BASE_URL" in _why(NetworkError("down"), custom)


# ---- 8. Japanese from the catalogue, labels for codes, clean names


def test_audit_lists_in_japanese_with_labels_and_clean_names(cli: Cli, tmp_path: Path) -> None:
    database = tmp_path / "council.sqlite3"
    make_database(database)
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO staff (id, telegram_id, name, role, zone, created_at) VALUES (7, 70, ?, 'admin', NULL, ?)",
            ("山田\u202e\u200b\n花子", "2026-01-01T00:00:00.000000Z"),
        )
        connection.executemany(
            "INSERT INTO audit (at, actor_id, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
            [
                ("2026-11-02T01:00:00.000000Z", 7, "followup.close", "followup:3", "connected"),
                ("2026-11-02T02:00:00.000000Z", 7, "staff.role", "staff:9", "supervisor west"),
                ("2026-11-02T03:00:00.000000Z", None, "memo.erase", "submission:4", "retention"),
            ],
        )
    result = cli("audit")
    assert result.code == 0, result
    assert result.out.splitlines() == [
        "2026-11-02 10:00:00  山田 花子（#7）  要フォローを完了  要フォロー #3  つないだ",
        "2026-11-02 11:00:00  山田 花子（#7）  職員の役割・圏域を変更  職員 #9  係長・課長・西部圏域",
        "2026-11-02 12:00:00  システム  記録のメモを消去  記録 #4  保存期間（RETENTION_DAYS）の経過",
    ]
    assert cli("audit", "--since", "2026-12-01").out.strip() == t("cli.audit.none")


def test_purge_speaks_japanese(cli: Cli, tmp_path: Path) -> None:
    make_database(tmp_path / "council.sqlite3")
    result = cli("purge", "--dry-run")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0].startswith("この端末の時計 ") and lines[0].endswith("（前回の夜間処理：なし）")
    assert lines[1:] == [t("cli.purge.followups_dry", days=365, count=0), t("cli.purge.memos_dry", days=365, count=0)]


def test_import_speaks_japanese(cli: Cli, tmp_path: Path) -> None:
    make_database(tmp_path / "council.sqlite3")
    source = records_file(tmp_path)
    first = cli("import", "records", str(source))
    assert first.code == 0, first
    what = t("cli.import.records_what", outings=1, consultations=1, links=1)
    assert first.out.splitlines()[0] == t("cli.import.done", file="records.csv", encoding="utf-8", what=what, id=1)
    again = cli("import", "records", str(source))
    assert again.code == 1 and again.out.startswith("取り込み（記録）：records.csv：このファイルは取り込み済みです")
    bad = tmp_path / "bad.csv"
    bad.write_text(RECORDS.replace("kyonan", "nowhere"), encoding="utf-8")
    failed = cli("import", "records", str(bad))
    assert failed.code == 1
    assert failed.out.splitlines()[0] == t("cli.import.failed", kind="記録", file="bad.csv", count=2, dry="")


# ---- 9. documentation


def test_readme_and_help_document_the_terminal(cli: Cli) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for needle in ("fieldbot --demo report", "chmod 600 .env", "record_id", "leading `'`", "re-importing an export"):
        assert needle in readme, needle
    usage = cli("purge", "--help")
    assert usage.code == 0 and "memo" in usage.out and "RETENTION_DAYS" in usage.out
