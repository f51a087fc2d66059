"""End-to-end harness: the real bot (PTB Application, polling, SQLite) against the embedded local Bot API."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.app import FieldBot
from bot.settings import Settings
from core.clock import ManualClock
from core.crypto import Sealer
from core.models import Role
from simulator.botapi import LocalBotApi, SimUser
from storage.sqlite.store import SqlStore, Store
from tests.conftest import TEST_KEY
from tests.pg import Cluster, shared_cluster

ADMIN_ID = 1001
START = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # Monday 09:30 in Tokyo
REPO = Path(__file__).resolve().parent.parent


def make_settings(api: LocalBotApi, database: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": api.token,
        "telegram_api_base_url": api.base_url,
        "database_path": database,
        "admin_telegram_ids": [ADMIN_ID],
        "field_encryption_key": TEST_KEY,
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


class Harness:
    """Starts and restarts the bot in this process; every simulated action waits until its update is done."""

    def __init__(self, api: LocalBotApi, database: Path, clock: ManualClock, **settings: Any) -> None:
        self.api = api
        self.database = database
        self.clock = clock
        self.settings = make_settings(api, database, **settings)
        self.bot: FieldBot | None = None
        self.retry_delays: tuple[float, ...] = ()  # no retries unless a test asks: faults stay visible
        self.rate_limiter = False  # AIORateLimiter sleeps out 429s; tests that want it turn it on
        self.busy_timeout_ms = 5000
        self._done: dict[int, asyncio.Event] = {}
        api.update_waiter = self.wait_done

    def _event(self, update_id: int) -> asyncio.Event:
        return self._done.setdefault(update_id, asyncio.Event())

    async def wait_done(self, update_id: int) -> None:
        await asyncio.wait_for(self._event(update_id).wait(), timeout=15)

    async def start(self) -> FieldBot:
        bot = FieldBot(
            self.settings,
            clock=self.clock,
            base_file_url=self.api.base_file_url,
            tick_interval=None,  # tests drive the scheduler: `await harness.tick()` after moving the clock
            retry_delays=self.retry_delays,
            rate_limiter=self.rate_limiter,
            busy_timeout_ms=self.busy_timeout_ms,
        )
        bot.finished_listeners.append(lambda update_id: self._event(update_id).set())
        await bot.start()
        self.bot = bot
        return bot

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.stop()
            self.bot = None

    async def restart(self) -> FieldBot:
        await self.stop()
        return await self.start()

    async def tick(self) -> dict[str, int]:
        assert self.bot is not None and self.bot.scheduler is not None
        return await self.bot.scheduler.tick()

    @property
    def store(self) -> SqlStore:
        assert self.bot is not None and self.bot.store is not None
        return self.bot.store

    async def register(
        self, user_id: int, role: Role = Role.STAFF, zone: str | None = "west", area: str | None = "kyonan"
    ) -> SimUser:
        """A registered staff member, made directly in the database (the invite flow has its own test)."""
        now = self.clock.now()
        store = self.store
        async with store.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO staff (telegram_id, name, role, zone, area, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, f"職員{user_id}", role.value, zone, area, now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
            )
        store.staff.cache.clear()  # written behind the repository's back
        return self.api.user(user_id, first_name=f"職員{user_id}")

    async def count(self, table: str, where: str = "TRUE") -> int:
        row = await self.store.db.fetchone(f"SELECT count(*) FROM {table} WHERE {where}")
        assert row is not None
        return int(row[0])


@asynccontextmanager
async def running(
    tmp_path: Path, start: datetime = START, *, kind: type[Harness] | None = None, **settings: Any
) -> AsyncIterator[Harness]:
    clock = ManualClock(start)
    api = LocalBotApi(now=lambda: clock.now().timestamp())
    await api.start()
    # FIELDBOT_TEST_DATABASE=postgresql: the bot on a fresh database of the session's throwaway PostgreSQL server.
    cluster = shared_cluster() if os.environ.get("FIELDBOT_TEST_DATABASE") == "postgresql" else None
    database = None if cluster is None else await cluster.create_database(template=Cluster.TEMPLATE)
    if cluster is not None and database is not None:
        settings.setdefault("database_url", cluster.url(database))
    harness = (kind or Harness)(api, tmp_path / "fieldbot.sqlite3", clock, **settings)
    try:
        await harness.start()
        yield harness
    finally:
        await harness.stop()
        await api.stop()
        if cluster is not None and database is not None:
            await cluster.drop_database(database)


async def prepare_database(database: Path, *people: tuple[int, Role, str | None, str | None]) -> None:
    """Staff in a database before the bot process first opens it: (telegram id, role, zone, area)."""
    store = await Store.open(database, Sealer.from_text(TEST_KEY))
    async with store.db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO staff (telegram_id, name, role, zone, area, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (tid, f"職員{tid}", role.value, zone, area, "2026-01-01T00:00:00.000000Z")
                for tid, role, zone, area in people
            ],
        )
    # As if installed long ago: digests due since are due now.
    await store.meta.put("installed_at", "2000-01-01T00:00:00.000000Z")
    await store.close()


_FOLLOWUP_KINDS = {"v": "fv", "x": "fx", "n": "fn", "d": "fd", "di": "fi", "dd": "fp", "c": "fc", "co": "fo"}
_FOLLOWUP_KINDS |= {"r": "fr", "ro": "fa"}


def followup_data(followup_id: object, op: str) -> str:
    """The data of a follow-up button, named by what it does: v(iew), x (details), n(ote), d(ue menu), di (typed
    due date), dd:<preset>, c(lose menu), co:<outcome>, r(eassign menu), ro:<staff>. An unknown op stays as it is
    (a forged kind)."""
    kind, _, arg = op.partition(":")
    prefix = _FOLLOWUP_KINDS.get(kind, kind)
    return f"{prefix}:{followup_id}" + (f":{arg}" if arg else "")


def integrity(database: Path) -> str:
    import sqlite3

    with sqlite3.connect(database) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


class BotProcess:
    """The bot as a real subprocess (`fieldbot run`), for crash tests that need SIGKILL."""

    def __init__(self, api: LocalBotApi, database: Path, log: Path, **env: str) -> None:
        self.api = api
        self.database = database
        self.log = log
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, **extra: str) -> None:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": self.api.token,
            "TELEGRAM_API_BASE_URL": self.api.base_url,
            "DATABASE_PATH": str(self.database),
            "ADMIN_TELEGRAM_IDS": str(ADMIN_ID),
            "FIELD_ENCRYPTION_KEY": TEST_KEY,
            "LOG_LEVEL": "DEBUG",
            **self.env,
            **extra,
        }
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli", "run"], cwd=self.log.parent, env=env, stdout=out, stderr=out
            )

    async def exited(self, limit: float = 30) -> int:
        """Wait for the process to end on its own (a crash point killed it), serving the event loop meanwhile:
        the process may first need the embedded Bot API server to answer it."""
        assert self.process is not None
        return await asyncio.to_thread(self.process.wait, limit)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    async def terminate(self) -> int:
        """SIGTERM, and wait for a clean stop while serving the event loop (stopping may still talk to the
        embedded Bot API server)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, 20)
