"""The HTTP listener of `fieldbot serve`: Telegram webhooks at POST /telegram/{bot_id}, one path per bot, each
update answered 200 only once it is committed to the inbox; workers handle it from there (bot/worker.py).

More callers share the listener as routes are added to it (`Listener.add`): the note form's pages (bot/notes.py,
`Listener.add_notes`) and LINE WORKS callbacks at /lineworks/{botId} (bot/lineworks/intake.py). The bot token is
never in a path; a request that is refused is logged with its method, status and a redacted path (a route's
template: never a form link's token), never its body or query string.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web
from telegram import Update

from bot.lineworks.intake import LINEWORKS_ROUTE, LineWorksCallbacks, LineWorksIntake
from bot.notes import NotePages, NoteSite
from bot.polling import ALLOWED_UPDATES
from bot.processor import update_key
from bot.worker import InboxWorkers
from core.clock import Clock
from storage.interface import Inbox
from storage.types import StorageError

if TYPE_CHECKING:
    from bot.app import FieldBot

log = logging.getLogger(__name__)

TELEGRAM_ROUTE = "/telegram/{bot_id}"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # an update is a few kilobytes; Telegram never sends files in one
_BOT_ID = re.compile(r"\d{1,20}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def telegram_path(bot_id: int) -> str:
    return TELEGRAM_ROUTE.format(bot_id=bot_id)


def ordering_key(update: dict[str, Any]) -> int | None:
    """Whose update this is, as the update processor orders them (bot/processor.py): the inbox's ordering key."""
    try:
        return update_key(Update.de_json(update, None))
    except Exception:  # a shape PTB cannot read: no person to keep in order; the handlers will ignore it
        return None


@dataclass
class TelegramIntake:
    """One bot's webhook: its secret, and the inbox its updates go to."""

    bot_id: int
    secret: str
    inbox: Inbox
    clock: Clock
    # Told after an update is committed, with its id (in-process workers wake up; tests and the bench listen).
    received: list[Callable[[int], None]] = field(default_factory=list)


def redacted(request: web.Request) -> str:
    """The path as logs may show it: the route with a bot id that is one, never a token, never a query string."""
    info = request.match_info
    route = info.route.resource.canonical if info.route.resource is not None else None
    if route == TELEGRAM_ROUTE:
        bot_id = info.get("bot_id", "")
        return telegram_path(int(bot_id)) if _BOT_ID.fullmatch(bot_id) else TELEGRAM_ROUTE
    return route or "(no route)"


def refuse(request: web.Request, status: int, why: str) -> web.Response:
    log.warning("refused %s %s: %d (%s)", request.method, redacted(request), status, why)
    return web.Response(status=status)


@web.middleware
async def log_refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Requests no route takes (404, 405) are logged like the others: method, status, no path of theirs."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400:
            log.info("refused %s %s: %d", request.method, redacted(request), exc.status)
        raise


class ListenerError(RuntimeError):
    """The listener's address cannot be taken (in use, not this machine's, a port below 1024)."""


