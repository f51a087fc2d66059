"""`fieldbot serve` and two `fieldbot work` processes against the simulator's webhooks: a worker killed with SIGKILL
in the middle of an update is finished by the other worker; nothing is lost and nothing is done twice."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from core.models import Role
from simulator.botapi import LocalBotApi, SimMessage, SimUser, Webhook
from tests.conftest import TEST_KEY
from tests.harness import ADMIN_ID, integrity, prepare_database

pytestmark = pytest.mark.slow

STAFF = 2001
LEASE = "1"  # seconds: a killed worker's update is taken over a second later


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Fieldbot:
    """`fieldbot serve` or `fieldbot work` as a real process, logging to its own file."""

    def __init__(self, api: LocalBotApi, database: Path, log: Path, command: list[str], **env: str) -> None:
        self.api = api
        self.log = log
        self.env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_BASE_URL": api.base_url,
            "DATABASE_PATH": str(database),
            "ADMIN_TELEGRAM_IDS": str(ADMIN_ID),
            "FIELD_ENCRYPTION_KEY": TEST_KEY,
            "DIGEST_SCHEDULE": "off",
            "WORKER_LEASE_SECONDS": LEASE,
            "WORKER_POLL_SECONDS": "0.05",
            "LOG_LEVEL": "DEBUG",
            **env,
        }
        self.command = command
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli", *self.command], cwd=self.log.parent, env=self.env, stdout=out, stderr=out
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def logged(self, text: str, times: int = 1) -> bool:
        return self.text().count(text) >= times

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.is_file() else ""

    async def until_logged(self, text: str, limit: float = 60, *, times: int = 1) -> None:
        """Wait for a line in the log (`times` such lines), serving the simulator meanwhile (starting talks to it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while not self.logged(text, times):
            assert self.process is not None and self.process.poll() is None, self.log.read_text(errors="replace")
            assert loop.time() < deadline, f"{self.command} never logged {text!r}"
            await asyncio.sleep(0.05)

    async def exited(self, limit: float = 60) -> int:
        assert self.process is not None
        return await asyncio.to_thread(self.process.wait, limit)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    async def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, 30)


class Deployment:
    """One `fieldbot serve` (with no workers of its own) and two `fieldbot work` processes, a and b."""

    def __init__(self, api: LocalBotApi, tmp_path: Path, **worker_a_env: str) -> None:
        self.database = tmp_path / "fieldbot.sqlite3"
        port = free_port()
        listen = {"PUBLIC_URL": f"http://127.0.0.1:{port}", "SERVE_PORT": str(port)}
        self.serve = Fieldbot(api, self.database, tmp_path / "serve.log", ["serve", "--workers", "0"], **listen)
        self.a = Fieldbot(api, self.database, tmp_path / "a.log", ["work", "--workers", "1"], **worker_a_env)
        self.b = Fieldbot(api, self.database, tmp_path / "b.log", ["work", "--workers", "1"])
        self.api = api

    async def start(self) -> None:
        self.serve.start()
        await self.serve.until_logged("webhook set")
        for worker in (self.a, self.b):
            worker.start()
            await worker.until_logged("worker ")

    def kill_all(self) -> None:
        for process in (self.serve, self.a, self.b):
            process.kill()

    def rows(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.database) as connection:
            return [tuple(r) for r in connection.execute(sql, params)]

    def settled(self) -> bool:
        """Every update received is handled and claimed by no one."""
        return self.rows("SELECT count(*) FROM inbox WHERE handled_at IS NULL OR claimed_by IS NOT NULL") == [(0,)]


