"""Scheduled messages (digests, reminders) sent through Telegram, with each failure classified for the outbox."""

from __future__ import annotations

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from handlers.common import markup
from services.outbound import DeliveryError
from services.screens import Rows

# Generous: a slow answer must not be mistaken for a lost one (which is never retried).
SEND_TIMEOUT = 60


def classify(error: TelegramError) -> DeliveryError:
    if isinstance(error, Forbidden | BadRequest):
        return DeliveryError("failed", f"{type(error).__name__}: {error}")
    if isinstance(error, RetryAfter):
        return DeliveryError("retry", f"rate limited: {error}")
    if isinstance(error, TimedOut):
        return DeliveryError("unknown", f"no answer in time: {error}")
    if isinstance(error, NetworkError) and not str(error).startswith("httpx."):
        # An error answer from the server (500, 502…): the request was refused, so nothing was sent.
        return DeliveryError("retry", f"server error: {error}")
    # The connection broke after the request may have reached Telegram: it may or may not have arrived.
    return DeliveryError("unknown", f"connection lost: {error}")


class TelegramSender:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def text(self, chat_id: int, text: str, buttons: Rows = ()) -> None:
        try:
            await self.bot.send_message(chat_id, text, reply_markup=markup(buttons), read_timeout=SEND_TIMEOUT)
        except TelegramError as exc:
            raise classify(exc) from exc

    async def photo(self, chat_id: int, png: bytes, caption: str) -> None:
        try:
            await self.bot.send_photo(
                chat_id, png, caption=caption, read_timeout=SEND_TIMEOUT, write_timeout=SEND_TIMEOUT
            )
        except TelegramError as exc:
            raise classify(exc) from exc
