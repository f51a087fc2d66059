"""/followups and the follow-up buttons on Telegram, passed to the follow-up service."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from core.buttons import (
    FollowUpCard,
    FollowUpClose,
    FollowUpCloseMenu,
    FollowUpDetails,
    FollowUpDueMenu,
    FollowUpDuePreset,
    FollowUpDueTyped,
    FollowUpNote,
    FollowUpOwner,
    FollowUpOwnerMenu,
    FollowUpPage,
    decode,
)
from core.models import Staff
from handlers.common import Context, key_of, pressed_message, registered
from services.screens import Reply, expired

KINDS = (
    FollowUpPage,
    FollowUpCard,
    FollowUpDetails,
    FollowUpNote,
    FollowUpDueMenu,
    FollowUpDuePreset,
    FollowUpDueTyped,
    FollowUpCloseMenu,
    FollowUpClose,
    FollowUpOwnerMenu,
    FollowUpOwner,
)


@registered()
async def cmd_followups(update: Update, context: Context, staff: Staff) -> Reply:
    return await context.services.followups.list_command(staff)


@registered()
async def on_button(update: Update, context: Context, staff: Staff) -> Reply:
    service = context.services.followups
    button = decode(update.callback_query.data if update.callback_query else None)
    key = key_of(update, context)
    match button:
        case FollowUpPage():
            return await service.page(staff, button)
        case FollowUpCard():
            return await service.card(staff, button)
        case FollowUpDetails():
            return await service.details(staff, button)
        case FollowUpNote():
            return await service.ask_note(staff, button, pressed_message(update), key)
        case FollowUpDueTyped():
            return await service.ask_due(staff, button, pressed_message(update), key)
        case FollowUpDueMenu():
            return await service.due_menu(staff, button)
        case FollowUpDuePreset():
            return await service.due_preset(staff, button, key)
        case FollowUpCloseMenu():
            return await service.close_menu(staff, button)
        case FollowUpClose():
            return await service.close(staff, button, key)
        case FollowUpOwnerMenu():
            return await service.owner_menu(staff, button)
        case FollowUpOwner():
            return await service.reassign(staff, button, key)
    return expired()


def handlers() -> list[BaseHandler[Update, Context, None]]:
    prefixes = "|".join(kind.PREFIX for kind in KINDS)
    return [
        CommandHandler("followups", cmd_followups, filters=filters.ChatType.PRIVATE),
        CallbackQueryHandler(on_button, pattern=rf"^({prefixes}):"),
    ]
