"""The delivery ledger: the one owner of "nothing lost, nothing twice" for incoming updates.

Telegram delivers an update at least once: again after a restart if it was not confirmed, and an update
confirmed but not handled is gone. The ledger keeps three sets and one rule.

- **In flight**: fetched and handed to the handlers, not yet settled. Telegram must not be told they arrived
  (the next getUpdates' offset confirms everything before it) until each is settled or kept in the inbox.
- **Inbox** (a table): updates still in flight when the poller needs to move on are written there with their
  raw JSON; at start-up the ones never processed are handled before polling resumes.
- **Processed** (a table, and its ids in memory): updates acted on. A redelivered one is dropped on arrival.

The rule, for anyone who adds a handler that writes:

1. Every mutating service call takes the update's `IdempotencyKey` and writes inside `store.unit(key, now)`.
   The unit records the key in the processed set in the same transaction as the change: a second delivery
   raises AlreadyProcessed there and changes nothing. Writes made outside a unit are not protected.
2. When a unit with a key commits, the update is **settled** (`settled`): its effects are durable, so it may
   be confirmed to Telegram at once, before the reply has even been sent.
3. When the handlers of an update are done (`finish`, called by the update processor), an update that wrote
   nothing is recorded as processed, and the update is settled.

So the poller confirms an update once it is settled or kept in the inbox, never before (see bot/polling.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta

from core.clock import Clock
from storage.sqlite.inbox import Inbox
from storage.types import IdempotencyKey, StorageError

log = logging.getLogger(__name__)

# Telegram keeps an unconfirmed update for 24 hours: a processed id older than this can never come back.
REMEMBER = timedelta(days=2)


class DeliveryLedger:
    def __init__(self, inbox: Inbox, bot_id: int, clock: Clock) -> None:
        self.inbox = inbox
        self.bot_id = bot_id
        self.clock = clock
        self._processed: set[int] = set()
        self._recorded_in_unit: set[int] = set()  # recorded by a unit of work: `finish` writes nothing more
        self._in_flight: set[int] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        # Told of every update that is done: handled, or dropped as a redelivery (tests and the demo wait on it).
        self.listeners: list[Callable[[int], None]] = []

    def key(self, update_id: int) -> IdempotencyKey:
        return IdempotencyKey(self.bot_id, update_id)

    async def load(self) -> list[tuple[int, str]]:
        """At start-up: the processed ids, and the updates a previous run fetched but never finished (id, JSON),
        oldest first, which are in flight again from now on."""
        self._processed = await self.inbox.processed_ids(self.bot_id)
        pending = await self.inbox.unprocessed(self.bot_id)
        self._track(update_id for update_id, _ in pending)
        return pending

    def accept(self, update_ids: list[int]) -> list[int]:
        """A fetched batch: the updates to handle (now in flight). Those acted on before are dropped."""
        dropped = [u for u in update_ids if u in self._processed]
        if dropped:
            log.info("%d update(s) delivered again were already processed; ignored", len(dropped))
            for update_id in sorted(dropped):
                self._notify(update_id)
        kept = [u for u in update_ids if u not in self._processed]
        self._track(kept)
        return kept

    def unsettled(self, update_ids: list[int]) -> list[int]:
        """Which of these are still in flight."""
        return [u for u in update_ids if u in self._in_flight]

    async def wait_settled(self, seconds: float) -> None:
        """Until nothing is in flight, or the timeout."""
        # asyncio.wait, not wait_for: on Python 3.11 wait_for can turn a cancellation that meets its timeout into
        # a TimeoutError, and a swallowed cancellation would leave a stop waiting on a long poll.
        idle = asyncio.ensure_future(self._idle.wait())
        try:
            await asyncio.wait({idle}, timeout=seconds)
        finally:
            idle.cancel()

    async def keep(self, payloads: list[tuple[int, str]]) -> None:
        """Write updates still in flight to the inbox (id, raw JSON): from now on a crash cannot lose them."""
        await self.inbox.receive(self.bot_id, payloads, self.clock.now())

    def settled(self, key: IdempotencyKey) -> None:
        """A unit of work under this key committed: the update's effects are durable."""
        if key.bot_id != self.bot_id:
            return
        self._processed.add(key.update_id)
        self._recorded_in_unit.add(key.update_id)
        self._settle(key.update_id)

    async def finish(self, update_id: int) -> None:
        """The handlers of an update are done: record it as processed if no unit did, and settle it."""
        try:
            if update_id in self._recorded_in_unit:
                self._recorded_in_unit.discard(update_id)
            else:
                await self.inbox.record(self.key(update_id), self.clock.now())
                self._processed.add(update_id)
        except StorageError as exc:
            # Not recorded: a redelivery would be handled again. Handlers that wrote did so under the key.
            log.warning("could not record update %s as processed: %s", update_id, exc)
        finally:
            self._settle(update_id)
            self._notify(update_id)

    async def prune(self) -> int:
        """Forget processed updates that can no longer be delivered again; returns how many ids were forgotten."""
        oldest = await self.inbox.prune(self.clock.now() - REMEMBER)
        floor = oldest.get(self.bot_id)
        before = len(self._processed)
        self._processed = {u for u in self._processed if floor is not None and u >= floor}
        return before - len(self._processed)

    def _track(self, update_ids: Iterable[int]) -> None:
        for update_id in update_ids:
            self._in_flight.add(update_id)
            self._idle.clear()

    def _settle(self, update_id: int) -> None:
        self._in_flight.discard(update_id)
        if not self._in_flight:
            self._idle.set()

    def _notify(self, update_id: int) -> None:
        for listener in self.listeners:
            listener(update_id)
