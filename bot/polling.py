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
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application
from telegram.request import HTTPXRequest

from domain.clock import Clock
from storage.db import StorageError
from storage.updates import UpdateLog

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.CHANNEL_POST]


def seconds(value: object) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on the PTB version and settings."""
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


class RawUpdatesRequest(HTTPXRequest):
    """The getUpdates connection, keeping the raw answer: the inbox stores each update's JSON as received,
    which is much cheaper than serialising PTB's objects back (Update.to_json walks every nested object)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
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
    ) -> None:
        self.application = application
        self.inbox = inbox
        self.clock = clock
        self.request = request
        self.dropped = dropped  # told of every redelivered update dropped here (it will never be processed)
        self.timeout = timeout
        self.max_backoff = max_backoff
        self._highest = -1
        self._task: asyncio.Task[None] | None = None

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

    async def _keep(self, fresh: list[Update]) -> list[Update]:
        """Drop what was acted on before (Telegram redelivers what a previous run did not confirm), store the
        rest in the inbox, and only then move the offset past the batch."""
        done = self.inbox.processed_among(self.bot_id, [u.update_id for u in fresh])
        if done:
            log.info("%d update(s) delivered again were already processed; ignored", len(done))
            for update_id in sorted(done):
                if self.dropped is not None:
                    self.dropped(update_id)
        kept = [u for u in fresh if u.update_id not in done]
        if kept:
            raw = self.request.take() if self.request is not None else {}
            payloads = [(u.update_id, raw.get(u.update_id) or u.to_json()) for u in kept]
            await self.inbox.receive(self.bot_id, payloads, self.clock.now())
        self._highest = max(u.update_id for u in fresh)
        return kept

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
            try:
                fresh = await self._keep(fresh)
            except StorageError as exc:
                # Not confirmed to Telegram (the offset did not move): the same batch comes again.
                log.error("could not store received updates (%s); retrying in %.0f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            for update in fresh:
                await self.application.update_queue.put(update)
