"""Many councils on one machine: `fieldbot council add|list|disable|enable` and `fieldbot report --council`."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import stat
from collections.abc import Iterator
from datetime import date
from importlib import resources
from pathlib import Path

import asyncpg
import openpyxl
import pytest

from bot.councils import council_settings, folder, make_folder, open_council_store, registry
from bot.settings import Settings, load_settings
from core.councils import Council
from core.models import Role
from tests import seed
from tests.harness import ADMIN_ID, running
from tests.pg import Cluster, run_aside
from tests.terminal import Cli, cli_fixture

TOKEN_A = "123456:" + "A" * 35
TOKEN_B = "654321:" + "B" * 35
DEFAULT = resources.files("core").joinpath("default_taxonomy.toml").read_text(encoding="utf-8")
INFO = '[[activity]]\ncode = "info"\nlabel = "情報提供"\norder = 4\n\n'


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    runs = cli_fixture(tmp_path, monkeypatch)
    run = next(runs)  # the fixture clears every setting first
    monkeypatch.setenv("COUNCILS_DIR", str(tmp_path / "councils"))
    yield run


def _file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _city(cli: Cli, tmp_path: Path) -> None:
    """市社協 over 北区 (the built-in categories) and 南区 (without 情報提供)."""
    assert cli("council", "add", "city", "--name", "市社会福祉協議会").code == 0
    kita = ("council", "add", "kita", "--name", "北区社会福祉協議会", "--short", "北区", "--parent", "city")
    assert cli(*kita, "--token-file", _file(tmp_path, "a.token", TOKEN_A)).code == 0
    minami_taxonomy = _file(tmp_path, "minami.toml", DEFAULT.replace(INFO, ""))
    minami = ("council", "add", "minami", "--name", "南区社会福祉協議会", "--short", "南区", "--parent", "city")
    assert cli(*minami, "--taxonomy", minami_taxonomy, "--token-file", _file(tmp_path, "b.token", TOKEN_B)).code == 0


def _seed(code: str, outings: list[tuple[str, int]]) -> None:
    asyncio.run(_seed_council(load_settings(), code, outings))


async def _seed_council(settings: Settings, code: str, outings: list[tuple[str, int]]) -> None:
    """Outings of one council (activity, how many) in FY2026, saved through its own store, on whichever engine
    the deployment's settings name."""
    own = council_settings(settings, code)
    store = await open_council_store(own, own.sealer())
    try:
        staff = await store.staff.ensure_admin(1, seed.STAMP)
        for activity, n in outings:
            for i in range(n):
                await seed.outing(store, staff.id, date(2026, 5, 1 + i), activity=activity)
    finally:
        await store.close()


def test_add_makes_a_council_with_its_own_key_database_and_token(cli: Cli, tmp_path: Path) -> None:
    _city(cli, tmp_path)
    settings = load_settings()
    kita, minami = folder(settings, "kita"), folder(settings, "minami")
    for where in (kita, minami):
        assert (where / "fieldbot.sqlite3").is_file()
        for secret in ("field.key", "bot.token"):
            assert stat.S_IMODE((where / secret).stat().st_mode) == 0o600
    assert (kita / "field.key").read_text() != (minami / "field.key").read_text()
    assert council_settings(settings, "kita").token() == TOKEN_A
    assert council_settings(settings, "minami").token() == TOKEN_B
    assert council_settings(settings, "kita").database_path != council_settings(settings, "minami").database_path
    listed = cli("council", "list").out.splitlines()
    assert listed == [
        "city\t市社会福祉協議会\t稼働中",
        "kita\t北区社会福祉協議会（city の下）\t稼働中",
        "minami\t南区社会福祉協議会（city の下）\t稼働中",
    ]


