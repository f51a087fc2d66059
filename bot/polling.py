"""Long polling that confirms an update to Telegram only after it has been processed.

PTB's Updater confirms a batch as soon as it asks for the next one, so an update fetched but not yet
processed when the process is killed would be lost. Here the offset only moves past updates that are done;
an update seen again (after a restart) is skipped by the processed-update log in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application

from bot.processor import KeyedUpdateProcessor

log = logging.getLogger(__name__)


def seconds(value: object) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on the PTB version and settings."""
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.CHANNEL_POST]


class Poller:
    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        processor: KeyedUpdateProcessor,
        *,
        timeout: int = 30,
        max_backoff: float = 30.0,
    ) -> None:
        self.application = application
        self.timeout = timeout
        self.max_backoff = max_backoff
        self._in_flight: set[int] = set()
        self._highest = -1
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        processor.listeners.append(self._done)

    def _done(self, update_id: int) -> None:
        self._in_flight.discard(update_id)

    @property
    def offset(self) -> int | None:
        """Confirm everything below the oldest update still in flight."""
        if self._in_flight:
            return min(self._in_flight)
        return self._highest + 1 if self._highest >= 0 else None

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="fieldbot-poller")

    async def wait(self) -> None:
        """Until polling ends; re-raises what ended it (a wrong token, another instance polling)."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        bot = self.application.bot
        backoff = 1.0
        while not self._stopping:
            try:
                updates = await bot.get_updates(
                    offset=self.offset,
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
            for update in updates:
                if update.update_id <= self._highest:
                    continue  # queued from an earlier batch (still in flight, or done and not yet confirmed)
                self._highest = max(self._highest, update.update_id)
                self._in_flight.add(update.update_id)
                await self.application.update_queue.put(update)
