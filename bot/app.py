"""The running bot: the PTB Application wired to storage, the handlers in order, polling, start and stop."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from telegram import BotCommand, BotCommandScopeAllPrivateChats
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from bot.polling import Poller, RawUpdatesRequest
from bot.processor import CURRENT_UPDATE, KeyedUpdateProcessor
from bot.requests import SafeRequest
from bot.scheduler import Scheduler
from bot.settings import Settings
from core.clock import Clock, SystemClock, utc_iso
from core.i18n import t
from core.taxonomy import Taxonomy, load_taxonomy
from handlers import access, errors, followups, guards, menu, reports, visit
from handlers.common import Services
from handlers.delivery import TelegramSender
from services.digest import DigestService
from services.followups import ReminderService, RetentionService
from storage.sqlite.store import Store

log = logging.getLogger(__name__)

COMMANDS = ("visit", "consult", "followups", "cancel", "mine", "report", "export", "area", "help")


def register_handlers(application: Application) -> None:  # type: ignore[type-arg]
    """Every handler, in the order PTB tries them; group 1 records that the update was acted on.

    Redelivered updates never get here: the poller drops those already recorded (bot/polling.py).
    """
    application.add_handlers(access.handlers(), group=0)
    application.add_handlers(visit.handlers(), group=0)
    application.add_handlers(followups.handlers(), group=0)
    application.add_handlers(reports.handlers(), group=0)
    application.add_handlers(menu.handlers(), group=0)
    application.add_handlers(visit.text_handlers(), group=0)
    application.add_handlers(access.fallback_handlers(), group=0)
    application.add_handler(guards.after(), group=1)
    application.add_error_handler(errors.on_error)


async def set_commands(application: Application) -> None:  # type: ignore[type-arg]
    commands = [BotCommand(name, t(f"commands.{name}")) for name in COMMANDS]
    await application.bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats())


@dataclass
class FieldBot:
    """Store, application and poller, started and stopped together."""

    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    taxonomy: Taxonomy | None = None
    base_url: str | None = None
    base_file_url: str | None = None
    rate_limiter: bool = True
    application: Application | None = None  # type: ignore[type-arg]
    store: Store | None = None
    poller: Poller | None = None
    processor: KeyedUpdateProcessor = field(default_factory=KeyedUpdateProcessor)
    boot_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    updates_request: RawUpdatesRequest = field(
        default_factory=lambda: RawUpdatesRequest(connection_pool_size=1, read_timeout=40, connect_timeout=10)
    )
    scheduler: Scheduler | None = None
    # Seconds between scheduler ticks; None: no automatic ticks (tests call scheduler.tick() themselves).
    tick_interval: float | None = 30.0
    # Waits before each retry of a refused (5xx) or, when harmless, unanswered Bot API call.
    retry_delays: tuple[float, ...] = (0.5, 1.0, 2.0)
    # How long a write waits for another writer (a backup, an import) before it fails as "busy".
    busy_timeout_ms: int = 5000

    async def start(self) -> None:
        settings = self.settings
        token = settings.token()
        sealer = settings.sealer()
        taxonomy = self.taxonomy or load_taxonomy(settings.taxonomy_file)
        self.store = await Store.open(settings.database_path, sealer, busy_timeout_ms=self.busy_timeout_ms)
        await self.store.meta.set_once("installed_at", utc_iso(self.clock.now()))
        for admin in settings.admin_telegram_ids:
            await self.store.staff.ensure_admin(admin, self.clock.now())
        interrupted = await self.store.outbox.interrupted()
        if interrupted:
            log.warning("%d scheduled send(s) were cut off by the last stop and are not repeated", len(interrupted))
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
            .concurrent_updates(self.processor)
            .request(request)
            .get_updates_request(self.updates_request)
        )
        if self.base_file_url or base_url != settings.model_fields["telegram_api_base_url"].default:
            builder = builder.base_file_url(self.base_file_url or base_url.replace("/bot", "/file/bot", 1))
        if self.rate_limiter and settings.telegram_rate_limit:
            builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
        application = builder.build()
        application.bot_data["services"] = Services(
            store=self.store,
            taxonomy=taxonomy,
            clock=self.clock,
            tz=ZoneInfo(settings.timezone),
            boot_id=self.boot_id,
            bot_id=int(token.split(":", 1)[0]),
            admin_ids=frozenset(settings.admin_telegram_ids),
        )
        register_handlers(application)
        self.application = application
        sender = TelegramSender(application.bot)
        tz = ZoneInfo(settings.timezone)
        digests = DigestService(
            self.store, taxonomy, sender, self.clock, tz, settings.schedule, settings.digest_chat_id
        )
        reminders = ReminderService(self.store, taxonomy, sender, self.clock, tz, settings.reminder_at)
        retention = RetentionService(self.store, self.clock, tz, settings.retention_days)
        self.scheduler = Scheduler(
            self.store,
            self.clock,
            [("reminders", reminders.run), ("digests", digests.run), ("retention", retention.run)],
        )
        await application.initialize()
        await set_commands(application)
        await application.start()
        if self.tick_interval is not None and application.job_queue is not None:
            application.job_queue.run_repeating(self._tick, interval=self.tick_interval, first=1, name="scheduler")
        self.poller = Poller(
            application, self.store.updates, self.clock, self.updates_request, dropped=self.processor.finished
        )
        self.processor.listeners.append(self.poller.finished)
        poller = self.poller

        def committed() -> None:
            # A handler's first commit makes its update safe (recorded with it, or guarded by a draft version):
            # the poller may confirm it and ask for the next updates at once, before the reply has even gone.
            update_id = CURRENT_UPDATE.get()
            if update_id is not None:
                poller.finished(update_id)

        self.store.db.commit_listeners.append(committed)
        await self.poller.start()
        log.info("fieldbot started as @%s (boot %s)", application.bot.username, self.boot_id[:8])

    async def _tick(self, context: object) -> None:
        assert self.scheduler is not None
        await self.scheduler.tick()

    async def wait(self) -> None:
        assert self.poller is not None
        await self.poller.wait()

    async def stop(self) -> None:
        if self.poller is not None:
            await self.poller.stop()
        if self.application is not None:
            if self.application.running:
                await self.application.stop()
            await self.application.shutdown()
        if self.store is not None:
            await self.store.close()
        log.info("fieldbot stopped")

    async def __aenter__(self) -> FieldBot:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.shield(self.stop())
