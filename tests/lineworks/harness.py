"""The real bot with a LINE WORKS bot beside its Telegram one, on long polling with PUBLIC_URL (its own listener):
the LINE WORKS simulator posts signed callbacks to it and takes its sends. A `Worker` (a LINE WORKS user) types
and presses as a person would and waits until the bot has handled each event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.app import FieldBot
from bot.lineworks.intake import event_key
from bot.webhook import Listener, WebhookServer
from bot.worker import InboxWorkers
from core.accounts import lineworks_account
from core.models import Role
from simulator.lineworks import CallbackDelivery, LineWorksSimulator
from tests.harness import START, Harness, running
from tests.test_note_form import free_port

BOT = "2000001"
ADMIN_USER = "admin@council.example"


class Worker:
    """A LINE WORKS user of the bot."""

    def __init__(self, h: LineWorksHarness, user_id: str) -> None:
        self.h = h
        self.user_id = user_id
        self.presses = 0

    @property
    def account(self) -> int:
        return lineworks_account(self.user_id)

    async def send(self, text: str) -> None:
        self.h.later()
        await self.h.handled(await self.h.sim.send_text(self.user_id, text))

    async def press(self, label: str) -> None:
        """Press the button labelled `label` on the latest message that has one (old messages stay pressable)."""
        self.presses += 1
        self.h.later()
        await self.h.handled(await self.h.sim.press(self.user_id, label))

    async def postback(self, data: str) -> None:
        self.h.later()
        await self.h.handled(await self.h.sim.send_postback(self.user_id, data))

    async def menu(self, label: str) -> None:
        self.h.later()
        await self.h.handled(await self.h.sim.press_menu(self.user_id, label))

    @property
    def contents(self) -> list[dict[str, Any]]:
        return self.h.sim.messages(self.user_id)

    @property
    def texts(self) -> list[str]:
        return [str(c.get("text", "")) for c in self.contents]

    @property
    def last(self) -> str:
        return self.texts[-1] if self.texts else ""

    def labels(self, content: dict[str, Any] | None = None) -> list[str]:
        """The quick-reply labels of a message (by default the last)."""
        chosen = content if content is not None else self.contents[-1]
        return [item["action"]["label"] for item in chosen.get("quickReply", {}).get("items", [])]


class LineWorksHarness:
    def __init__(self, h: Harness, sim: LineWorksSimulator, offset: list[float]) -> None:
        self.h = h
        self.sim = sim
        self._offset = offset
        self._handled: set[int] = set()
        self._changed = asyncio.Event()
        self.listen()

    def later(self) -> None:
        """The next event is issued a millisecond after the last: the bot's clock stands still in tests, and two
        identical bodies issued in the same millisecond are one event (the intake drops a replay)."""
        self._offset[0] += 0.001

    def listen(self) -> None:
        """Hear the workers of the running bot that take its LINE WORKS events (again after a restart)."""
        bot = self.h.bot
        assert bot is not None
        workers = bot.runtime.workers if isinstance(bot.runtime, WebhookServer) else bot.lineworks_workers
        assert workers is not None
        workers.handled.append(self._done)

    def _done(self, update_id: int) -> None:
        self._handled.add(update_id)
        self._changed.set()

    async def handled(self, delivery: CallbackDelivery) -> None:
        """Until the bot has handled the event (it answered 200 once it was kept)."""
        assert delivery.status == 200, delivery.error or delivery.status
        issued = datetime.fromisoformat(str(delivery.event["issuedTime"]).replace("Z", "+00:00"))
        key = event_key(issued, delivery.body)
        async with asyncio.timeout(15):
            while key not in self._handled:
                self._changed.clear()
                await self._changed.wait()

    def worker(self, user_id: str) -> Worker:
        return Worker(self, user_id)

    async def register(self, user_id: str, role: Role = Role.STAFF, zone: str | None = "west") -> Worker:
        """A staff member on LINE WORKS, made directly in the database (the invite flow has its own test)."""
        store = self.h.store
        account = await store.lineworks_users.remember(user_id, self.h.clock.now())
        async with store.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO staff (telegram_id, name, role, zone, area, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (account, user_id, role.value, zone, "kyonan", "2026-01-01T00:00:00.000000Z"),
            )
        store.staff.cache.clear()
        return self.worker(user_id)


class ServeHarness(Harness):
    """The bot as `fieldbot serve` runs it: one listener for Telegram's webhooks, LINE WORKS's callbacks and the
    note form, and workers in the process taking both messengers' events from the inbox."""

    async def start(self) -> FieldBot:
        workers = InboxWorkers(2, timedelta(seconds=30), poll=0.05, publishes_boot=True)
        listener = Listener("127.0.0.1", self.settings.serve_port)
        server = WebhookServer(listener, workers, self.settings.webhook_secret_token(), None)
        bot = FieldBot(
            self.settings,
            clock=self.clock,
            base_file_url=self.api.base_file_url,
            tick_interval=None,
            retry_delays=self.retry_delays,
            rate_limiter=False,
            runtime=server,
        )
        workers.handled.append(lambda update_id: self._event(update_id).set())
        await bot.start()
        self.bot = bot
        return bot


@asynccontextmanager
async def lineworks_running(
    tmp_path: Path, *, telegram: bool = True, serve: bool = False, **settings: Any
) -> AsyncIterator[LineWorksHarness]:
    """The bot with a LINE WORKS bot (ADMIN_USER its admin there) and the simulator on the bot's clock; with
    `telegram` False, a council on LINE WORKS alone (no Telegram token); with `serve`, as `fieldbot serve` runs it."""
    port = free_port()
    clocks: list[Harness] = []
    offset = [0.0]

    def now() -> float:
        return (clocks[0].clock.now() if clocks else START).timestamp() + offset[0]

    async with LineWorksSimulator(bot_id=BOT, per_minute=100_000, clock=now) as sim:
        assert sim.private_key_pem is not None
        key_file = tmp_path / "lineworks.pem"
        key_file.write_bytes(sim.private_key_pem)
        sim.callback_url = f"http://127.0.0.1:{port}/lineworks/{BOT}"
        values: dict[str, Any] = {
            "public_url": f"http://127.0.0.1:{port}",
            "serve_port": port,
            **{k.lower(): v for k, v in sim.bot_settings(key_file).items()},
            "lineworks_per_minute": 10_000,
            "admin_lineworks_ids": [ADMIN_USER],
        }
        if not telegram:
            values["telegram_bot_token"] = None
        values.update(settings)
        async with running(tmp_path, kind=ServeHarness if serve else None, **values) as h:
            clocks.append(h)
            yield LineWorksHarness(h, sim, offset)