def test_add_refuses_what_would_not_start_and_leaves_nothing_behind(cli: Cli, tmp_path: Path) -> None:
    assert cli("council", "add", "city", "--name", "市社協").code == 0
    assert "すでに登録" in cli("council", "add", "city", "--name", "市社協").one_error()
    assert "登録されていません" in cli("council", "add", "kita", "--name", "北", "--parent", "nowhere").one_error()
    assert "使えません" in cli("council", "add", "Kita!", "--name", "北").one_error()
    assert "使えません" in cli("council", "add", "all", "--name", "全部").one_error()
    bad = _file(tmp_path, "bad.token", "not a token")
    assert "トークンの形" in cli("council", "add", "kita", "--name", "北", "--token-file", bad).one_error()
    assert not folder(load_settings(), "kita").exists()
    assert [line.split("\t")[0] for line in cli("council", "list").out.splitlines()] == ["city"]


def test_without_councils_dir_the_command_says_it_is_one_council(cli: Cli) -> None:
    result = cli("council", "list", COUNCILS_DIR=None)
    assert "COUNCILS_DIR" in result.one_error()


def test_city_report_sets_children_side_by_side_and_sums_them(cli: Cli, tmp_path: Path) -> None:
    _city(cli, tmp_path)
    _seed("kita", [("outing", 3), ("info", 2)])
    _seed("minami", [("outing", 4)])
    result = cli("report", "--council", "city", "--fy", "2026", "--format", "json")
    assert result.code == 0, result.err
    table = json.loads(result.out)
    assert table["members"] == ["kita", "minami"]
    assert table["columns"] == ["北区", "南区", "合計"]
    rows = {(r["section"], r["code"]): r["values"] for r in table["rows"]}
    assert rows[("totals", "outings")] == [5, 4, 9]
    assert rows[("activity", "outing")] == [3, 4, 7]
    assert rows[("activity", "info")] == [2, None, 2]  # 南区 does not count 情報提供: －, not 0
    assert table["title"].startswith("【市社会福祉協議会")
    assert cli("report", "--council", "all", "--fy", "2026", "--format", "json").out == result.out
    text = cli("report", "--council", "city", "--fy", "2026").out
    assert "・情報提供\u3000合計 2件／北区 2件" in text
    assert "※「－」はその社協の分類にない項目です（0件ではありません）" in text


def test_city_report_files_write_every_cell_and_the_dash(cli: Cli, tmp_path: Path) -> None:
    _city(cli, tmp_path)
    _seed("kita", [("info", 1)])
    out = tmp_path / "city.csv"
    assert cli("report", "--council", "city", "--fy", "2026", "--format", "csv", "--out", str(out)).code == 0
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert ["区分", "項目", "北区", "南区", "合計"] in rows
    assert ["活動内容別", "情報提供", "1", "－", "1"] in rows
    book_path = tmp_path / "city.xlsx"
    assert cli("report", "--council", "city", "--fy", "2026", "--format", "xlsx", "--out", str(book_path)).code == 0
    sheet = openpyxl.load_workbook(book_path).active
    assert sheet is not None
    values = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    assert ["活動内容別", "情報提供", 1, "－", 1] in values


def test_a_council_without_children_gets_its_own_report_and_nothing_of_the_others(cli: Cli, tmp_path: Path) -> None:
    _city(cli, tmp_path)
    _seed("kita", [("outing", 3)])
    _seed("minami", [("outing", 4)])
    report = json.loads(cli("report", "--council", "kita", "--fy", "2026", "--format", "json").out)
    assert report["totals"]["outings"]["count"] == 3
    report = json.loads(cli("report", "--council", "minami", "--fy", "2026", "--format", "json").out)
    assert report["totals"]["outings"]["count"] == 4


def test_a_disabled_council_leaves_the_city_table(cli: Cli, tmp_path: Path) -> None:
    _city(cli, tmp_path)
    _seed("kita", [("outing", 3)])
    _seed("minami", [("outing", 4)])
    assert cli("council", "disable", "minami").code == 0
    assert "minami\t南区社会福祉協議会（city の下）\t停止中" in cli("council", "list").out
    table = json.loads(cli("report", "--council", "city", "--fy", "2026", "--format", "json").out)
    assert table["members"] == ["kita"]
    assert cli("council", "enable", "minami").code == 0
    table = json.loads(cli("report", "--council", "city", "--fy", "2026", "--format", "json").out)
    assert table["members"] == ["kita", "minami"]
    assert "登録されていません" in cli("council", "disable", "nishi").one_error()