async def until(predicate: Callable[[], bool], what: str, limit: float = 60) -> None:
    """Wait for a condition of the database (which tells no one when it changes), looking every 50 ms."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def begin_outing(staff: SimUser) -> SimMessage:
    """/visit up to the summary card, each answer waited for; returns the card."""
    await staff.send("/visit")
    for label in ("活動先への出向き・参加", "高齢者サロン", "スキップ", "なかった"):
        await staff.press(label)
    card = staff.last
    assert card is not None and "入力内容の確認" in card.text, [m.text[:30] for m in staff.messages]
    return card


async def test_a_worker_killed_mid_save_is_finished_by_the_other_saved_once(tmp_path: Path) -> None:
    database = tmp_path / "fieldbot.sqlite3"
    await prepare_database(database, (STAFF, Role.STAFF, "west", "kyonan"))
    async with LocalBotApi() as api:
        api.webhook.retry_delay = 0.1
        # Worker a dies (SIGKILL, by itself) inside the save's transaction, before it commits.
        deployment = Deployment(api, tmp_path, FIELDBOT_CRASH_AT="save.before_commit")
        try:
            await deployment.start()
            staff = api.user(STAFF)
            card = await begin_outing(staff)
            await until(deployment.settled, "the answers so far released")
            # Only a can take the press: b is stopped (not dead) until a has died holding its claim.
            os.kill(deployment.b.pid, signal.SIGSTOP)
            try:
                await staff.press("💾 保存", wait=False)
                save = max(api._updates)
                assert await deployment.a.exited() == -signal.SIGKILL
            finally:
                os.kill(deployment.b.pid, signal.SIGCONT)
            # b takes the update over once a's lease has run out, and saves it.
            await api.wait_for(lambda: card.text.startswith("✅ 保存しました"), timeout=60, what="the save by b")
            assert deployment.rows("SELECT attempts FROM inbox WHERE update_id = ?", save) == [(2,)]
            # The flow goes on with b alone.
            second = await begin_outing(staff)
            await staff.press("💾 保存")
            assert second.text.startswith("✅ 保存しました")
            assert await deployment.b.terminate() == 0
            assert await deployment.serve.terminate() == 0
        finally:
            deployment.kill_all()
        assert integrity(database) == "ok"
        assert deployment.rows("SELECT count(*) FROM outings") == [(2,)]
        assert deployment.rows("SELECT count(*) FROM submissions") == [(2,)]
        assert deployment.settled()
        delivered = {u for (u,) in deployment.rows("SELECT update_id FROM inbox")}
        assert delivered == set(api._updates) and not api.pending_updates  # every update kept, all confirmed
        saved_cards = [m for m in staff.messages if m.text.startswith("✅ 保存しました")]
        assert len(saved_cards) == 2
        log = "".join(p.log.read_text(encoding="utf-8") for p in (deployment.serve, deployment.a, deployment.b))
        assert api.token.split(":", 1)[1] not in log


async def test_a_worker_killed_from_outside_while_replying_loses_no_answer_and_repeats_none(tmp_path: Path) -> None:
    database = tmp_path / "fieldbot.sqlite3"
    await prepare_database(database, (STAFF, Role.STAFF, "west", "kyonan"))
    async with LocalBotApi() as api:
        api.webhook.retry_delay = 0.1
        deployment = Deployment(api, tmp_path)
        try:
            await deployment.start()
            staff = api.user(STAFF)
            await staff.send("/visit")
            await staff.press("活動先への出向き・参加")
            question = staff.last
            assert question is not None
            await until(deployment.settled, "the answers so far released")
            # The answer to the next press hangs: its worker has committed the answer and edited the message.
            api.inject("answerCallbackQuery", status=200, delay=120)
            await staff.press("高齢者サロン", wait=False)
            press = max(api._updates)
            await api.wait_for(lambda: "参加人数" in question.text, timeout=30, what="the edit after the answer")
            claimed = deployment.rows("SELECT claimed_by FROM inbox WHERE update_id = ?", press)
            assert claimed and isinstance(claimed[0][0], str)
            pid = int(claimed[0][0].split(":")[1])
            busy, other = (deployment.a, deployment.b) if pid == deployment.a.pid else (deployment.b, deployment.a)
            assert busy.pid == pid
            busy.kill()  # SIGKILL, mid-update
            api.clear_faults()
            # The other worker frees the dead worker's claim; the answer was committed, so it is not done again.
            await until(deployment.settled, "the killed worker's update marked handled")
            for label in ("スキップ", "なかった"):
                await staff.press(label)
            await staff.press("💾 保存")
            assert staff.last is not None and staff.last.text.startswith("✅ 保存しました")
            assert await other.terminate() == 0
            assert await deployment.serve.terminate() == 0
        finally:
            deployment.kill_all()
        assert integrity(database) == "ok"
        assert deployment.rows("SELECT activity, destination FROM outings") == [("outing", "salon-elderly")]
        assert deployment.rows("SELECT attempts FROM inbox WHERE update_id = ?", press) == [(1,)]
        assert deployment.settled()
        edits = [c for c in api.calls_to("editMessageText") if c.get("message_id") == question.message_id]
        assert len([c for c in edits if "参加人数は？" in str(c.get("text"))]) == 1  # the answer's reply, once


def fieldbot(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    kept = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_TOKEN", "_PATH", "_KEY", "_PORT"))}
    base = {"TELEGRAM_BOT_TOKEN": "123456789:AAH-local-test-token-0123456789abcdef", "FIELD_ENCRYPTION_KEY": TEST_KEY}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=tmp_path,
        env={**kept, **base, "DATABASE_PATH": str(tmp_path / "fieldbot.sqlite3"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The line that says why the command stopped (the last; INFO lines of the start-up may come before it)."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_serve_without_a_public_url_or_with_a_wrong_one_stops_with_one_line_naming_it(tmp_path: Path) -> None:
    assert one_line(fieldbot(tmp_path, "serve")).startswith("fieldbot: setting PUBLIC_URL is missing")
    wrong = one_line(fieldbot(tmp_path, "serve", PUBLIC_URL="bot.example.org"))
    assert wrong.startswith("fieldbot: setting PUBLIC_URL: must be the bot's public address")
    assert one_line(fieldbot(tmp_path, "work", "--workers", "0")).startswith("fieldbot: --workers")


async def test_serve_on_a_port_in_use_stops_with_one_line_and_delete_webhook_gives_polling_back(
    tmp_path: Path,
) -> None:
    async with LocalBotApi() as api:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE_URL": api.base_url, "SERVE_PORT": str(port)}
            result = await asyncio.to_thread(fieldbot, tmp_path, "serve", PUBLIC_URL="https://bot.example.org", **env)
            assert one_line(result) == (
                f"fieldbot: cannot listen on 127.0.0.1:{port} (Address already in use); "
                "check the settings SERVE_HOST and SERVE_PORT"
            )
        api.webhook.config = Webhook("https://bot.example.org/telegram/123456789")
        polling = await asyncio.to_thread(fieldbot, tmp_path, "run", **env)
        assert one_line(polling) == (
            "fieldbot: polling stopped: the bot has a webhook (fieldbot serve): stop serve and run "
            "`fieldbot serve --delete-webhook` first"
        )
        removed = await asyncio.to_thread(fieldbot, tmp_path, "serve", "--delete-webhook", **env)
        assert removed.returncode == 0, removed.stderr
        assert api.webhook.config is None


async def test_run_with_a_public_url_on_a_port_in_use_stops_with_one_line_naming_the_note_form(
    tmp_path: Path,
) -> None:
    async with LocalBotApi() as api:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            env = {"TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE_URL": api.base_url, "SERVE_PORT": str(port)}
            result = await asyncio.to_thread(fieldbot, tmp_path, "run", PUBLIC_URL="https://bot.example.org", **env)
            assert one_line(result) == (
                f"fieldbot: cannot listen on 127.0.0.1:{port} (Address already in use); "
                "check the settings SERVE_HOST and SERVE_PORT (the note form, PUBLIC_URL)"
            )
