"""/followups and the follow-up buttons on Telegram, passed to the follow-up service."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from core.buttons import decode, pattern
from core.models import Staff
from handlers.common import Context, key_of, pressed_message, registered
from services.followups import BUTTON_KINDS
from services.screens import Press, Reply, expired


@registered()
async def cmd_followups(update: Update, context: Context, staff: Staff) -> Reply:
    return await context.services.followups.list_command(staff)


@registered()
async def on_button(update: Update, context: Context, staff: Staff) -> Reply:
    button = decode(update.callback_query.data if update.callback_query else None)
    if button is None:
        return expired()
    press = Press(key_of(update, context), pressed_message(update))
    return await context.services.followups.press(staff, button, press)


def handlers() -> list[BaseHandler[Update, Context, None]]:
    return [
        CommandHandler("followups", cmd_followups, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(on_button, pattern=pattern(*BUTTON_KINDS)),
    ]
