"""Long polling that never loses an update: the next getUpdates (which confirms a batch) waits until every
update of the batch is settled or kept in the inbox, as the delivery ledger (bot/ledger.py) says.

PTB's Updater confirms a batch as soon as it asks for the next one, so an update fetched but not yet
processed when the process is killed would be lost. Here a batch goes to the handlers at once; most of it is
settled within a few milliseconds (its handler committed), and what is not is written to the inbox before
polling moves on. At start-up the updates in the inbox that were never processed are handled first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application

from bot.ledger import DeliveryLedger
from bot.requests import SafeRequest
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

    def take(self) -> list[bytes]:
        """The answers received since the last call (parsed only if an update of theirs needs the inbox)."""
        bodies, self._bodies = self._bodies, []
        return bodies


def raw_updates(bodies: list[bytes]) -> dict[int, str]:
    """The JSON of each update in these getUpdates answers, by update id."""
    raw: dict[int, str] = {}
    for body in bodies:
        for update in json.loads(body).get("result", []):
            raw[int(update["update_id"])] = json.dumps(update, ensure_ascii=False, separators=(",", ":"))
    return raw


class Poller:
    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        ledger: DeliveryLedger,
        request: RawUpdatesRequest | None = None,
        *,
        timeout: int = 30,
        max_backoff: float = 30.0,
        grace: float = 0.015,
    ) -> None:
        self.application = application
        self.ledger = ledger
        self.request = request
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.grace = grace  # how long a batch may take to settle before it is written to the inbox
        self._highest = -1
        self._task: asyncio.Task[None] | None = None
        self._storing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._replay()
        self._task = asyncio.create_task(self._run(), name="fieldbot-poller")

    async def _replay(self) -> None:
        """Handle what a previous run fetched but did not finish."""
        pending = await self.ledger.load()
        if pending:
            log.info("processing %d update(s) fetched before the last stop", len(pending))
        for update_id, payload in pending:
            update = Update.de_json(json.loads(payload), self.application.bot)
            self._highest = max(self._highest, update_id)
            await self.application.update_queue.put(update)

    async def _store(self, kept: list[Update]) -> None:
        """Keep what is still in flight after the grace period in the inbox; until then the next getUpdates
        (which confirms the batch) waits. Most updates settle within the grace period: they need no inbox row,
        and no inbox write competes with their own write for the database."""
        bodies = self.request.take() if self.request is not None else []
        await self.ledger.wait_settled(self.grace)
        unsettled = set(self.ledger.unsettled([u.update_id for u in kept]))
        if not unsettled:
            return
        raw = raw_updates(bodies)
        payloads = [(u.update_id, raw.get(u.update_id) or u.to_json()) for u in kept if u.update_id in unsettled]
        backoff = 1.0
        while True:
            try:
                await self.ledger.keep(payloads)
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
        """Stop polling; what ended it, if anything did, was already raised by `wait`."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._storing is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._storing  # a batch being kept is finished before the database closes
            self._storing = None

    async def _fetch(self, backoff: float) -> list[Update] | float:
        """The next batch, or how long to wait before asking again (raises what cannot be retried)."""
        try:
            updates = await self.application.bot.get_updates(
                offset=self._highest + 1 if self._highest >= 0 else None,
                timeout=self.timeout,
                allowed_updates=ALLOWED_UPDATES,
                read_timeout=self.timeout + 10,
            )
        except RetryAfter as exc:
            await asyncio.sleep(seconds(exc.retry_after))
            return backoff
        except (InvalidToken, Conflict):
            raise  # nothing to retry: the token is wrong or another instance is polling
        except (TimedOut, NetworkError) as exc:
            log.warning("getUpdates failed (%s); retrying in %.0f s", type(exc).__name__, backoff)
            await asyncio.sleep(backoff)
            return min(backoff * 2, self.max_backoff)
        return list(updates)

    async def _run(self) -> None:
        backoff = 1.0
        while True:
            if self._storing is not None:
                # The batch is handed to the handlers at once (no database write on the way to a reply), but the
                # offset only moves past it once it is settled or in the inbox.
                await self._storing
                self._storing = None
            fetched = await self._fetch(backoff)
            if isinstance(fetched, float):
                backoff = fetched
                continue
            backoff = 1.0
            fresh = [u for u in fetched if u.update_id > self._highest]
            if not fresh:
                continue
            self._highest = max(u.update_id for u in fresh)
            accepted = set(self.ledger.accept([u.update_id for u in fresh]))
            kept = [u for u in fresh if u.update_id in accepted]
            for update in kept:
                await self.application.update_queue.put(update)
            if kept:
                self._storing = asyncio.create_task(self._store(kept), name="fieldbot-inbox")
