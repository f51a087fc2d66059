"""The `fieldbot` command run in process, as an admin meets it at a terminal: a faked terminal (a TTY or not), an
injected clock, the settings from a clean environment. No subprocess, no wall-clock dependence."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cli.main import _dispatch, build_parser
from core.clock import ManualClock
from core.crypto import Sealer
from storage.sqlite.store import Store
from tests.conftest import TEST_KEY

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # FY2026 (令和8年度) has begun, FY2027 has not
SETTINGS = (
    "FIELD_ENCRYPTION_KEY",
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_BASE_URL",
    "DATABASE_PATH",
    "TIMEZONE",
    "TAXONOMY_FILE",
    "ADMIN_TELEGRAM_IDS",
    "LOG_LEVEL",
    "RETENTION_DAYS",
    "COUNCILS_DIR",
)


class Terminal(io.TextIOWrapper):
    """Standard output or error, a terminal or not."""

    def __init__(self, tty: bool) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8")
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def data(self) -> bytes:
        self.flush()
        raw = self.buffer
        assert isinstance(raw, io.BytesIO)
        return raw.getvalue()


@dataclass
class Result:
    code: int
    data: bytes
    err: str

    @property
    def out(self) -> str:
        return self.data.decode("utf-8")

    def one_error(self) -> str:
        assert self.code != 0, self
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        return lines[0]


Cli = Callable[..., Result]


def cli_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.chdir(tmp_path)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY", TEST_KEY)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "council.sqlite3"))

    def run(*argv: str, tty: bool = False, now: datetime = NOW, **env: str | None) -> Result:
        for name, value in env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        out, err = Terminal(tty), Terminal(False)
        monkeypatch.setattr(sys, "stdout", out)
        monkeypatch.setattr(sys, "stderr", err)
        try:
            args = build_parser().parse_args(list(argv))
            args.clock = ManualClock(now)
            code = _dispatch(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
        return Result(code, out.data(), err.data().decode("utf-8"))

    yield run


def make_database(path: Path) -> None:
    async def make() -> None:
        store = await Store.open(path, Sealer.from_text(TEST_KEY))
        await store.close()

    path.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(make())
