"""The running bot: the PTB Application wired to storage, the handlers in order, polling, start and stop."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from telegram import BotCommand, BotCommandScopeAllPrivateChats
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, ExtBot

from bot.councils import child_councils
from bot.ledger import DeliveryLedger
from bot.lineworks.bot import LineWorksBot, RoutedSender
from bot.lineworks.client import MinuteBudget
from bot.lineworks.intake import inbox_bot_id
from bot.notes import NoteSite
from bot.polling import Poller, RawUpdatesRequest
from bot.processor import KeyedUpdateProcessor
from bot.requests import SafeRequest
from bot.scheduler import Scheduler
from bot.settings import LineWorksSettings, Settings, lineworks_settings
from bot.webhook import Listener
from bot.worker import InboxWorkers
from core.accounts import is_lineworks
from core.clock import Clock, SystemClock, utc_iso
from core.i18n import t
from core.taxonomy import Taxonomy, load_taxonomy
from core.webapp import FormLinks
from handlers import access, errors, followups, menu, places, reports, visit
from handlers.common import BotData, Context, Services
from handlers.common import deliver as handlers_deliver
from handlers.delivery import TelegramSender
from services.city import CityService
from services.deps import Deps, Forms
from services.digest import DigestService
from services.flow import FlowService
from services.followups import FollowUpService
from services.notes import NoteFormService
from services.outbound import Sender
from services.places import PlaceService
from services.reminders import DraftExpiryService, ReminderService, RetentionService
from services.reporting import ReportService
from services.screens import Reply
from services.staff import StaffService
from storage.engines import open_store
from storage.sqlite.lock import WriterLock
from storage.sqlite.store import SqlStore

log = logging.getLogger(__name__)

COMMANDS = ("visit", "consult", "followups", "cancel", "mine", "report", "places", "export", "area", "help")


# The PTB Application with fieldbot's typed context (PTB's ContextTypes).
FieldApplication = Application[ExtBot[None], Context, dict[Any, Any], dict[Any, Any], BotData, Any]


def register_handlers(application: FieldApplication) -> None:
    """Every handler, in the order PTB tries them (the first that matches an update handles it).

    Redelivered updates never get here: the delivery ledger drops those already processed (bot/ledger.py), and
    records each update as processed once its handlers are done.
    """
    application.add_handlers(access.handlers())
    application.add_handlers(visit.handlers())
    application.add_handlers(followups.handlers())
    application.add_handlers(reports.handlers())
    application.add_handlers(places.handlers())
    application.add_handlers(menu.handlers())
    application.add_handlers(visit.text_handlers())
    application.add_handlers(access.fallback_handlers())
    application.add_error_handler(errors.on_error)


def build_services(deps: Deps, boot_id: str, bot_id: int, admin_ids: frozenset[int]) -> Services:
    return Services(
        flows=FlowService(deps, boot_id),
        followups=FollowUpService(deps),
        reports=ReportService(deps),
        staff=StaffService(deps, admin_ids),
        places=PlaceService(deps),
        city=CityService(deps),
        bot_id=bot_id,
    )


async def set_commands(application: FieldApplication) -> None:
    commands = [BotCommand(name, t(f"commands.{name}")) for name in COMMANDS]
    await application.bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats())


class Runtime(Protocol):
    """What brings updates in instead of long polling: the webhook listener and the inbox workers of
    `fieldbot serve` and `fieldbot work` (bot/webhook.py, bot/worker.py), started once the application runs."""

    name: str  # who holds the database, in the lock file ("fieldbot serve")

    async def start(self, bot: FieldBot) -> None: ...
    async def wait(self) -> None: ...
    async def stop(self) -> None: ...


@dataclass
class FieldBot:
    """Store, services, application, ledger and poller, started and stopped together."""

    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    taxonomy: Taxonomy | None = None
    base_url: str | None = None
    base_file_url: str | None = None
    rate_limiter: bool = True
    application: FieldApplication | None = None
    store: SqlStore | None = None
    deps: Deps | None = None
    ledger: DeliveryLedger | None = None
    poller: Poller | None = None
    processor: KeyedUpdateProcessor = field(default_factory=KeyedUpdateProcessor)
    boot_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    updates_request: RawUpdatesRequest = field(
        default_factory=lambda: RawUpdatesRequest(connection_pool_size=1, read_timeout=40, connect_timeout=10)
    )
    scheduler: Scheduler | None = None
    lock: WriterLock | None = None  # one writer per database (storage/sqlite/lock.py)
    # Told of every update that is done (handled, or dropped as a redelivery): tests and the demo wait on it.
    finished_listeners: list[Callable[[int], None]] = field(default_factory=list)
    # Seconds between scheduler ticks; None: no automatic ticks (tests call scheduler.tick() themselves).
    tick_interval: float | None = 30.0
    # Waits before each retry of a refused (5xx) or, when harmless, unanswered Bot API call.
    retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0)
    # How long a write waits for another writer (a backup, an import) before it fails as "busy".
    busy_timeout_ms: int = 5000
    # None: long polling. Else the webhook runtime, whose processes share the database (a shared lock).
    runtime: Runtime | None = None
    # Whether this process runs the scheduled jobs: a deployment has one scheduler (not `fieldbot work`).
    schedules: bool = True
    notes: NoteFormService | None = None  # the note form (services/notes.py), when PUBLIC_URL is set
    listener: Listener | None = None  # long polling with the note form: its pages' listener
    lineworks: LineWorksBot | None = None  # the council's LINE WORKS bot, when LINEWORKS_BOT_ID is set
    lineworks_budget: MinuteBudget | None = None  # shared with the other bots of its LINE WORKS domain, if any
    lineworks_workers: InboxWorkers | None = None  # long polling with LINE WORKS: the workers of its events
    services: Services | None = None  # what the front ends call (bot_data.services on Telegram)
    _ticker: asyncio.Task[None] | None = None  # the scheduler's ticks without Telegram's job queue
    _stopped: asyncio.Event = field(default_factory=asyncio.Event)  # waited on when nothing else runs

    async def start(self) -> None:
        settings = self.settings
        lineworks = lineworks_settings(settings)
        # Telegram unless the council is on LINE WORKS alone (a missing token is then no error).
        token = settings.token() if settings.telegram_bot_token is not None or lineworks is None else None
        # The council's bot id (idempotency keys, form links): its Telegram bot's, or on LINE WORKS alone its LINE
        # WORKS bot's inbox id (negative: never a Telegram bot's).
        bot_id = int(token.split(":", 1)[0]) if token is not None else self._lineworks_only_id(lineworks)
        taxonomy = self.taxonomy or load_taxonomy(settings.taxonomy_file)
        runtime = self.runtime
        what, shared = ("the bot", False) if runtime is None else (runtime.name, True)
        self.lock = WriterLock.acquire(settings.database_path, what, shared=shared)
        store = self.store = await self._open_store()
        children = child_councils(settings)  # the councils under this one, if any (市社協 over 区社協)
        forms = self._forms(bot_id)
        deps = self.deps = Deps(store, taxonomy, self.clock, ZoneInfo(settings.timezone), children, forms)
        ledger = self.ledger = DeliveryLedger(store.inbox, bot_id, self.clock)
        ledger.listeners.extend(self.finished_listeners)
        if token is not None:  # the ledger follows Telegram's updates (LINE WORKS's are the workers' alone)
            store.settled = ledger.settled
        self.processor.finish = ledger.finish
        admins = {*settings.admin_telegram_ids, *(await self._lineworks_admins(store, lineworks))}
        services = self.services = build_services(deps, self.boot_id, bot_id, frozenset(admins))
        if forms is not None:
            self.notes = NoteFormService(deps, services.flows, services.followups, services.staff)
        if lineworks is not None:
            self.lineworks = LineWorksBot.build(lineworks, services, store, self.clock, self.lineworks_budget)
        telegram = self._telegram(token, services) if token is not None else None
        rooms = await self.lineworks.digest_rooms(self.clock.now()) if self.lineworks is not None else []
        self.scheduler = self._scheduler(deps, ledger, RoutedSender(telegram, self.lineworks), rooms)
        await self._start_messengers()
        if runtime is not None:
            await runtime.start(self)
        else:
            if forms is not None:  # one council on long polling: its own listener (the note form, LINE WORKS)
                await self._own_listener()
            if self.application is not None:
                self.poller = Poller(self.application, ledger, self.updates_request)
                await self.poller.start()
        log.info("fieldbot started as %s (boot %s)", self._names(), self.boot_id[:8])

    @staticmethod
    def _lineworks_only_id(lineworks: LineWorksSettings | None) -> int:
        assert lineworks is not None
        return inbox_bot_id(int(lineworks.bot_id))

    def _telegram(self, token: str, services: Services) -> TelegramSender:
        """The Telegram bot: the PTB application with every handler; its sender for scheduled messages."""
        application = self.application = self._build_application(token)
        application.bot_data.services = services
        register_handlers(application)
        return TelegramSender(application.bot)

    async def _start_messengers(self) -> None:
        """Start the Telegram application (commands set) and register LINE WORKS's menu; the scheduler's ticks
        run on PTB's job queue, or on a task of their own without Telegram."""
        application = self.application
        if application is not None:
            await application.initialize()
            await set_commands(application)
            await application.start()
        if self.schedules and self.tick_interval is not None:
            if application is not None and application.job_queue is not None:
                application.job_queue.run_repeating(self._tick, interval=self.tick_interval, first=1, name="scheduler")
            else:
                self._ticker = asyncio.create_task(self._ticking(self.tick_interval), name="fieldbot-scheduler")
        if self.lineworks is not None:
            await self.lineworks.register_menu()

    async def _ticking(self, interval: float) -> None:
        await asyncio.sleep(1)
        while True:
            try:
                await self._tick(None)
            except Exception:
                log.exception("scheduler tick failed")
            await asyncio.sleep(interval)

    def _names(self) -> str:
        names = [f"@{self.application.bot.username}"] if self.application is not None else []
        if self.lineworks is not None:
            names.append(f"LINE WORKS bot {self.lineworks.config.bot_id}")
        return " and ".join(names)

    async def _lineworks_admins(self, store: SqlStore, lineworks: LineWorksSettings | None) -> list[int]:
        """ADMIN_LINEWORKS_IDS as admins, by their account numbers (core/accounts.py)."""
        accounts = []
        for user_id in lineworks.admins if lineworks is not None else ():
            account = await store.lineworks_users.remember(user_id, self.clock.now())
            await store.staff.ensure_admin(account, self.clock.now())
            accounts.append(account)
        return accounts

    async def _own_listener(self) -> None:
        """Long polling with PUBLIC_URL: a listener of its own for the note form and LINE WORKS callbacks, and
        workers for the LINE WORKS events (Telegram's updates stay with the poller)."""
        settings = self.settings
        listener = self.listener = Listener(settings.serve_host, settings.serve_port)
        listener.add_notes(self.note_site())
        if self.lineworks is not None:
            workers = self.lineworks_workers = InboxWorkers(
                2,
                timedelta(seconds=settings.worker_lease_seconds),
                settings.worker_poll_seconds,
                publishes_boot=True,
                telegram=False,
                name="the bot",
            )
            self.lineworks.intake.received.append(workers.wake)
            listener.add_lineworks(self.lineworks.intake)
            await workers.start(self)
        await listener.start()

    def _forms(self, bot_id: int) -> Forms | None:
        """The note form, when the bot has a public address its pages are served at (PUBLIC_URL)."""
        settings = self.settings
        if settings.public_url is None:
            return None
        return Forms(FormLinks(settings.sealer(), settings.public_url, bot_id), typing=settings.note_typing)

    def note_site(self) -> NoteSite:
        """This bot's note form, for a listener (its own, or the one `fieldbot serve` shares)."""
        assert self.deps is not None and self.deps.forms is not None and self.notes is not None
        assert self.services is not None and self.store is not None
        bot = self.application.bot if self.application is not None else None
        flows, store, lineworks = self.services.flows, self.store, self.lineworks

        async def deliver(chat_id: int, reply: Reply) -> None:
            if is_lineworks(chat_id) and lineworks is not None:
                await lineworks.deliver(chat_id, reply)
            elif bot is not None:
                await handlers_deliver(bot, flows, chat_id, reply)

        return NoteSite(
            bot_id=self.deps.forms.links.bot_id,
            bot_token=self.settings.token() if self.application is not None else None,
            service=self.notes,
            links=self.deps.forms.links,
            clock=self.clock,
            deliver=deliver,
            launch_max_age=timedelta(minutes=self.settings.note_launch_max_age_minutes),
            refresh=store.forget_cached if self.runtime is not None else None,
        )

    async def _open_store(self) -> SqlStore:
        settings = self.settings
        store = await open_store(
            settings.database_path,
            settings.postgres_url(),
            settings.sealer(),
            busy_timeout_ms=self.busy_timeout_ms,
            schema=settings.database_schema,
        )
        await store.meta.set_once("installed_at", utc_iso(self.clock.now()))
        for admin in self.settings.admin_telegram_ids:
            await store.staff.ensure_admin(admin, self.clock.now())
        # Only the process that sends scheduled messages may take a send in progress for one cut off.
        interrupted = await store.outbox.interrupted() if self.schedules else []
        if interrupted:
            log.warning("%d scheduled send(s) were cut off by the last stop and are not repeated", len(interrupted))
        return store

    def _build_application(self, token: str) -> FieldApplication:
        settings = self.settings
        base_url = self.base_url or settings.telegram_api_base_url
        request = SafeRequest(
            retry_delays=self.retry_delays,
            connection_pool_size=64,
            connect_timeout=10,
            read_timeout=15,
            write_timeout=15,
            pool_timeout=5,
        )
        builder = (
            ApplicationBuilder()
            .token(token)
            .base_url(base_url)
            .updater(None)
            .context_types(ContextTypes(context=Context, bot_data=BotData))
            .concurrent_updates(self.processor)
            .request(request)
            .get_updates_request(self.updates_request)
        )
        if self.base_file_url or base_url != settings.model_fields["telegram_api_base_url"].default:
            builder = builder.base_file_url(self.base_file_url or base_url.replace("/bot", "/file/bot", 1))
        if self.rate_limiter and settings.telegram_rate_limit:
            builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
        return builder.build()

    def _scheduler(self, deps: Deps, ledger: DeliveryLedger, sender: Sender, rooms: list[int]) -> Scheduler:
        settings = self.settings
        groups = [*([settings.digest_chat_id] if settings.digest_chat_id is not None else []), *rooms]
        digests = DigestService(deps.store, deps.taxonomy, sender, self.clock, deps.tz, settings.schedule, groups)
        reminders = ReminderService(deps.store, deps.taxonomy, sender, self.clock, deps.tz, settings.reminder_at)
        retention = RetentionService(deps.store, self.clock, deps.tz, settings.retention_days)
        drafts = DraftExpiryService(
            deps.store, deps.taxonomy, sender, self.clock, deps.tz, settings.draft_retention_days, settings.reminder_at
        )
        return Scheduler(
            [
                ("reminders", reminders.run),
                ("digests", digests.run),
                ("retention", retention.run),
                ("drafts", drafts.run),
                ("ledger", ledger.prune),
                *([("form links", self.notes.prune)] if self.notes is not None else []),
            ]
        )

    async def _tick(self, context: object) -> None:
        assert self.scheduler is not None
        await self.scheduler.tick()

    async def wait(self) -> None:
        if self.runtime is not None:
            await self.runtime.wait()
        elif self.poller is not None:
            await self.poller.wait()
        else:  # LINE WORKS alone on long polling: its listener and workers run until the bot stops
            await self._stopped.wait()

    async def stop(self) -> None:
        """Stop whatever was started, even after a failed start; the database is closed and its lock released
        whatever else fails (an open connection's thread would keep the process alive)."""
        try:
            await self._stop_intake()
            if self.lineworks is not None:  # after the workers: they may still be sending
                await self.lineworks.close()
            if self.application is not None:
                if self.application.running:
                    await self.application.stop()
                await self.application.shutdown()
        finally:
            if self.store is not None:
                await self.store.close()
                self.store = None
            if self.lock is not None:
                self.lock.release()
                self.lock = None
        if self.poller is not None:
            log.info("fieldbot stopped")

    async def _stop_intake(self) -> None:
        """Take nothing more in: the listener, the poller, the workers (what they handle finishes first)."""
        self._stopped.set()
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        if self.listener is not None:
            await self.listener.stop()
        if self.lineworks_workers is not None:
            await self.lineworks_workers.stop()
        if self.poller is not None:
            await self.poller.stop()
        if self.runtime is not None:
            await self.runtime.stop()

    async def __aenter__(self) -> FieldBot:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.shield(self.stop())
