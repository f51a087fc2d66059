"""Process updates of different people concurrently, but each person's updates one at a time, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

Finish = Callable[[int], Awaitable[None]]


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

    When an update's handlers are done, `finish` (the delivery ledger's) records and settles it.
    """

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self.finish: Finish | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        try:
            await self._in_order(update_key(update), coroutine)
        finally:
            if isinstance(update, Update) and self.finish is not None:
                await self.finish(update.update_id)

    async def _in_order(self, key: int | None, coroutine: Awaitable[Any]) -> None:
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

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
