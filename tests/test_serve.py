"""`fieldbot serve` in this process: Telegram's webhooks (the simulator posts them) are refused without the
secret, kept in the inbox before 200, handled once however often they are delivered, one person's in order
whichever worker takes them, and taken over from a worker that stopped answering."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram import Update
from telegram.ext import TypeHandler

from bot.app import FieldBot
from bot.polling import ALLOWED_UPDATES
from bot.webhook import SECRET_HEADER, Listener, WebhookServer, telegram_path
from bot.worker import InboxWorkers
from core.clock import ManualClock
from core.models import Role
from simulator.botapi import Delivery, LocalBotApi
from storage.sqlite.store import Store
from tests.harness import ADMIN_ID, START, Harness

STAFF = 2001


@dataclass
class Journal:
    """What the workers did, in order: ("start" | "end", update id, worker)."""

    entries: list[tuple[str, int, str]] = field(default_factory=list)

    def starts(self, update_id: int) -> int:
        return sum(1 for kind, u, _ in self.entries if kind == "start" and u == update_id)


class ServeHarness(Harness):
    """The bot as `fieldbot serve` runs it (listener, webhook, in-process workers), plus any number of worker-only
    bots on the same database with their own connections, as `fieldbot work` processes have."""

    def __init__(self, api: LocalBotApi, database: Path, clock: ManualClock, workers: int, lease: float) -> None:
        super().__init__(api, database, clock)
        self.loops = workers
        self.lease = timedelta(seconds=lease)
        self.server: WebhookServer | None = None
        self.others: list[FieldBot] = []
        self.journal = Journal()
        self.handled: dict[int, int] = {}  # update id -> times a worker finished it

    def _handled(self, update_id: int) -> None:
        self.handled[update_id] = self.handled.get(update_id, 0) + 1
        self._event(update_id).set()

    def _bot(self, runtime: WebhookServer | InboxWorkers, *, schedules: bool) -> FieldBot:
        bot = FieldBot(
            self.settings,
            clock=self.clock,
            base_file_url=self.api.base_file_url,
            tick_interval=None,
            retry_delays=self.retry_delays,
            rate_limiter=self.rate_limiter,
            busy_timeout_ms=self.busy_timeout_ms,
            runtime=runtime,
            schedules=schedules,
        )
        workers = runtime.workers if isinstance(runtime, WebhookServer) else runtime
        workers.handled.append(self._handled)
        return bot

    def _instrument(self, bot: FieldBot, name: str) -> None:
        """Each update's start is journaled by a handler that runs before all others (PTB group -1)."""
        assert bot.application is not None

        async def started(update: Update, context: object) -> None:
            self.journal.entries.append(("start", update.update_id, name))

        bot.application.add_handler(TypeHandler(Update, started), group=-1)
        workers = bot.runtime.workers if isinstance(bot.runtime, WebhookServer) else bot.runtime
        assert isinstance(workers, InboxWorkers)
        workers.handled.append(lambda update_id: self.journal.entries.append(("end", update_id, name)))

    async def start(self) -> FieldBot:
        workers = InboxWorkers(self.loops, self.lease, poll=0.05, publishes_boot=True)
        self.server = WebhookServer(Listener("127.0.0.1", 0), workers, self.settings.webhook_secret_token(), None)
        bot = self._bot(self.server, schedules=True)
        await bot.start()
        self._instrument(bot, "serve")
        self.bot = bot
        return bot

    async def add_worker(self, name: str, loops: int = 1) -> FieldBot:
        """A worker-only bot, as a `fieldbot work` process runs it."""
        bot = self._bot(InboxWorkers(loops, self.lease, poll=0.05, worker=name), schedules=False)
        await bot.start()
        self._instrument(bot, name)
        self.others.append(bot)
        return bot

    async def stop(self) -> None:
        for other in self.others:
            await other.stop()
        self.others = []
        await super().stop()

    @property
    def url(self) -> str:
        assert self.server is not None and self.bot is not None and self.bot.ledger is not None
        listener = self.server.listener
        return f"http://{listener.host}:{listener.port}{telegram_path(self.bot.ledger.bot_id)}"


