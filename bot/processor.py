"""Process updates of different people concurrently, but each person's updates one at a time, in order."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

DoneCallback = Callable[[int], None]

# The update whose handlers are running in this task (None outside update handling, e.g. scheduled jobs).
CURRENT_UPDATE: contextvars.ContextVar[int | None] = contextvars.ContextVar("current_update", default=None)


def update_key(update: object) -> int | None:
    """Whose update this is: the user for private chats and callbacks, else the chat."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    if update.effective_chat is not None:
        return update.effective_chat.id
    return None


class KeyedUpdateProcessor(BaseUpdateProcessor):
    """A staff member's answers must be applied in the order given; different staff need not wait.

    Listeners hear of every finished update id (tests use it to know when the bot is done reacting).
    """

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self.listeners: list[DoneCallback] = []

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = update_key(update)
        if isinstance(update, Update):
            CURRENT_UPDATE.set(update.update_id)  # this task's context only
        try:
            if key is None:
                await coroutine
                return
            lock = self._locks.setdefault(key, asyncio.Lock())
            self._waiting[key] = self._waiting.get(key, 0) + 1
            try:
                async with lock:
                    await coroutine
            finally:
                self._waiting[key] -= 1
                if self._waiting[key] == 0:
                    # Forget idle people so the table does not grow with every user ever seen.
                    del self._waiting[key]
                    self._locks.pop(key, None)
        finally:
            if isinstance(update, Update):
                self.finished(update.update_id)

    def finished(self, update_id: int) -> None:
        """Tell listeners an update is done (processed here, or dropped by the poller as a redelivery)."""
        for listener in self.listeners:
            listener(update_id)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
