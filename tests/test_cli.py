"""The `fieldbot` command: start-up problems are one clear line naming the setting, never a traceback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.crypto import Sealer, generate_key
from simulator.botapi import LocalBotApi
from storage.sqlite.store import Store

pytestmark = pytest.mark.slow  # every test here starts a `fieldbot` process

SETTINGS = (
    "FIELD_ENCRYPTION_KEY",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_BASE_URL",
    "DATABASE_PATH",
    "TIMEZONE",
    "TAXONOMY_FILE",
    "ADMIN_TELEGRAM_IDS",
    "LOG_LEVEL",
)


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env.update(values)
    return env


def fieldbot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=tmp_path,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_a_missing_token_stops_start_up_naming_the_setting(tmp_path: Path) -> None:
    line = one_line(fieldbot(tmp_path, "run"))
    assert line.startswith("fieldbot: setting TELEGRAM_BOT_TOKEN is missing")


def test_a_missing_or_malformed_encryption_key_stops_start_up_naming_the_setting(tmp_path: Path) -> None:
    token = "1234:" + "x" * 35
    line = one_line(fieldbot(tmp_path, "run", TELEGRAM_BOT_TOKEN=token))
    assert line.startswith("fieldbot: setting FIELD_ENCRYPTION_KEY is missing: make one with `fieldbot keygen`")
    line = one_line(fieldbot(tmp_path, "run", TELEGRAM_BOT_TOKEN=token, FIELD_ENCRYPTION_KEY="c2hvcnQ="))
    assert line.startswith("fieldbot: setting FIELD_ENCRYPTION_KEY: must be 32 bytes in base64")


def test_a_wrong_time_zone_stops_start_up_naming_the_setting(tmp_path: Path) -> None:
    line = one_line(fieldbot(tmp_path, "run", TIMEZONE="Tokyo/Asia", TELEGRAM_BOT_TOKEN="1234:" + "x" * 35))
    assert line.startswith("fieldbot: setting TIMEZONE: unknown time zone")


def test_an_invalid_taxonomy_file_stops_start_up_with_the_file_the_entry_and_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "council.toml"
    path.write_text(
        (Path(__file__).parent.parent / "core" / "default_taxonomy.toml")
        .read_text(encoding="utf-8")
        .replace('code = "health"', 'code = "kosha"'),
        encoding="utf-8",
    )
    line = one_line(fieldbot(tmp_path, "check", TAXONOMY_FILE=str(path)))
    assert line == f"fieldbot: {path}: agency: code 'kosha' is used twice"


def test_check_reports_a_valid_configuration(tmp_path: Path) -> None:
    database, key = tmp_path / "db.sqlite3", generate_key()
    asyncio.run(make_database(database, key))
    result = fieldbot(tmp_path, "check", DATABASE_PATH=str(database), FIELD_ENCRYPTION_KEY=key)
    assert result.returncode == 0 and "圏域3・地域13" in result.stdout, result.stderr


async def make_database(path: Path, key: str) -> None:
    store = await Store.open(path, Sealer.from_text(key))
    await store.close()


async def test_a_token_the_bot_api_refuses_stops_start_up_without_showing_it(tmp_path: Path) -> None:
    async with LocalBotApi() as api:
        wrong = "987654321:AAH-this-is-not-the-right-token-zzzz"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli.main",
            "run",
            cwd=tmp_path,
            env=clean_env(
                FIELD_ENCRYPTION_KEY=generate_key(),
                TELEGRAM_BOT_TOKEN=wrong,
                TELEGRAM_API_BASE_URL=api.base_url,
                DATABASE_PATH=str(tmp_path / "db.sqlite3"),
                LOG_LEVEL="WARNING",
            ),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    text = err.decode()
    assert text.strip().splitlines()[-1] == (
        "fieldbot: setting TELEGRAM_BOT_TOKEN: the Bot API refused the token (revoked or mistyped?)"
    )
    assert wrong not in text and wrong.split(":")[1] not in text


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"]])
def test_help_is_available(tmp_path: Path, argv: list[str]) -> None:
    result = fieldbot(tmp_path, *argv)
    assert result.returncode == 0 and "fieldbot" in result.stdout


def test_a_key_other_than_the_databases_stops_start_up_naming_the_setting(tmp_path: Path) -> None:
    database = str(tmp_path / "db.sqlite3")
    asyncio.run(make_database(Path(database), generate_key()))
    line = one_line(
        fieldbot(
            tmp_path,
            "run",
            DATABASE_PATH=database,
            FIELD_ENCRYPTION_KEY=generate_key(),
            TELEGRAM_BOT_TOKEN="1234:" + "x" * 35,
        )
    )
    assert line == "fieldbot: setting FIELD_ENCRYPTION_KEY: this is not the key this database was encrypted with"
