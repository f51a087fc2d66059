"""Inbox workers: claim webhook updates from the inbox, one person's at a time and in order, and hand each to the
path long polling uses (the application's update queue, the keyed update processor, the delivery ledger), so that
every write still records its update in processed_updates and a second delivery changes nothing. A LINE WORKS
event (kept under its bot's negated id) goes to its front end's handler instead (`fronts`), then is recorded.

A process runs `loops` claim loops (asyncio tasks) under one worker id and one lease: `fieldbot serve` runs them
beside its listener and is woken by it; a `fieldbot work` process looks at the inbox every `poll` seconds when it
finds nothing. A heartbeat renews the process's leases and frees the claims of workers whose lease ran out (a
worker killed mid-update): their update is handled again by a live worker, or, if its unit of work had committed,
marked handled. Any number of processes may share one database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from telegram import Update

from storage.types import IdempotencyKey, InboxClaim, StorageError

if TYPE_CHECKING:
    from bot.app import FieldApplication, FieldBot
    from core.clock import Clock
    from storage.sqlite.store import SqlStore

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # claims of one update before it is given up (a worker died on it every time)
BOOT_KEY = "webhook_boot_id"  # in meta: the deployment's boot, the same for every worker (see `_refresh_boot`)


def worker_name(boot_id: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{boot_id[:8]}"


@dataclass
class InboxWorkers:
    """`loops` claim loops sharing one worker id; started with the bot (FieldBot.runtime hands them the bot)."""

    loops: int
    lease: timedelta
    poll: float  # seconds between looks at the inbox when nothing woke the loops
    # Whether this process publishes the deployment's boot id (`fieldbot serve`) or follows it (`fieldbot work`).
    publishes_boot: bool = False
    # Told of every update handled, with its id (tests and the bench listen).
    handled: list[Callable[[int], None]] = field(default_factory=list)
    name: str = "fieldbot work"  # as the database's lock file names its holder (FieldBot.runtime)
    # Whether the loops take Telegram's webhook updates (False under long polling, which handles its own).
    telegram: bool = True
    # Other front ends' inboxes (LINE WORKS bots, under their inbox bot id): each kept event's JSON and key go to
    # their front end's handler; the event is then recorded as processed, as the ledger does for Telegram's.
    fronts: dict[int, Callable[[str, IdempotencyKey], Awaitable[None]]] = field(default_factory=dict)
    worker: str = ""  # this process's worker id in claims: host:pid:boot
    _bot: FieldBot | None = None
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _waiting: dict[int, asyncio.Future[None]] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _heartbeat: asyncio.Task[None] | None = None
    _stopping: bool = False

    # ---------------------------------------------------------------- life cycle
    async def start(self, bot: FieldBot) -> None:
        assert bot.store is not None and bot.ledger is not None
        self._bot = bot
        self.worker = self.worker or worker_name(bot.boot_id)
        if bot.lineworks is not None:  # the council's LINE WORKS events, kept in the same inbox
            self.fronts.setdefault(bot.lineworks.inbox_bot, bot.lineworks.front.handle)
        bot.ledger.listeners.append(self._finished)
        if self.publishes_boot:
            await bot.store.meta.put(BOOT_KEY, bot.boot_id)
        else:
            await self._follow_boot()
        self._heartbeat = asyncio.create_task(self._beat(), name="fieldbot-worker-heartbeat")
        self._tasks = [asyncio.create_task(self._loop(), name=f"fieldbot-worker-{i}") for i in range(self.loops)]
        if self.loops:
            log.info("worker %s started: %d loop(s), lease %.1f s", self.worker, self.loops, self._seconds)

    async def wait(self) -> None:
        """Until stopped (a `fieldbot work` process runs until a signal)."""
        await self._stopped.wait()

    def wake(self, update_id: int | None = None) -> None:
        """Something may be claimable: an update was received, or a claim was freed."""
        self._wakeup.set()

    async def stop(self, grace: float | None = None) -> None:
        """Claim nothing more; let the updates under way finish (at most `grace` seconds, by default the lease:
        after it, another worker would take them over anyway)."""
        self._stopping = True
        self.wake()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=grace if grace is not None else self._seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks = []
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
            self._heartbeat = None
        self._stopped.set()

    @property
    def _seconds(self) -> float:
        return self.lease.total_seconds()

    @property
    def _parts(self) -> tuple[FieldApplication | None, SqlStore, int, Clock]:
        bot = self._bot
        assert bot is not None and bot.store is not None and bot.ledger is not None
        return bot.application, bot.store, bot.ledger.bot_id, bot.clock

    # ---------------------------------------------------------------- claiming
    def _inboxes(self) -> list[int]:
        """The inbox bot ids these loops take from: Telegram's (unless polling), then each other front end's."""
        application, _, bot_id, _ = self._parts
        return [*([bot_id] if self.telegram and application is not None else []), *self.fronts]

    async def _claim(self) -> tuple[int, InboxClaim] | None:
        """The next claimable update of any inbox this process serves (each looked at in turn)."""
        _, store, _, clock = self._parts
        for inbox in self._inboxes():
            try:
                claim = await store.inbox.claim(inbox, self.worker, clock.now(), self.lease)
            except StorageError as exc:
                log.warning("worker %s could not claim an update (%s); trying again", self.worker, exc)
                continue
            if claim is not None:
                return inbox, claim
        return None

    async def _loop(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            claimed = await self._claim()
            if claimed is None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll):
                        await self._wakeup.wait()
                continue
            inbox, claim = claimed
            try:
                await self._handle(inbox, claim)
            except Exception:
                log.exception("worker %s failed on update %d", self.worker, claim.update_id)

    async def _handle(self, inbox: int, claim: InboxClaim) -> None:
        _, store, _, clock = self._parts
        # Other processes write this database too: nothing cached here may be older than their last commit.
        store.forget_cached()
        key = IdempotencyKey(inbox, claim.update_id)
        if claim.attempts > MAX_ATTEMPTS:
            log.error(
                "update %d given up after %d attempts (a worker died on it each time)",
                claim.update_id,
                claim.attempts - 1,
            )
            await store.inbox.record(key, clock.now())
        else:
            if claim.attempts > 1:
                log.warning("update %d taken over (attempt %d)", claim.update_id, claim.attempts)
            front = self.fronts.get(inbox)
            if front is not None:
                await self._front(front, key, claim.payload)
            else:
                await self._telegram(claim)
        # Another front end's event is recorded as processed as it is released (Telegram's: by the ledger).
        await self._release(inbox, claim.update_id, record=inbox in self.fronts)
        for listener in self.handled:
            listener(claim.update_id)

    async def _front(
        self, front: Callable[[str, IdempotencyKey], Awaitable[None]], key: IdempotencyKey, payload: str
    ) -> None:
        """Another front end's event, to its handler (recorded as processed when it is released)."""
        try:
            await front(payload, key)
        except Exception:
            log.exception("event %d of inbox %d failed", key.update_id, key.bot_id)

    async def _telegram(self, claim: InboxClaim) -> None:
        application, _, _, _ = self._parts
        assert application is not None  # Telegram's inbox is served only with a Telegram bot (`_inboxes`)
        try:
            update = Update.de_json(json.loads(claim.payload), application.bot)
        except Exception:
            log.exception("update %d could not be read; dropped", claim.update_id)
            return
        done = asyncio.get_running_loop().create_future()
        self._waiting[claim.update_id] = done
        try:
            await application.update_queue.put(update)
            await done  # the delivery ledger's `finish`: the handlers are done and the update recorded
        finally:
            self._waiting.pop(claim.update_id, None)

    def _finished(self, update_id: int) -> None:
        done = self._waiting.get(update_id)
        if done is not None and not done.done():
            done.set_result(None)

    async def _release(self, inbox: int, update_id: int, *, record: bool = False) -> None:
        """Mark the update handled; the next update of the same person becomes claimable. If the database refuses
        for a while, the lease runs out and the heartbeat of some worker finds the update processed."""
        _, store, _, clock = self._parts
        for delay in (0.05, 0.2, 1.0, None):
            try:
                if not await store.inbox.release(
                    inbox, update_id, self.worker, clock.now(), handled=True, record=record
                ):
                    log.warning("update %d was taken over by another worker before it was done here", update_id)
                self.wake()
                return
            except StorageError as exc:
                if delay is None:
                    log.error("update %d handled but not marked so (%s); its lease will run out", update_id, exc)
                    return
                await asyncio.sleep(delay)

    # ---------------------------------------------------------------- the heartbeat
    async def _beat(self) -> None:
        _, store, _, clock = self._parts
        while True:
            await asyncio.sleep(self._seconds / 3)
            try:
                for inbox in self._inboxes():
                    await store.inbox.renew(inbox, self.worker, clock.now(), self.lease)
                    for update_id, worker in await store.inbox.take_over(inbox, clock.now()):
                        log.warning("worker %s stopped answering; update %d is free to take again", worker, update_id)
                        self.wake()
                if not self.publishes_boot:
                    await self._follow_boot()
            except StorageError as exc:
                log.warning("worker %s heartbeat failed (%s); trying again", self.worker, exc)

    async def _follow_boot(self) -> None:
        """Drafts answered before the deployment started are offered to resume first (services/flow.py compares
        boot ids): every worker uses the boot id of the running `fieldbot serve`, so an answer handled by another
        worker is not mistaken for one from before a restart, and a worker restarting restarts nothing."""
        bot, store = self._bot, self._parts[1]
        assert bot is not None and bot.services is not None
        published = await store.meta.get(BOOT_KEY)
        flows = bot.services.flows
        if published and flows.boot_id != published:
            flows.boot_id = published
