"""Two councils (their own bots, tokens, taxonomies, keys and databases) behind one `fieldbot serve` and two
`fieldbot work` processes: flows in both, a worker SIGKILLed mid-save, a city report summing both; nothing lost,
doubled or leaked from one council to the other."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from bot.councils import make_folder, registry, write_own
from bot.settings import load_settings
from core.councils import Council
from core.models import Role
from simulator.botapi import LocalBotApi, SimUser
from tests.conftest import TEST_KEY
from tests.harness import ADMIN_ID, integrity, prepare_database
from tests.test_serve_processes import Fieldbot, begin_outing, free_port, until

pytestmark = pytest.mark.slow

TOKEN_KITA = "111111:" + "K" * 35
TOKEN_MINAMI = "222222:" + "M" * 35
KITA_STAFF, MINAMI_STAFF = 3001, 3002
DEFAULT = resources.files("core").joinpath("default_taxonomy.toml").read_text(encoding="utf-8")
INFO = '[[activity]]\ncode = "info"\nlabel = "情報提供"\norder = 4\n\n'
SETTINGS = ("_URL", "_TOKEN", "_PATH", "_KEY", "_PORT", "_DIR", "_IDS", "_SCHEDULE")


class Process(Fieldbot):
    """`fieldbot serve` or `fieldbot work` for every council of COUNCILS_DIR: the environment names no bot."""

    def __init__(self, root: Path, name: str, command: list[str], env: dict[str, str]) -> None:
        self.log = root / f"{name}.log"
        self.command = command
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None


async def _deployment(root: Path, kita: LocalBotApi, minami: LocalBotApi) -> None:
    """市社協 (no bot of its own) over 北区 and 南区, each with its own bot, simulator, admins and staff."""
    settings = load_settings(_env_file=None, councils_dir=root)
    register = registry(settings)
    minami_taxonomy = root.parent / "minami.toml"
    minami_taxonomy.write_text(DEFAULT.replace(INFO, ""), encoding="utf-8")
    for code, short, parent, api, taxonomy, staff in (
        ("city", "", None, None, None, None),
        ("kita", "北区", "city", kita, None, KITA_STAFF),
        ("minami", "南区", "city", minami, minami_taxonomy, MINAMI_STAFF),
    ):
        token = None
        if api is not None:
            token = root.parent / f"{code}.token"
            token.write_text(api.token, encoding="utf-8")
        where = make_folder(settings, code, taxonomy=taxonomy, token=token)
        (where / "field.key").write_text(TEST_KEY + "\n", encoding="ascii")  # prepare_database seals with it
        if api is not None:
            write_own(where, {"TELEGRAM_API_BASE_URL": api.base_url, "ADMIN_TELEGRAM_IDS": str(ADMIN_ID)})
            assert staff is not None
            await prepare_database(where / "fieldbot.sqlite3", (staff, Role.STAFF, "west", "kyonan"))
        register.add(Council(code, f"{short or '市'}社会福祉協議会", short, parent, True), _now())


def _now() -> datetime:
    return datetime.now(UTC)


def _rows(database: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as connection:
        return [tuple(r) for r in connection.execute(sql)]


def _settled(database: Path) -> bool:
    return _rows(database, "SELECT count(*) FROM inbox WHERE handled_at IS NULL OR claimed_by IS NOT NULL") == [(0,)]


def _apart(kita_db: Path, minami_db: Path) -> None:
    """Each council's one outing is in its own database, by its own staff; nothing of one is in the other."""
    for database in (kita_db, minami_db):
        assert integrity(database) == "ok"
        assert _rows(database, "SELECT count(*) FROM outings") == [(1,)]
        assert _rows(database, "SELECT count(*) FROM submissions") == [(1,)]
        assert _settled(database)
    who = "SELECT s.telegram_id FROM outings o JOIN staff s ON s.id = o.staff_id"
    assert _rows(kita_db, who) == [(KITA_STAFF,)]
    assert _rows(minami_db, who) == [(MINAMI_STAFF,)]
    assert (KITA_STAFF,) not in _rows(minami_db, "SELECT telegram_id FROM staff")


