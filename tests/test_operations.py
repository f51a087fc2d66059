"""Safe to operate: the bot never stays alive when it is dead, and only one process writes a database."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.crypto import Sealer, generate_key
from simulator.botapi import LocalBotApi
from storage.sqlite.store import Store
from tests.conftest import TEST_KEY
from tests.harness import ADMIN_ID, BotProcess

pytestmark = pytest.mark.slow  # every test here starts a `fieldbot` process


def fieldbot(
    cwd: Path, *args: str, env: dict[str, str], stdin: str = "", timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=cwd,
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def bot_env(api: LocalBotApi, database: Path) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "DATABASE_PATH": str(database),
        "ADMIN_TELEGRAM_IDS": str(ADMIN_ID),
        "FIELD_ENCRYPTION_KEY": TEST_KEY,
        "LOG_LEVEL": "INFO",
    }


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("fieldbot:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


async def started(api: LocalBotApi, process: BotProcess) -> None:
    process.start()
    await api.wait_for(lambda: api.polls_waiting > 0, timeout=60, what="the bot polling")


async def test_a_second_run_on_the_same_database_exits_at_once_and_the_first_keeps_serving(tmp_path: Path) -> None:
    database = tmp_path / "fieldbot.sqlite3"
    async with LocalBotApi() as api:
        first = BotProcess(api, database, tmp_path / "first.log")
        await started(api, first)
        try:
            began = time.monotonic()
            second = await asyncio.to_thread(fieldbot, tmp_path, "run", env=bot_env(api, database))
            assert time.monotonic() - began < 20
            assert "in use by the bot (pid" in one_line(second)
            admin = api.user(ADMIN_ID, first_name="管理者")
            await admin.send("/help")
            assert admin.last is not None and "使い方" in admin.last.text
            for command, stdin in (("rotate-key", generate_key() + "\n"), ("restore", "")):
                args = (command, str(tmp_path / "x.sqlite3")) if command == "restore" else (command,)
                refused = await asyncio.to_thread(fieldbot, tmp_path, *args, env=bot_env(api, database), stdin=stdin)
                assert "in use by the bot" in one_line(refused), command
        finally:
            assert await first.terminate() == 0


@pytest.mark.parametrize("status", [401, 409])
async def test_a_bot_api_that_refuses_polling_while_running_ends_the_process_within_seconds(
    tmp_path: Path, status: int
) -> None:
    async with LocalBotApi() as api:
        process = BotProcess(api, tmp_path / "fieldbot.sqlite3", tmp_path / "bot.log")
        await started(api, process)
        api.inject("getUpdates", status=status, times=-1)  # the token revoked, or another instance polling
        await api.user(ADMIN_ID, first_name="管理者").send("/help", wait=False)  # the waiting long poll returns
        code = await process.exited(limit=10)
        assert code not in (0, None)
        log = (tmp_path / "bot.log").read_text(encoding="utf-8")
        assert "fieldbot: polling stopped:" in log
        assert ("TELEGRAM_BOT_TOKEN" if status == 401 else "only one may run") in log


async def test_a_refused_set_my_commands_at_start_up_ends_the_process_with_one_line(tmp_path: Path) -> None:
    async with LocalBotApi() as api:
        api.inject("setMyCommands", status=429, retry_after=30, times=-1)
        result = await asyncio.to_thread(
            fieldbot, tmp_path, "run", env={**bot_env(api, tmp_path / "db.sqlite3"), "TELEGRAM_RATE_LIMIT": "false"}
        )
        assert "flood limit" in one_line(result)


def test_a_terminal_command_on_a_database_from_a_newer_version_ends_with_one_line(tmp_path: Path) -> None:
    database = tmp_path / "fieldbot.sqlite3"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
        connection.execute("INSERT INTO schema_migrations VALUES (999, '0999_future.sql', '')")
    env = {"DATABASE_PATH": str(database), "FIELD_ENCRYPTION_KEY": TEST_KEY}
    began = time.monotonic()
    result = fieldbot(tmp_path, "audit", env=env)
    assert time.monotonic() - began < 20
    assert "newer than this program knows" in one_line(result)


def test_demo_reset_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    production = data / "fieldbot.sqlite3"
    production.write_bytes(b"a council's records")
    result = fieldbot(tmp_path, "demo", "--reset", "--data", str(data), env={"TELEGRAM_BOT_TOKEN": ""})
    assert "not a demo data folder" in one_line(result)
    assert production.read_bytes() == b"a council's records"


def test_a_copied_env_example_means_no_token_not_a_malformed_one(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parent.parent / ".env.example"
    (tmp_path / ".env").write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.isupper() or k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    result = subprocess.run(
        [sys.executable, "-m", "cli", "run"], cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=30
    )
    assert "TELEGRAM_BOT_TOKEN is missing" in one_line(result)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


async def make_database(path: Path, key: str) -> None:
    store = await Store.open(path, Sealer.from_text(key))
    await store.close()


async def test_data_backups_and_keys_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"DATABASE_PATH": str(data / "fieldbot.sqlite3"), "FIELD_ENCRYPTION_KEY": TEST_KEY}
    await make_database(data / "fieldbot.sqlite3", TEST_KEY)
    assert mode(data) == 0o700
    for name in ("fieldbot.sqlite3", "fieldbot.sqlite3-wal", "fieldbot.sqlite3-shm"):
        if (data / name).exists():
            assert mode(data / name) == 0o600, name
    assert fieldbot(tmp_path, "backup", str(tmp_path / "b" / "copy.sqlite3"), env=env).returncode == 0
    assert mode(tmp_path / "b" / "copy.sqlite3") == 0o600 and mode(tmp_path / "b") == 0o700
    assert fieldbot(tmp_path, "keygen", "--out", "new.key", env=env).returncode == 0
    assert mode(tmp_path / "new.key") == 0o600


async def test_backup_never_overwrites_without_force_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    env = {"DATABASE_PATH": str(tmp_path / "fieldbot.sqlite3"), "FIELD_ENCRYPTION_KEY": TEST_KEY}
    await make_database(tmp_path / "fieldbot.sqlite3", TEST_KEY)
    target = tmp_path / "copy#1.sqlite3"  # a '#' in the name must not make the check read another file
    assert fieldbot(tmp_path, "backup", str(target), env=env).returncode == 0
    assert "already exists" in one_line(fieldbot(tmp_path, "backup", str(target), env=env))
    assert fieldbot(tmp_path, "backup", "--force", str(target), env=env).returncode == 0
    assert not [p for p in os.listdir(tmp_path) if ".partial" in p]


async def test_a_backup_sealed_with_another_key_is_refused_before_anything_is_replaced(tmp_path: Path) -> None:
    other = {"DATABASE_PATH": str(tmp_path / "other.sqlite3"), "FIELD_ENCRYPTION_KEY": generate_key()}
    await make_database(tmp_path / "other.sqlite3", other["FIELD_ENCRYPTION_KEY"])
    assert fieldbot(tmp_path, "backup", str(tmp_path / "other-backup.sqlite3"), env=other).returncode == 0
    ours = {"DATABASE_PATH": str(tmp_path / "fieldbot.sqlite3"), "FIELD_ENCRYPTION_KEY": TEST_KEY}
    await make_database(tmp_path / "fieldbot.sqlite3", TEST_KEY)
    before = (tmp_path / "fieldbot.sqlite3").read_bytes()
    result = fieldbot(tmp_path, "restore", str(tmp_path / "other-backup.sqlite3"), env=ours)
    assert "another encryption key" in one_line(result)
    assert (tmp_path / "fieldbot.sqlite3").read_bytes() == before
    assert not [p for p in os.listdir(tmp_path) if ".before-restore-" in p]


async def test_a_bot_started_with_an_env_file_others_can_read_warns_once(tmp_path: Path) -> None:
    async with LocalBotApi() as api:
        lines = [f"{k}={v}" for k, v in bot_env(api, tmp_path / "fieldbot.sqlite3").items()]
        (tmp_path / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (tmp_path / ".env").chmod(0o644)
        process = BotProcess(api, tmp_path / "fieldbot.sqlite3", tmp_path / "bot.log")
        await started(api, process)
        assert await process.terminate() == 0
    log = (tmp_path / "bot.log").read_text(encoding="utf-8")
    assert log.count("readable by other users: run `chmod 600 .env`") == 1