@asynccontextmanager
async def serving(tmp_path: Path, *, workers: int = 2, lease: float = 30.0) -> AsyncIterator[ServeHarness]:
    clock = ManualClock(START)
    api = LocalBotApi(now=lambda: clock.now().timestamp())
    api.webhook.retry_delay = 0.05
    await api.start()
    harness = ServeHarness(api, tmp_path / "fieldbot.sqlite3", clock, workers, lease)
    try:
        await harness.start()
        yield harness
    finally:
        await harness.stop()
        await api.stop()


def inbox_rows(database: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as connection:
        return [tuple(r) for r in connection.execute("SELECT update_id, handled_at IS NOT NULL FROM inbox")]


async def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as answer:
        return answer.status


# --------------------------------------------------------------------------------------------------------------


async def test_serve_sets_the_webhook_with_its_secret_and_an_update_gets_its_reply(tmp_path: Path) -> None:
    async with serving(tmp_path) as h:
        config = h.api.webhook.config
        assert config is not None and config.url == h.url
        assert config.secret_token == h.settings.webhook_secret_token()
        assert config.allowed_updates == ALLOWED_UPDATES
        assert h.api.token not in config.url and h.api.token.split(":", 1)[1] not in config.url
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        update_id = await admin.send("/help")
        assert admin.last is not None and admin.last.text
        assert [(d.update_id, d.status) for d in h.api.webhook.deliveries] == [(update_id, 200)]
        assert inbox_rows(h.database) == [(update_id, 1)]
        assert h.handled == {update_id: 1}


@pytest.mark.parametrize("secret", [None, "wrong-secret-of-the-right-shape", ""])
async def test_a_missing_or_wrong_secret_is_refused_logged_without_the_body_and_nothing_is_kept(
    tmp_path: Path, secret: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(tmp_path) as h:
        body = '{"update_id": 777, "message": {"text": "秘密のメモ"}}'.encode()
        headers = {"Content-Type": "application/json"} | ({SECRET_HEADER: secret} if secret is not None else {})
        caplog.clear()  # what the refusal logs, at every level (the process's own redaction is tested elsewhere)
        with caplog.at_level(logging.DEBUG):
            status = await post(h.url + "?token=" + h.api.token, body, headers)
        assert status == 403
        assert inbox_rows(h.database) == []
        refused = [r.getMessage() for r in caplog.records if r.getMessage().startswith("refused")]
        bot_id = h.api.token.split(":", 1)[0]
        assert refused == [f"refused POST /telegram/{bot_id}: 403 (wrong or missing secret token)"]
        everything = "\n".join(r.getMessage() for r in caplog.records)
        assert "秘密のメモ" not in everything and "777" not in everything
        assert h.api.token.split(":", 1)[1] not in everything and h.settings.webhook_secret_token() not in everything


async def test_another_path_or_a_body_that_is_no_update_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    async with serving(tmp_path) as h:
        good = {SECRET_HEADER: h.settings.webhook_secret_token()}
        assert await post(h.url.replace("/telegram/", "/telegram/9"), b'{"update_id": 1}', good) == 404
        assert await post(h.url.rsplit("/", 1)[0] + "/" + h.api.token, b'{"update_id": 1}', good) == 404
        assert await post(h.url, b"not json", good) == 400
        assert await post(h.url, b'{"update_id": "1"}', good) == 400
        assert await post(h.url, b"[1, 2]", good) == 400
        assert await post(h.url, b'{"update_id": 5}' + b" " * (1024 * 1024), good) == 413
        assert inbox_rows(h.database) == []


async def test_200_only_once_the_update_is_committed_and_a_failing_database_is_no_200(tmp_path: Path) -> None:
    async with serving(tmp_path) as h:
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        seen_in_database: list[tuple[int, int | None, bool]] = []

        def check(delivery: Delivery) -> None:
            # Runs as the answer arrives: a 200 must find the update already committed, by another connection.
            committed = any(u == delivery.update_id for u, _ in inbox_rows(h.database))
            seen_in_database.append((delivery.update_id, delivery.status, committed))

        h.api.webhook.listeners.append(check)
        assert h.bot is not None and isinstance(h.bot.store, Store)
        h.bot.store.db.busy_timeout_ms = 50
        # Another writer holds the database: the update cannot be kept, so it is not answered 200.
        blocker = sqlite3.connect(h.database, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            await h.bot.store.db.writer.execute("PRAGMA busy_timeout = 50")
            update_id = await admin.send("/help", wait=False)
            await h.api.wait_for(lambda: len(seen_in_database) >= 2, what="two refused deliveries")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await h.wait_done(update_id)
        statuses = [(status, committed) for u, status, committed in seen_in_database if u == update_id]
        assert all(status == 503 and not committed for status, committed in statuses[:-1])
        assert statuses[-1] == (200, True)
        assert h.handled == {update_id: 1}
        assert len([m for m in admin.messages if m.from_bot]) == 1


async def test_an_update_delivered_again_is_kept_once_and_handled_once(tmp_path: Path) -> None:
    async with serving(tmp_path) as h:
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        update_id = await admin.send("/help")
        replies = len(admin.messages)
        h.api.redeliver(update_id)  # Telegram did not see the 200 (a timeout) and sends it again
        await h.api.wait_for(lambda: h.api.deliveries(update_id) == 2 and not h.api.pending_updates)
        await asyncio.sleep(0.2)  # time enough for a worker to (wrongly) handle it again
        assert [d.status for d in h.api.webhook.deliveries] == [200, 200]
        assert h.handled == {update_id: 1} and h.journal.starts(update_id) == 1
        assert len(admin.messages) == replies
        assert inbox_rows(h.database) == [(update_id, 1)]


async def test_two_workers_take_one_persons_updates_in_order_one_at_a_time_and_never_twice(tmp_path: Path) -> None:
    async with serving(tmp_path, workers=0) as h:
        await h.add_worker("a")
        await h.add_worker("b")
        people = [h.api.user(ADMIN_ID), await h.register(STAFF, Role.STAFF), await h.register(STAFF + 1, Role.STAFF)]
        # Replies take a moment, so that each worker is often busy and a person's next update goes to the other.
        h.api.inject("sendMessage", status=200, delay=0.02, times=-1)
        sent: dict[int, list[int]] = {person.id: [] for person in people}
        for i in range(8):
            for person in people:
                sent[person.id].append(await person.send(f"メッセージ {i}", wait=False))
        for ids in sent.values():
            for update_id in ids:
                await h.wait_done(update_id)
        for ids in sent.values():
            assert all(h.handled[u] == 1 and h.journal.starts(u) == 1 for u in ids)
            # In update order, and each begun only after the one before it was done, by whichever worker.
            mine = [(kind, u) for kind, u, _ in h.journal.entries if u in ids]
            assert mine == [(kind, u) for u in ids for kind in ("start", "end")]
        assert {w for _, _, w in h.journal.entries} == {"a", "b"}


async def test_an_update_claimed_by_a_worker_that_stopped_answering_is_taken_over_and_handled_once(
    tmp_path: Path,
) -> None:
    async with serving(tmp_path, workers=0, lease=0.3) as h:
        assert h.bot is not None and h.bot.store is not None and h.bot.ledger is not None
        store, bot_id = h.bot.store, h.bot.ledger.bot_id
        admin = h.api.user(ADMIN_ID, first_name="管理者")
        update_id = await admin.send("/help", wait=False)
        await h.api.wait_for(lambda: not h.api.pending_updates, what="the update kept")
        # A worker of another process claims it, then is killed before it is done.
        claim = await store.inbox.claim(bot_id, "elsewhere:4242:deadbeef", h.clock.now(), h.lease)
        assert claim is not None and claim.update_id == update_id
        await h.add_worker("live")
        await asyncio.sleep(0.5)  # heartbeats of the live worker: the lease has not run out by the bot's clock
        assert update_id not in h.handled
        h.clock.advance(timedelta(seconds=1))
        await h.wait_done(update_id)
        assert h.handled == {update_id: 1} and h.journal.starts(update_id) == 1
        assert len([m for m in admin.messages if m.from_bot]) == 1
        row = await store.db.fetchone("SELECT attempts, claimed_by FROM inbox WHERE update_id = ?", (update_id,))
        assert row is not None and (row[0], row[1]) == (2, None)
