"""The queue of updates waiting for the bot, with Telegram's offset confirmation and allowed_updates filter."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.protocol import OPT_IN_UPDATES, JSONDict


@dataclass
class PendingUpdate:
    update_id: int
    kind: str
    payload: JSONDict
    chat_id: int | None
    fetched_seq: int | None = None  # the server event of its first delivery
    deliveries: int = 0


class UpdateQueue:
    """Updates stay until a getUpdates offset past them confirms them; the last allowed_updates list sticks."""

    def __init__(self, first_update_id: int) -> None:
        self.pending: list[PendingUpdate] = []
        self.by_id: dict[int, PendingUpdate] = {}
        self.allowed: list[str] | None = None
        self.poll_generation = 0
        self.polls_waiting = 0
        self._next_id = first_update_id

    def add(self, kind: str, body: JSONDict, chat_id: int | None) -> PendingUpdate:
        update_id = self._next_id
        self._next_id += 1
        update = PendingUpdate(update_id, kind, {"update_id": update_id, kind: body}, chat_id)
        self.pending.append(update)
        self.by_id[update_id] = update
        return update

    def confirm(self, offset: int) -> None:
        """A positive offset confirms every update before it; a negative one keeps only the last -offset."""
        if offset > 0:
            self.pending = [u for u in self.pending if u.update_id >= offset]
        elif offset < 0:
            self.pending = self.pending[offset:]

    def available(self, offset: int, limit: int) -> list[PendingUpdate]:
        allowed = self.allowed
        ready = [
            u
            for u in self.pending
            if u.update_id >= offset and (u.kind in allowed if allowed is not None else u.kind not in OPT_IN_UPDATES)
        ]
        return ready[:limit]

    def allow(self, allowed: object) -> None:
        """Remember allowed_updates; an empty list means the default (everything but the opt-in kinds)."""
        if isinstance(allowed, list):
            self.allowed = [str(a) for a in allowed] or None

    def redeliver(self, update_ids: tuple[int, ...]) -> None:
        for update_id in update_ids:
            update = self.by_id[update_id]
            if update not in self.pending:
                self.pending.append(update)
        self.pending.sort(key=lambda u: u.update_id)

    def drop_pending(self) -> None:
        self.pending.clear()
