"""Long polling that never loses an update: each fetched batch is stored before Telegram is told it arrived.

PTB's Updater confirms a batch as soon as it asks for the next one, so an update fetched but not yet
processed when the process is killed would be lost. Here every batch is written to the inbox table before
the next getUpdates confirms it (the handlers get it at once, while it is being written); at start-up the
updates in the inbox that were never processed are processed before polling resumes. Updates already
processed (Telegram redelivers what was not confirmed) are dropped here. An update processed before the
next getUpdates is already recorded as processed and needs no inbox row at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application

from bot.requests import SafeRequest
from core.clock import Clock
from storage.sqlite.inbox import UpdateLog
from storage.types import StorageError

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.CHANNEL_POST]


def seconds(value: object) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on the PTB version and settings."""
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


class RawUpdatesRequest(SafeRequest):
    """The getUpdates connection, keeping the raw answer: the inbox stores each update's JSON as received,
    which is much cheaper than serialising PTB's objects back (Update.to_json walks every nested object)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(retry_delays=(), **kwargs)  # the poller retries getUpdates itself, with its own backoff
        self._bodies: list[bytes] = []

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, body = await super().do_request(url, method, *args, **kwargs)
        if url.endswith("/getUpdates") and code == 200:
            self._bodies.append(body)
        return code, body

    def take(self) -> dict[int, str]:
        """The JSON of each update received since the last call, by update id."""
        raw: dict[int, str] = {}
        for body in self._bodies:
            for update in json.loads(body).get("result", []):
                raw[int(update["update_id"])] = json.dumps(update, ensure_ascii=False, separators=(",", ":"))
        self._bodies.clear()
        return raw


class Poller:
    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        inbox: UpdateLog,
        clock: Clock,
        request: RawUpdatesRequest | None = None,
        *,
        dropped: Callable[[int], None] | None = None,
        timeout: int = 30,
        max_backoff: float = 30.0,
        grace: float = 0.015,
    ) -> None:
        self.application = application
        self.inbox = inbox
        self.clock = clock
        self.request = request
        self.dropped = dropped  # told of every redelivered update dropped here (it will never be processed)
        self.timeout = timeout
        self.max_backoff = max_backoff
        self._highest = -1
        self.grace = grace
        self._task: asyncio.Task[None] | None = None
        self._storing: asyncio.Task[None] | None = None
        self._in_flight: set[int] = set()
        self._idle = asyncio.Event()

    def finished(self, update_id: int) -> None:
        """Told when an update no longer needs the inbox: it is done (recorded as processed), or its handler
        committed what it changes (a second delivery would then change nothing)."""
        self._in_flight.discard(update_id)
        if not self._in_flight:
            self._idle.set()

    @property
    def bot_id(self) -> int:
        return int(self.application.bot.id)

    async def start(self) -> None:
        await self.inbox.load(self.bot_id)
        await self._replay()
        self._task = asyncio.create_task(self._run(), name="fieldbot-poller")

    async def _replay(self) -> None:
        """Process what a previous run fetched but did not finish."""
        pending = await self.inbox.unprocessed(self.bot_id)
        if pending:
            log.info("processing %d update(s) fetched before the last stop", len(pending))
        for update_id, payload in pending:
            update = Update.de_json(json.loads(payload), self.application.bot)
            self._highest = max(self._highest, update_id)
            await self.application.update_queue.put(update)

    def _drop_processed(self, fresh: list[Update]) -> list[Update]:
        """Telegram delivers again what a previous run did not confirm: drop what was acted on before."""
        done = self.inbox.processed_among(self.bot_id, [u.update_id for u in fresh])
        if done:
            log.info("%d update(s) delivered again were already processed; ignored", len(done))
            for update_id in sorted(done):
                if self.dropped is not None:
                    self.dropped(update_id)
        return [u for u in fresh if u.update_id not in done]

    async def _store(self, kept: list[Update]) -> None:
        """Keep what is still being processed in the inbox; until then the next getUpdates (which confirms the
        batch) waits. Most updates are done within the grace period: recorded as processed, they need no inbox
        row, and no inbox write competes with their own write for the database."""
        raw = self.request.take() if self.request is not None else {}
        # asyncio.wait, not wait_for: on Python 3.11 wait_for can turn a cancellation that meets its timeout into
        # a TimeoutError, and a swallowed cancellation would leave stop() waiting on a long poll.
        idle = asyncio.ensure_future(self._idle.wait())
        try:
            await asyncio.wait({idle}, timeout=self.grace)
        finally:
            idle.cancel()
        unfinished = [u for u in kept if u.update_id in self._in_flight]
        if not unfinished:
            return
        payloads = [(u.update_id, raw.get(u.update_id) or u.to_json()) for u in unfinished]
        backoff = 1.0
        while True:
            try:
                await self.inbox.receive(self.bot_id, payloads, self.clock.now())
                return
            except StorageError as exc:
                log.error("could not store received updates (%s); retrying in %.0f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    async def wait(self) -> None:
        """Until polling ends; re-raises what ended it (a wrong token, another instance polling)."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._storing is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._storing  # a batch being kept is finished before the database closes
            self._storing = None

    async def _run(self) -> None:
        bot = self.application.bot
        backoff = 1.0
        while True:
            if self._storing is not None:
                # The batch is handed to the handlers at once (no database write on the way to a reply), but the
                # offset only moves past it once it is in the inbox.
                await self._storing
                self._storing = None
            try:
                updates = await bot.get_updates(
                    offset=self._highest + 1 if self._highest >= 0 else None,
                    timeout=self.timeout,
                    allowed_updates=ALLOWED_UPDATES,
                    read_timeout=self.timeout + 10,
                )
                backoff = 1.0
            except RetryAfter as exc:
                await asyncio.sleep(seconds(exc.retry_after))
                continue
            except (InvalidToken, Conflict):
                raise  # nothing to retry: the token is wrong or another instance is polling
            except (TimedOut, NetworkError) as exc:
                log.warning("getUpdates failed (%s); retrying in %.0f s", type(exc).__name__, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            fresh = [u for u in updates if u.update_id > self._highest]
            if not fresh:
                continue
            kept = self._drop_processed(fresh)
            self._highest = max(u.update_id for u in fresh)
            if kept:
                self._in_flight.update(u.update_id for u in kept)
                self._idle.clear()
            for update in kept:
                await self.application.update_queue.put(update)
            if kept:
                self._storing = asyncio.create_task(self._store(kept), name="fieldbot-inbox")