async def _city_report(tmp_path: Path, env: dict[str, str]) -> dict[tuple[str, str], list[int | None]]:
    report = await asyncio.to_thread(
        subprocess.run,
        # The processes save on the machine's today: a span around any today (never a fixed fiscal year).
        [
            sys.executable,
            "-m",
            "cli",
            "report",
            "--council",
            "city",
            "--from",
            "2000-01-01",
            "--to",
            "2100-12-31",
            "--format",
            "json",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 0, report.stderr
    table = json.loads(report.stdout)
    assert table["columns"] == ["北区", "南区", "合計"]
    return {(r["section"], r["code"]): r["values"] for r in table["rows"]}


async def test_two_councils_behind_one_serve_and_two_workers(tmp_path: Path) -> None:
    root = tmp_path / "councils"
    async with LocalBotApi(token=TOKEN_KITA) as kita_api, LocalBotApi(token=TOKEN_MINAMI) as minami_api:
        for api in (kita_api, minami_api):
            api.webhook.retry_delay = 0.1
        await _deployment(root, kita_api, minami_api)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.endswith(SETTINGS)}
        env |= {
            "COUNCILS_DIR": str(root),
            "DIGEST_SCHEDULE": "off",
            "WORKER_LEASE_SECONDS": "1",
            "WORKER_POLL_SECONDS": "0.05",
            "LOG_LEVEL": "DEBUG",
        }
        serve = Process(
            tmp_path,
            "serve",
            ["serve", "--workers", "0"],
            env
            | {
                "PUBLIC_URL": f"http://127.0.0.1:{port}",
                "SERVE_PORT": str(port),
            },
        )
        # Worker a dies (SIGKILL, by itself) inside the first save's transaction, before it commits.
        a = Process(tmp_path, "a", ["work", "--workers", "1"], env | {"FIELDBOT_CRASH_AT": "save.before_commit"})
        b = Process(tmp_path, "b", ["work", "--workers", "1"], env)
        kita_db, minami_db = root / "kita" / "fieldbot.sqlite3", root / "minami" / "fieldbot.sqlite3"
        try:
            serve.start()
            await serve.until_logged("webhook set", times=2)  # one bot per council, on one listener
            for worker in (a, b):
                worker.start()
                await worker.until_logged("worker ", times=2)
            assert kita_api.webhook.config is not None and minami_api.webhook.config is not None
            assert kita_api.webhook.config.url.endswith("/telegram/111111")
            assert minami_api.webhook.config.url.endswith("/telegram/222222")

            kita_staff, minami_staff = kita_api.user(KITA_STAFF), minami_api.user(MINAMI_STAFF)
            kita_card = await begin_outing(kita_staff)
            minami_card = await begin_outing(minami_staff)
            await until(lambda: _settled(kita_db) and _settled(minami_db), "the answers so far released")
            os.kill(b.pid, signal.SIGSTOP)  # only a can take the press, and dies holding it
            try:
                await kita_staff.press("💾 保存", wait=False)
                assert await a.exited() == -signal.SIGKILL
            finally:
                os.kill(b.pid, signal.SIGCONT)
            await kita_api.wait_for(
                lambda: kita_card.text.startswith("✅ 保存しました"), timeout=60, what="the save by b"
            )
            await minami_staff.press("💾 保存")
            assert minami_card.text.startswith("✅ 保存しました")

            # A staff member of 北区 is nobody to 南区's bot: refused, nothing of 北区 shown or written.
            stranger: SimUser = minami_api.user(KITA_STAFF)
            await stranger.send("/visit")
            assert stranger.last is not None and "登録" in stranger.last.text
            await stranger.send("/report")
            assert all("北区" not in m.text and "活動" not in m.text for m in stranger.messages)
            assert await b.terminate() == 0
            assert await serve.terminate() == 0
        finally:
            for process in (serve, a, b):
                process.kill()
        _apart(kita_db, minami_db)
        for staff, card in ((kita_staff, kita_card), (minami_staff, minami_card)):
            saved = [m for m in staff.messages if m.text.startswith("✅ 保存しました")]
            assert saved == [card]  # saved once, shown once
        logs = serve.text() + a.text() + b.text()
        for token in (TOKEN_KITA, TOKEN_MINAMI):
            assert token.split(":", 1)[1] not in logs

        rows = await _city_report(tmp_path, env)
        assert rows[("totals", "outings")] == [1, 1, 2]
        assert rows[("activity", "info")] == [0, None, 0]