def test_council_report_refuses_options_it_cannot_honour(cli: Cli, tmp_path: Path) -> None:
    _city(cli, tmp_path)
    assert "--table" in cli("report", "--council", "city", "--fy", "2026", "--table", "staff").one_error()
    # A council without councils under it: its own report, tables included.
    _seed("kita", [("outing", 2)])
    table = cli("report", "--council", "kita", "--fy", "2026", "--table", "staff", "--format", "json")
    assert table.code == 0, table.err
    assert "staff" in json.loads(table.out)["tables"]
    assert "登録されていません" in cli("report", "--council", "nishi", "--fy", "2026").one_error()


def test_admin_commands_act_on_the_council_named(cli: Cli, tmp_path: Path) -> None:
    _city(cli, tmp_path)
    records = tmp_path / "records.csv"
    records.write_text("kind,date\n", encoding="utf-8")  # refused before it is read
    assert "--council" in cli("import", "records", str(records)).one_error()
    assert "--council" in cli("report", "--fy", "2026").one_error()
    assert "登録されていません" in cli("audit", "--council", "nishi").one_error()
    _seed("kita", [("outing", 2)])
    _seed("minami", [("outing", 4)])
    out = tmp_path / "kita.csv"
    assert cli("export", "--council", "kita", "--fy", "2026", "--out", str(out)).code == 0
    assert len(out.read_bytes().decode("utf-8-sig").splitlines()) == 3  # the header and kita's two outings
    assert cli("check", "--council", "kita").code == 0
    assert cli("check", "--council", "minami").code == 0


def test_run_needs_the_council_whose_bot_it_runs(cli: Cli, tmp_path: Path) -> None:
    _city(cli, tmp_path)
    assert "--council" in cli("run").one_error()
    assert "登録されていません" in cli("run", "--council", "nishi").one_error()


def _deployment(root: Path) -> None:
    """A register with 市社協 over 北区 and 南区 (南区 without 情報提供) and their databases, made directly."""
    settings = load_settings(_env_file=None, councils_dir=root)
    register = registry(settings)
    for code, name, short, parent, taxonomy in (
        ("city", "市社会福祉協議会", "", None, None),
        ("kita", "北区社会福祉協議会", "北区", "city", None),
        ("minami", "南区社会福祉協議会", "南区", "city", DEFAULT.replace(INFO, "")),
    ):
        source = None
        if taxonomy is not None:
            source = root.parent / f"{code}.toml"
            source.write_text(taxonomy, encoding="utf-8")
        make_folder(settings, code, taxonomy=source, token=None)
        register.add(Council(code, name, short, parent, True), seed.STAMP)


@pytest.mark.sqlite_only  # the wards are SQLite files this test makes (on PostgreSQL: the schema test below)
async def test_the_city_councils_admin_reads_the_wards_side_by_side_in_the_bot(tmp_path: Path) -> None:
    root = tmp_path / "councils"
    _deployment(root)
    await _seed_council(load_settings(_env_file=None, councils_dir=root), "kita", [("outing", 3), ("info", 2)])
    await _seed_council(load_settings(_env_file=None, councils_dir=root), "minami", [("outing", 4)])
    async with running(tmp_path, councils_dir=root, council_code="city") as h:
        admin = h.api.user(ADMIN_ID)
        await admin.send("/report")
        assert ["区社協合計（今年度）", "区社協合計（前年度）"] in admin.last.buttons  # type: ignore[union-attr]
        await admin.press("区社協合計（今年度）")
        text = admin.last.text  # type: ignore[union-attr]
        assert text.startswith("【市民社会福祉協議会　2社協合計】令和8年度（11/23まで）")
        assert "・活動記録\u3000合計 9件／北区 5件／南区 4件" in text
        assert "・情報提供\u3000合計 2件／北区 2件" in text
        assert "※「－」はその社協の分類にない項目です（0件ではありません）" in text

        supervisor = await h.register(4001, Role.SUPERVISOR)
        await supervisor.send("/report")
        assert all("区社協合計" not in b for row in supervisor.last.buttons for b in row)  # type: ignore[union-attr]

        registry(load_settings(_env_file=None, councils_dir=root)).set_enabled("minami", False)
        await admin.send("/report")
        await admin.press("区社協合計（今年度）")
        text = admin.last.text  # type: ignore[union-attr]
        assert "・活動記録\u3000合計 5件／北区 5件" in text and "南区" not in text


