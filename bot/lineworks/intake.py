"""LINE WORKS callbacks at POST /lineworks/{bot_id} on the listener of `fieldbot serve`: each is checked and kept
in the council's inbox before it is answered 200, as Telegram's webhooks are (bot/webhook.py).

A LINE WORKS callback is never sent again, even unanswered, and carries no event id and no sequence number:

- The signature (`X-WORKS-Signature`, base64 of HMAC-SHA256 of the raw body under the bot secret) is checked over
  the bytes as received, in constant time, and `X-WORKS-BotId` must name the path's bot. A request that fails is
  answered 401 (no signature) or 403 (a wrong one, another bot's) and logged with method, status and the route,
  never its body.
- Nothing signed is time-bound, so a replay is ours to catch: the inbox key of an event is made of its
  `issuedTime` (milliseconds) and a hash of its bytes, so the same body posted again is kept once, and an event
  issued more than MAX_EVENT_AGE ago (the inbox remembers what it handled for longer) is dropped and logged.
- Workers take one person's events in `issuedTime` order (the key sorts by it; the ordering key is the sender).
- A body that is kept is committed before the 200. Answered 503 when the store fails: LINE WORKS will not send
  it again, so the person sees no answer and presses or types again (the README says so).

LINE WORKS bots share the inbox with Telegram's under their negated id (`inbox_bot_id`): a Telegram bot id is
positive, so the two can never meet. Handling the kept events (the LINE WORKS adapter) is not built yet.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.lineworks.client import verify_signature
from core.clock import Clock
from storage.interface import Inbox
from storage.types import StorageError

log = logging.getLogger(__name__)

LINEWORKS_ROUTE = "/lineworks/{bot_id}"
SIGNATURE_HEADER = "X-WORKS-Signature"
BOT_HEADER = "X-WORKS-BotId"
MAX_BODY = 64 * 1024  # an event is a few hundred bytes (a text message at most 2,000 characters)
MAX_EVENT_AGE = timedelta(days=1)  # shorter than the inbox remembers handled events (bot/ledger.py REMEMBER)
HASH_BITS = 20  # the low bits of an inbox key: a hash of the body (the high bits: issuedTime in milliseconds)
_BOT_ID = re.compile(r"\d{1,19}")


def inbox_bot_id(bot_id: int) -> int:
    """Where a LINE WORKS bot's events are kept in the inbox: its id negated (Telegram's bot ids are positive)."""
    return -bot_id


def sender_key(user_id: str) -> int:
    """The inbox's ordering key for one LINE WORKS user (ids are strings): 63 bits of their SHA-256."""
    return int.from_bytes(hashlib.sha256(user_id.encode("utf-8")).digest()[:8], "big") >> 1


def event_key(issued: datetime, body: bytes, attempt: int = 0) -> int:
    """The inbox key of an event: its issuedTime in milliseconds, then HASH_BITS of its bytes' hash (the same
    body: the same key), plus `attempt` for a different body that met the same key."""
    millis = int(issued.timestamp() * 1000)
    digest = int.from_bytes(hashlib.sha256(body).digest()[:4], "big") & ((1 << HASH_BITS) - 1)
    return (millis << HASH_BITS) + ((digest + attempt) & ((1 << HASH_BITS) - 1))


class BadEvent(ValueError):
    """A signed body that is no event we can keep: `why` says so in the log (never the body)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True, slots=True)
class Event:
    """What the inbox needs of an event: whose it is (the user; a room's own events, e.g. the bot joined, the
    room's) and when it was issued."""

    sender: str | None
    issued: datetime


def read_event(body: bytes) -> Event:
    try:
        event: Any = json.loads(body.decode("utf-8"))
        source = event["source"]
        sender = source.get("userId") or source.get("channelId")
        issued = datetime.fromisoformat(str(event["issuedTime"]).replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BadEvent("not a LINE WORKS event") from None
    if not (sender is None or isinstance(sender, str)) or issued.tzinfo is None:
        raise BadEvent("not a LINE WORKS event")
    return Event(sender or None, issued.astimezone(UTC))


@dataclass
class LineWorksIntake:
    """One LINE WORKS bot's callbacks: its secret, and the inbox its events go to."""

    bot_id: int
    secret: str
    inbox: Inbox
    clock: Clock
    # Told after an event is committed, with its inbox key (in-process workers wake up; tests listen).
    received: list[Callable[[int], None]] = field(default_factory=list)

    async def keep(self, body: bytes) -> tuple[int, bool]:
        """Keep a checked body in the inbox: its key, and whether it is new (False: the same body, kept before).
        Raises BadEvent, or StorageError when it could not be kept."""
        event = read_event(body)
        now = self.clock.now()
        if now - event.issued > MAX_EVENT_AGE:
            raise BadEvent("issued more than a day ago (a replay?)")
        text = body.decode("utf-8")
        bot = inbox_bot_id(self.bot_id)
        for attempt in range(8):
            key = event_key(event.issued, body, attempt)
            order = sender_key(event.sender) if event.sender is not None else None
            if await self.inbox.enqueue(bot, key, order, text, now):
                return key, True
            if await self.inbox.payload(bot, key) == text:
                return key, False  # the same bytes again: kept once
        raise StorageError("no free inbox key for a LINE WORKS event")


def refuse(request: web.Request, status: int, why: str) -> web.Response:
    log.warning("refused %s %s: %d (%s)", request.method, LINEWORKS_ROUTE, status, why)
    return web.Response(status=status)


@dataclass
class LineWorksCallbacks:
    """The route of every LINE WORKS bot on one listener."""

    bots: dict[str, LineWorksIntake] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path_bot = request.match_info["bot_id"]
        intake = self.bots.get(path_bot) if _BOT_ID.fullmatch(path_bot) else None
        if intake is None:
            return refuse(request, 404, "no such bot")
        if request.content_length is not None and request.content_length > MAX_BODY:
            return refuse(request, 413, "body too large")
        body = await request.read()
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            return refuse(request, 401, "no signature")
        if request.headers.get(BOT_HEADER, "").strip() != path_bot:
            return refuse(request, 403, "another bot's callback")
        if not verify_signature(intake.secret, body, signature):
            return refuse(request, 403, "wrong signature")
        try:
            key, fresh = await intake.keep(body)
        except BadEvent as exc:
            # Signed by LINE WORKS, so not an attack on the signature; not kept, and not worth a resend either.
            log.warning("LINE WORKS callback of bot %s dropped: %s", path_bot, exc.why)
            return web.Response(status=200)
        except StorageError as exc:
            log.error("LINE WORKS callback of bot %s not kept (%s); LINE WORKS will not resend it", path_bot, exc)
            return web.Response(status=503)
        if fresh:
            for listener in intake.received:
                listener(key)
        return web.Response(status=200)