class Listener:
    """One aiohttp server for every route of `fieldbot serve`; routes are added before it starts."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.app = web.Application(client_max_size=MAX_BODY, middlewares=[log_refusals])
        self._bots: dict[str, TelegramIntake] = {}
        self._notes: NotePages | None = None
        self._lineworks: LineWorksCallbacks | None = None
        self._runner: web.AppRunner | None = None

    def add(self, method: str, path: str, handler: Handler) -> None:
        """A route of another caller (LINE WORKS callbacks, the note form's pages)."""
        self.app.router.add_route(method, path, handler)

    def add_telegram(self, intake: TelegramIntake) -> str:
        """Take this bot's webhooks; returns its path (for setWebhook)."""
        if not self._bots:
            self.add("POST", TELEGRAM_ROUTE, self._telegram)
        self._bots[str(intake.bot_id)] = intake
        return telegram_path(intake.bot_id)

    def add_lineworks(self, intake: LineWorksIntake) -> str:
        """Take this LINE WORKS bot's callbacks (bot/lineworks/intake.py); returns its callback path."""
        if self._lineworks is None:
            self._lineworks = LineWorksCallbacks()
            self.add("POST", LINEWORKS_ROUTE, self._lineworks.handle)
        self._lineworks.bots[str(intake.bot_id)] = intake
        return LINEWORKS_ROUTE.format(bot_id=intake.bot_id)

    def add_notes(self, site: NoteSite) -> None:
        """Serve this bot's note form (bot/notes.py)."""
        if self._notes is None:
            self._notes = NotePages()
            self._notes.install(self)
        self._notes.sites[str(site.bot_id)] = site

    async def start(self) -> None:
        """Listen (once: the bots of several councils share it; a bot added later is taken by its path)."""
        if self._runner is not None:
            return
        # No access log: it would write every path and query string.
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException as exc:
            await runner.cleanup()
            if isinstance(exc, OSError):
                why = os.strerror(exc.errno) if exc.errno else str(exc)
                raise ListenerError(f"cannot listen on {self.host}:{self.port} ({why})") from None
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("listening on %s:%d for %d bot(s)", self.host, self.port, len(self._bots))

    async def stop(self) -> None:
        """Stop taking requests; those under way finish first (an update being committed is answered)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _telegram(self, request: web.Request) -> web.StreamResponse:
        intake = self._bots.get(request.match_info["bot_id"])
        if intake is None:
            return refuse(request, 404, "no such bot")
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, intake.secret.encode()):
            return refuse(request, 403, "wrong or missing secret token")
        try:
            payload = (await request.read()).decode("utf-8")
            update = json.loads(payload)
        except web.HTTPRequestEntityTooLarge:
            return refuse(request, 413, "body too large")
        except ValueError:  # not UTF-8, or not JSON
            return refuse(request, 400, "not a JSON update")
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if type(update_id) is not int or update_id < 0:
            return refuse(request, 400, "not a JSON update")
        try:
            fresh = await intake.inbox.enqueue(
                intake.bot_id, update_id, ordering_key(update), payload, intake.clock.now()
            )
        except StorageError as exc:
            # Not kept: Telegram must send it again, so it is not answered 200.
            log.error("update %d of bot %d not kept (%s); Telegram will send it again", update_id, intake.bot_id, exc)
            return web.Response(status=503)
        except Exception:
            log.exception("update %d of bot %d not kept; Telegram will send it again", update_id, intake.bot_id)
            return web.Response(status=500)
        if fresh:
            for listener in intake.received:
                listener(update_id)
        return web.Response(status=200)


@dataclass
class WebhookServer:
    """`fieldbot serve`: the listener, the bot's webhook set to it, and the workers inside this process (none when
    `fieldbot work` processes do all the work). A FieldBot runtime (bot/app.py)."""

    listener: Listener
    workers: InboxWorkers
    secret: str
    # Where Telegram posts: PUBLIC_URL (the HTTPS proxy in front of the listener). None: the listener's own
    # address, for a Bot API server on this machine (the simulator in tests).
    public_url: str | None
    name: str = "fieldbot serve"
    intake: TelegramIntake | None = None
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, bot: FieldBot) -> None:
        assert bot.store is not None and bot.ledger is not None
        path = None
        if bot.application is not None:
            intake = self.intake = TelegramIntake(bot.ledger.bot_id, self.secret, bot.store.inbox, bot.clock)
            intake.received.append(self.workers.wake)
            path = self.listener.add_telegram(intake)
        if bot.lineworks is not None:  # the council's LINE WORKS callbacks, to the same inbox and workers
            bot.lineworks.intake.received.append(self.workers.wake)
            self.listener.add_lineworks(bot.lineworks.intake)
        if bot.notes is not None:  # PUBLIC_URL set: the note form's pages on the same listener
            self.listener.add_notes(bot.note_site())
        await self.workers.start(bot)
        await self.listener.start()
        if bot.application is not None and path is not None:
            base = self.public_url or f"http://{self.listener.host}:{self.listener.port}"
            await bot.application.bot.set_webhook(
                url=base + path, secret_token=self.secret, allowed_updates=ALLOWED_UPDATES
            )
            log.info("webhook set: Telegram posts to %s%s", base, path)

    async def wait(self) -> None:
        await self._stopped.wait()

    async def stop(self) -> None:
        """The listener first (what it is committing is answered), then the workers (what they handle finishes).
        The webhook stays set: Telegram keeps the updates of a stop and sends them when the listener is back."""
        await self.listener.stop()
        await self.workers.stop()
        self._stopped.set()
