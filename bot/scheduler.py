"""The periodic tick: every due digest and reminder is worked out from database rows and sent once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Task = Callable[[], Awaitable[int]]


class Scheduler:
    """Runs its tasks in order on every tick; ticks never overlap. Nothing lives only in memory: each task
    derives what is due from rows and the outbox, so a restart neither loses nor repeats anything."""

    def __init__(self, tasks: list[tuple[str, Task]]) -> None:
        self.tasks = tasks
        self._lock = asyncio.Lock()

    async def tick(self) -> dict[str, int]:
        done: dict[str, int] = {}
        async with self._lock:
            for name, task in self.tasks:
                try:
                    done[name] = await task()
                except Exception:
                    log.exception("scheduled task %s failed; it runs again at the next tick", name)
                    done[name] = 0
        return done
