"""One council's LINE WORKS bot inside a running FieldBot: its client (sends), its front end (handlers/lineworks)
and the intake of its callbacks, plus the sender that routes scheduled messages to the messenger of each account.

It shares the council's services, store, inbox and workers with Telegram: a LINE WORKS event is kept in the inbox
under the bot's negated id (bot/lineworks/intake.py) and handled by the same workers (bot/worker.py `fronts`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from bot.lineworks.client import LineWorksClient, LineWorksError, MinuteBudget, Outcome
from bot.lineworks.intake import LineWorksIntake, inbox_bot_id
from bot.settings import LineWorksSettings
from core.accounts import CHANNEL_PREFIX, is_lineworks, lineworks_channel
from core.clock import Clock
from handlers.common import Services
from handlers.lineworks.adapter import LineWorksFront, menu_actions
from handlers.lineworks.content import JSONDict, text_content
from handlers.lineworks.render import render
from services.outbound import DeliveryError, Sender
from services.screens import Attachment, Reply, Rows, View
from storage.interface import LineWorksUsers, Store

log = logging.getLogger(__name__)


def delivery_error(error: LineWorksError) -> DeliveryError:
    """A LINE WORKS send's failure as the outbox records it (services/outbound.py)."""
    if error.outcome is Outcome.UNKNOWN:
        return DeliveryError("unknown", f"LINE WORKS answer lost or 5xx: {error}")
    if error.status == 429 or error.status is None:
        return DeliveryError("retry", f"LINE WORKS refused for now: {error}")
    return DeliveryError("failed", f"LINE WORKS refused: {error}")


async def send_attachment(client: LineWorksClient, to: str, attachment: Attachment, *, channel: bool = False) -> None:
    """A report's chart or an export's file: its caption as a text, then the file (LINE WORKS files have none)."""
    if attachment.caption:
        await (client.send_channel_message if channel else client.send_message)(to, text_content(attachment.caption))
    if channel:  # the digest's room gets its chart as the caption only: rooms get no files from the bot
        return
    if attachment.kind == "photo":
        await client.send_image(to, attachment.filename or "chart.png", attachment.content)
    else:
        await client.send_file(to, attachment.filename, attachment.content)


@dataclass
class LineWorksBot:
    config: LineWorksSettings
    client: LineWorksClient
    users: LineWorksUsers
    front: LineWorksFront
    intake: LineWorksIntake

    @classmethod
    def build(
        cls,
        config: LineWorksSettings,
        services: Services,
        store: Store,
        clock: Clock,
        budget: MinuteBudget | None = None,
    ) -> LineWorksBot:
        """`budget`: the per-minute budget shared by the bots of one LINE WORKS domain (cli/serve.py groups the
        councils by their app); without one, this bot has LINEWORKS_PER_MINUTE to itself."""
        client = LineWorksClient(
            bot_id=config.bot_id,
            client_id=config.client_id,
            client_secret=config.client_secret,
            service_account=config.service_account,
            private_key=config.private_key,
            api_base_url=config.api_base_url,
            auth_url=config.auth_url,
            per_minute=config.per_minute,
            budget=budget,
            wall_clock=lambda: clock.now().timestamp(),  # the JWT's iat: the bot's own time
        )
        users = store.lineworks_users

        async def send(user_id: str, content: JSONDict) -> None:
            await client.send_message(user_id, content)

        async def attach(user_id: str, attachment: Attachment) -> None:
            await send_attachment(client, user_id, attachment)

        front = LineWorksFront(services, users, clock, send, attach)
        intake = LineWorksIntake(int(config.bot_id), config.bot_secret, store.inbox, clock)
        return cls(config, client, users, front, intake)

    @property
    def inbox_bot(self) -> int:
        """Where this bot's events are kept in the inbox."""
        return inbox_bot_id(int(self.config.bot_id))

    async def register_menu(self) -> None:
        """The persistent menu (record, follow-ups, tallies, help): one for everyone, set at every start. A failure
        is logged and the bot runs on (the commands can be typed)."""
        try:
            await self.client.set_persistent_menu(menu_actions())
        except (LineWorksError, ValueError) as exc:
            log.warning("LINE WORKS persistent menu not registered: %s", exc)

    async def digest_rooms(self, now: datetime) -> list[int]:
        """The LINE WORKS room that gets the digest (counts only), as the account number the outbox knows it by."""
        if self.config.digest_channel is None:
            return []
        return [await self.users.remember(lineworks_channel(self.config.digest_channel), now)]

    async def deliver(self, account: int, reply: Reply) -> None:
        """A Reply that answers no event (the note form posted), as new messages in the person's chat."""
        user_id = await self.users.user_id(account)
        if user_id is None or user_id.startswith(CHANNEL_PREFIX):
            log.warning("no LINE WORKS user for an account; reply not delivered")
            return
        await self.front.show(user_id, reply)

    async def close(self) -> None:
        await self.client.close()


@dataclass
class RoutedSender:
    """Scheduled messages (digests, reminders) to each account's messenger: LINE WORKS accounts (people, and the
    digest's room) through the LINE WORKS bot, everything else through Telegram."""

    telegram: Sender | None  # None: the council is on LINE WORKS alone
    lineworks: LineWorksBot | None

    async def _where(self, account: int) -> tuple[LineWorksClient, str, bool]:
        """The LINE WORKS client, and the user or room (True) an account number stands for."""
        bot = self.lineworks
        found = await bot.users.user_id(account) if bot is not None else None
        if bot is None or found is None:
            raise DeliveryError("failed", "no LINE WORKS bot or user for this account")
        return bot.client, found.removeprefix(CHANNEL_PREFIX), found.startswith(CHANNEL_PREFIX)

    async def text(self, chat_id: int, text: str, buttons: Rows = ()) -> None:
        if not is_lineworks(chat_id):
            await self._on_telegram().text(chat_id, text, buttons)
            return
        client, to, room = await self._where(chat_id)
        try:
            for content in render(View(text, buttons)):
                await (client.send_channel_message if room else client.send_message)(to, content)
        except LineWorksError as exc:
            raise delivery_error(exc) from exc

    async def photo(self, chat_id: int, png: bytes, caption: str) -> None:
        if not is_lineworks(chat_id):
            await self._on_telegram().photo(chat_id, png, caption)
            return
        client, to, room = await self._where(chat_id)
        try:
            await send_attachment(client, to, Attachment("photo", png, caption, "chart.png"), channel=room)
        except LineWorksError as exc:
            raise delivery_error(exc) from exc

    def _on_telegram(self) -> Sender:
        if self.telegram is None:  # a Telegram chat (a group's DIGEST_CHAT_ID) of a council without Telegram
            raise DeliveryError("failed", "this council has no Telegram bot")
        return self.telegram
