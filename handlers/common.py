"""What every handler shares: the services, who is asking, role checks, and safe message edits."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden
from telegram.ext import ContextTypes

from core.clock import Clock, local_today
from core.flow import Screen
from core.i18n import t
from core.models import Role, Staff
from core.taxonomy import Taxonomy
from storage.sqlite.store import Store

log = logging.getLogger(__name__)

Context: TypeAlias = ContextTypes.DEFAULT_TYPE
EXPIRED = "expired"


@dataclass(slots=True)
class Services:
    """Everything a handler needs, built once at start-up and kept in application.bot_data."""

    store: Store
    taxonomy: Taxonomy
    clock: Clock
    tz: ZoneInfo
    boot_id: str
    bot_id: int
    admin_ids: frozenset[int] = frozenset()

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> Any:
        return local_today(self.clock, self.tz)


def services(context: Context) -> Services:
    found = context.bot_data["services"]
    assert isinstance(found, Services)
    return found


StaffHandler = Callable[[Update, Context, Staff], Awaitable[str | None]]
PlainHandler = Callable[[Update, Context], Coroutine[Any, Any, None]]


def registered(*roles: Role) -> Callable[[StaffHandler], PlainHandler]:
    """Run the handler only for an active staff member (of one of `roles`, if given).

    Anyone else gets a short polite refusal and nothing else. For a button press, the handler's return
    value is shown as the toast of the callback answer, which is always sent, and sent last.
    """

    def decorate(handler: StaffHandler) -> PlainHandler:
        @functools.wraps(handler)
        async def wrapper(update: Update, context: Context) -> None:
            user = update.effective_user
            staff = await services(context).store.staff.by_telegram_id(user.id) if user else None
            toast: str | None = None
            chat = update.effective_chat
            if update.callback_query is not None and (chat is None or chat.type != ChatType.PRIVATE):
                # Our buttons live only in private chats: one on a group or inline message is forged, and
                # whatever it showed would be shown to everyone there.
                toast = EXPIRED
            elif staff is None or not staff.active:
                toast = t("access.refused") if staff is None else t("access.deactivated")
                if update.callback_query is None and update.effective_message is not None:
                    await send(update.effective_message, toast)
            elif roles and staff.role not in roles:
                toast = t("access.not_allowed")
                if update.callback_query is None and update.effective_message is not None:
                    await send(update.effective_message, toast)
            else:
                toast = await handler(update, context, staff)
            if update.callback_query is not None:
                await answer(update.callback_query, toast)

        return wrapper

    return decorate


def number(text: str, *, signed: bool = False) -> int | None:
    """A number carried in callback data, or None: ASCII digits only (int() refuses "²", which isdigit() accepts)
    and at most 18 of them (SQLite integers are 64-bit: a longer one raises OverflowError)."""
    digits = text[1:] if signed and text.startswith("-") else text
    return int(text) if digits.isascii() and digits.isdigit() and len(digits) <= 18 else None


async def answer(query: CallbackQuery, toast: str | None) -> None:
    text = t("common.expired") if toast == EXPIRED else toast
    with contextlib.suppress(BadRequest):  # a query older than Telegram's answer window
        await query.answer(text)


async def send(message: Message, text: str, **kwargs: Any) -> Message | None:
    try:
        return await message.reply_text(text, do_quote=False, **kwargs)
    except Forbidden:
        log.info("chat %s blocked the bot", message.chat_id)
        return None


async def edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Edit the pressed message; an unchanged message is not an error."""
    try:
        await query.edit_message_text(text, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


async def retire_keyboard(context: Context, chat_id: int, message_id: int | None) -> None:
    """Remove the buttons of a message that no longer shows the current question."""
    if message_id is None:
        return
    with contextlib.suppress(BadRequest, Forbidden):
        await context.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)


def inline(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup | None:
    """Buttons from rows of (label, callback data); None when there is no button (Telegram refuses an empty one)."""
    kept = [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows if row]
    return InlineKeyboardMarkup(kept) if kept else None


def pager(page: int, pages: int, data: Callable[[int], str]) -> list[tuple[str, str]]:
    """The ◀ 前へ / 次へ ▶ row of a paged list; `data(n)` is the callback data that shows page n."""
    row = []
    if page > 0:
        row.append((t("common.previous"), data(page - 1)))
    if page < pages - 1:
        row.append((t("common.next"), data(page + 1)))
    return row


def screen_markup(screen: Screen, prefix: str) -> InlineKeyboardMarkup | None:
    """Buttons of a flow screen; each callback carries the draft id and version in `prefix`."""
    return inline([[(b.label, f"{prefix}:{b.action}") for b in row] for row in screen.keyboard])


def menu_keyboard(staff: Staff) -> ReplyKeyboardMarkup:
    """The persistent keyboard under the chat: the common actions in one tap."""
    rows = [[KeyboardButton(t("menu.visit")), KeyboardButton(t("menu.consult"))]]
    second = [KeyboardButton(t("menu.followups")), KeyboardButton(t("menu.mine"))]
    if staff.role is not Role.STAFF:
        second.append(KeyboardButton(t("menu.report")))
    rows.append(second)
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, is_persistent=True)


def role_label(role: Role) -> str:
    return t(f"role.{role.value}")


def zone_label(taxonomy: Taxonomy, zone: str | None) -> str:
    return taxonomy.zone_label(zone) if zone else t("common.all_zones")
