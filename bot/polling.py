"""Long polling that never loses an update: each fetched batch is stored before Telegram is told it arrived.

PTB's Updater confirms a batch as soon as it asks for the next one, so an update fetched but not yet
processed when the process is killed would be lost. Here every batch is written to the inbox table first;
at start-up the updates in the inbox that were never processed are processed before polling resumes.
The processed-update log makes a second delivery of the same update a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application

from domain.clock import Clock
from storage.updates import UpdateLog

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.CHANNEL_POST]


def seconds(value: object) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on the PTB version and settings."""
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


class Poller:
    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        inbox: UpdateLog,
        clock: Clock,
        *,
        timeout: int = 30,
        max_backoff: float = 30.0,
    ) -> None:
        self.application = application
        self.inbox = inbox
        self.clock = clock
        self.timeout = timeout
        self.max_backoff = max_backoff
        self._highest = -1
        self._task: asyncio.Task[None] | None = None

    @property
    def bot_id(self) -> int:
        return int(self.application.bot.id)

    async def start(self) -> None:
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

    async def _run(self) -> None:
        bot = self.application.bot
        backoff = 1.0
        while True:
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
            # Stored before the next getUpdates confirms them to Telegram.
            await self.inbox.receive(self.bot_id, [(u.update_id, u.to_json()) for u in fresh], self.clock.now())
            for update in fresh:
                self._highest = max(self._highest, update.update_id)
                await self.application.update_queue.put(update)