async def test_a_ward_council_has_no_city_table(tmp_path: Path) -> None:
    root = tmp_path / "councils"
    _deployment(root)
    async with running(tmp_path, councils_dir=root, council_code="kita") as h:
        admin = h.api.user(ADMIN_ID)
        await admin.send("/report")
        assert all("区社協合計" not in b for row in admin.last.buttons for b in row)  # type: ignore[union-attr]


def test_on_postgresql_each_council_has_its_own_schema_and_the_city_sums_them(
    cli: Cli, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    name = run_aside(cluster.create_database())
    request.addfinalizer(lambda: run_aside(cluster.drop_database(name)))
    monkeypatch.setenv("DATABASE_URL", cluster.url(name))
    _city(cli, tmp_path)
    for code, outings in (("kita", [("outing", 3), ("info", 2)]), ("minami", [("outing", 4)])):
        _seed(code, outings)
    table = json.loads(cli("report", "--council", "city", "--fy", "2026", "--format", "json").out)
    rows = {(r["section"], r["code"]): r["values"] for r in table["rows"]}
    assert rows[("totals", "outings")] == [5, 4, 9]
    assert rows[("activity", "info")] == [2, None, 2]
    assert not folder(load_settings(), "kita").joinpath("fieldbot.sqlite3").exists()  # the data is in PostgreSQL

    async def per_schema() -> dict[str, int]:
        connection = await asyncpg.connect(cluster.url(name))
        try:
            return {
                schema: await connection.fetchval(f"SELECT count(*) FROM {schema}.outings")
                for schema in ("council_city", "council_kita", "council_minami")
            }
        finally:
            await connection.close()

    assert run_aside(per_schema()) == {"council_city": 0, "council_kita": 5, "council_minami": 4}
    report = json.loads(cli("report", "--council", "minami", "--fy", "2026", "--format", "json").out)
    assert report["totals"]["outings"]["count"] == 4


def test_a_council_never_inherits_the_deployments_admins_or_digest_group(cli: Cli, tmp_path: Path) -> None:
    """ADMIN_TELEGRAM_IDS and DIGEST_CHAT_ID of the deployment (a .env from single-council days, say) would make one
    person admin of every council and send every council's counts to one group: each council has its own or none."""
    assert cli("council", "add", "kita", "--name", "北区", "--set", "ADMIN_TELEGRAM_IDS=111,222").code == 0
    assert cli("council", "add", "minami", "--name", "南区", "--set", "DIGEST_SCHEDULE=fri 17:00").code == 0
    deployment = load_settings(admin_telegram_ids="999", digest_chat_id="-100123", digest_schedule="mon 08:30")
    kita, minami = council_settings(deployment, "kita"), council_settings(deployment, "minami")
    assert kita.admin_telegram_ids == [111, 222] and minami.admin_telegram_ids == []
    assert kita.digest_chat_id is None and minami.digest_chat_id is None
    assert (kita.digest_schedule, minami.digest_schedule) == ("mon 08:30", "fri 17:00")  # a default: inherited
    assert (
        "council setting 'DATABASE_PATH'"
        in cli("council", "add", "nishi", "--name", "西区", "--set", "DATABASE_PATH=x").one_error()
    )
