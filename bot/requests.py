"""The bot's HTTP connection to the Bot API: retries what is safe to retry, and keeps the token out of errors."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from typing import Any

from telegram.error import NetworkError, TimedOut
from telegram.request import HTTPXRequest

log = logging.getLogger(__name__)

# Calls that change nothing when repeated: safe to send again when the answer was lost on the way.
IDEMPOTENT = frozenset(
    {
        "getMe",
        "getChat",
        "getFile",
        "getMyCommands",
        "setMyCommands",
        "deleteMyCommands",
        "deleteWebhook",
        "editMessageText",
        "editMessageReplyMarkup",
        "answerCallbackQuery",
        "deleteMessage",
        "sendChatAction",
    }
)
_METHOD = re.compile(r"/bot([^/]+)/([A-Za-z]+)$")


class SafeRequest(HTTPXRequest):
    """HTTPXRequest that

    - retries an error answer from the server (5xx: the request was refused, nothing happened) with backoff;
    - retries a lost answer (a dropped connection, a timeout) only for calls that are harmless to repeat:
      sending a message twice is worse than telling the person it did not go through;
    - removes the token from error answers before python-telegram-bot puts them into an exception
      (a proxy's error page may echo the request URL, which holds the token).
    """

    def __init__(self, *, retry_delays: Sequence[float] = (0.5, 1.0, 2.0), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry_delays = tuple(retry_delays)

    async def do_request(self, url: str, method: str, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        match = _METHOD.search(url)
        token, endpoint = (match.group(1), match.group(2)) if match else ("", "")
        for attempt, delay in enumerate((*self.retry_delays, None)):
            try:
                code, body = await super().do_request(url, method, *args, **kwargs)
            except (TimedOut, NetworkError) as exc:
                if delay is None or endpoint not in IDEMPOTENT:
                    raise
                log.warning("%s: no answer (%s); trying again in %.1f s", endpoint, type(exc).__name__, delay)
            else:
                if code < 500 or delay is None:
                    return code, (body.replace(token.encode(), b"<redacted>") if token and code >= 400 else body)
                log.warning(
                    "%s: server error %d; trying again in %.1f s (attempt %d)", endpoint, code, delay, attempt + 1
                )
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")
