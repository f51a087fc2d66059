"""What every Telegram handler shares: the typed context, who is asking, and turning a service's Reply into
messages (edits, new messages, files, the button's toast)."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeAlias

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
    WebAppInfo,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CallbackContext, ExtBot

from core.buttons import encode
from core.i18n import t
from core.models import Role, Staff
from services.access import refusal
from services.city import CityService
from services.flow import FlowService
from services.followups import FollowUpService
from services.places import PlaceService
from services.reporting import ReportService
from services.screens import Attachment, Choice, FormLink, Reply, Rows, View, expired
from services.staff import StaffService
from storage.types import IdempotencyKey

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Services:
    """The use cases the handlers call, built once at start-up (bot/app.py)."""

    flows: FlowService
    followups: FollowUpService
    reports: ReportService
    staff: StaffService
    places: PlaceService
    city: CityService
    bot_id: int


class BotData:
    """application.bot_data: set once at start-up. A class PTB can create empty, typed for every handler."""

    services: Services


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """The context every handler gets (PTB's ContextTypes): the services, typed."""

    @property
    def services(self) -> Services:
        return self.bot_data.services


def key_of(update: Update, context: Context) -> IdempotencyKey:
    """The idempotency key of an update: every write it causes is recorded under it."""
    return IdempotencyKey(context.services.bot_id, update.update_id)


StaffHandler: TypeAlias = Callable[[Update, Context, Staff], Awaitable[Reply]]
PlainHandler: TypeAlias = Callable[[Update, Context], Coroutine[Any, Any, None]]


def registered(*roles: Role) -> Callable[[StaffHandler], PlainHandler]:
    """Run the handler only for an active staff member (of one of `roles`, if given), then show its Reply.

    Anyone else gets a short polite refusal and nothing else. For a button press the callback answer (the
    Reply's toast) is always sent, and sent last.
    """

    def decorate(handler: StaffHandler) -> PlainHandler:
        @functools.wraps(handler)
        async def wrapper(update: Update, context: Context) -> None:
            query = update.callback_query
            chat = update.effective_chat
            if query is not None and (chat is None or chat.type != ChatType.PRIVATE):
                # Our buttons live only in private chats: one on a group or inline message is forged, and
                # whatever it showed would be shown to everyone there.
                await answer(query, expired().toast)
                return
            user = update.effective_user
            staff = await context.services.staff.identify(user.id) if user else None
            refused = refusal(staff, roles)
            if refused is not None or staff is None:
                if query is not None:
                    await answer(query, refused)
                elif update.effective_message is not None:
                    await send(context, update.effective_message.chat_id, View(refused or ""))
                return
            reply = await handler(update, context, staff)
            await show(update, context, reply, staff)
            if query is not None:
                await answer(query, reply.toast)

        return wrapper

    return decorate


def inline_button(choice: Choice) -> InlineKeyboardButton:
    """A callback button, or the note form's page opened as a Mini App (our buttons live in private chats only)."""
    if isinstance(choice.button, FormLink):
        return InlineKeyboardButton(choice.label, web_app=WebAppInfo(choice.button.url))
    return InlineKeyboardButton(choice.label, callback_data=encode(choice.button))


def markup(rows: Rows) -> InlineKeyboardMarkup | None:
    """Buttons with encoded data; None when there is none (Telegram refuses an empty keyboard)."""
    kept = [[inline_button(c) for c in row] for row in rows if row]
    return InlineKeyboardMarkup(kept) if kept else None


def menu_keyboard(staff: Staff) -> ReplyKeyboardMarkup:
    """The persistent keyboard under the chat: the common actions in one tap."""
    rows = [[KeyboardButton(t("menu.visit")), KeyboardButton(t("menu.consult"))]]
    second = [KeyboardButton(t("menu.followups")), KeyboardButton(t("menu.mine"))]
    if staff.role is not Role.STAFF:
        second.append(KeyboardButton(t("menu.report")))
    rows.append(second)
    return ReplyKeyboardMarkup(rows, resize_keyboard=True, is_persistent=True)


async def answer(query: CallbackQuery, toast: str | None) -> None:
    with contextlib.suppress(BadRequest):  # a query older than Telegram's answer window
        await query.answer(toast)


async def send(
    context: Context, chat_id: int, view: View, keyboard: ReplyKeyboardMarkup | None = None
) -> Message | None:
    try:
        return await context.bot.send_message(chat_id, view.text, reply_markup=markup(view.rows) or keyboard)
    except Forbidden:
        log.info("chat %s blocked the bot", chat_id)
        return None


async def edit(query: CallbackQuery, view: View) -> None:
    """Edit the pressed message; an unchanged message is not an error."""
    try:
        await query.edit_message_text(view.text, reply_markup=markup(view.rows))
    except BadRequest as exc:
        if "not modified" not in str(exc):
            raise


async def show(update: Update, context: Context, reply: Reply, staff: Staff | None = None) -> None:
    """Carry out a Reply: remove typed personal text, edit the pressed message, send, attach files, then
    retire the buttons of the message that showed the question before."""
    chat = update.effective_chat
    if chat is None:
        return
    if reply.forget_typed and update.effective_message is not None:
        with contextlib.suppress(BadRequest, Forbidden):
            await update.effective_message.delete()
    try:
        shown = await _messages(update, context, chat.id, reply, staff)
    except TelegramError:
        if reply.track is not None:
            await context.services.flows.shown(reply.track, None)  # its next input shows the question again
        raise
    if reply.track is not None:
        await context.services.flows.shown(reply.track, shown)
    for attachment in reply.files:
        await attach(context, chat.id, attachment)
    if reply.retire is not None and reply.retire != shown:
        await retire_keyboard(context, chat.id, reply.retire)


async def _messages(update: Update, context: Context, chat_id: int, reply: Reply, staff: Staff | None) -> int | None:
    """The edit and the new messages of a Reply; returns the id of the last message shown."""
    query = update.callback_query
    views = list(reply.send)
    shown: int | None = None
    if reply.edit is not None and query is not None and query.message is not None:
        await edit(query, reply.edit)
        shown = query.message.message_id
    elif reply.edit is not None:
        views.insert(0, reply.edit)  # no pressed message (a typed input): the edit becomes a new message
    keyboard = menu_keyboard(staff) if reply.menu and staff is not None else None
    for view in views:
        sent = await send(context, chat_id, view, None if view.rows else keyboard)
        keyboard = keyboard if view.rows else None  # the menu goes with the first message without buttons
        shown = sent.message_id if sent is not None else None
    return shown


async def attach(context: Context, chat_id: int, attachment: Attachment) -> None:
    if attachment.kind == "photo":
        await context.bot.send_photo(chat_id, attachment.content, caption=attachment.caption)
    else:
        await context.bot.send_document(
            chat_id, attachment.content, filename=attachment.filename, caption=attachment.caption
        )


async def retire_keyboard(context: Context, chat_id: int, message_id: int) -> None:
    """Remove the buttons of a message that no longer shows the current question."""
    with contextlib.suppress(BadRequest, Forbidden):
        await context.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)


async def deliver(bot: Bot, flows: FlowService, chat_id: int, reply: Reply) -> None:
    """Carry out a Reply that answers no update (the note form posted): its messages, new ones, in the chat;
    the message that showed the question before loses its buttons."""
    shown: int | None = None
    try:
        for view in [*([reply.edit] if reply.edit is not None else []), *reply.send]:
            sent = await bot.send_message(chat_id, view.text, reply_markup=markup(view.rows))
            shown = sent.message_id
    except TelegramError:
        if reply.track is not None:
            await flows.shown(reply.track, None)  # the next input shows the question again
        raise
    if reply.track is not None:
        await flows.shown(reply.track, shown)
    if reply.retire is not None and reply.retire != shown:
        with contextlib.suppress(BadRequest, Forbidden):
            await bot.edit_message_reply_markup(chat_id, reply.retire, reply_markup=None)


def pressed_message(update: Update) -> int | None:
    query = update.callback_query
    return query.message.message_id if query is not None and query.message is not None else None
