"""How scheduled messages (digests, reminders) leave the program: a sender the front end implements, and what
it reports when a message could not be delivered."""

from __future__ import annotations

from typing import Protocol

from services.screens import Rows


class DeliveryError(Exception):
    """A message could not be delivered. `outcome` says what is known:

    - "retry": it certainly did not arrive (an error answer, a rate limit): try again later;
    - "unknown": it may have arrived (the answer was lost): never repeated, to avoid a duplicate;
    - "failed": it can never arrive (the person blocked the bot, the chat is gone).
    """

    def __init__(self, outcome: str, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome


class Sender(Protocol):
    """How scheduled messages leave the program (the Telegram edge implements it)."""

    async def text(self, chat_id: int, text: str, buttons: Rows = ()) -> None:
        """Send text, with buttons."""

    async def photo(self, chat_id: int, png: bytes, caption: str) -> None: ...
