"""Who may use the bot, on Telegram: /start with an invite code, /invite, /staff, /area, /help, and refusals."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from core.buttons import (
    HomeArea,
    HomeZone,
    InviteList,
    InviteRevoke,
    InviteRole,
    InviteZone,
    StaffAsk,
    StaffDeactivate,
    StaffPage,
    StaffReactivate,
    StaffReactivateAsk,
    decode,
    pattern,
)
from core.models import Staff
from core.text import clean_name
from handlers.common import Context, answer, key_of, registered, show
from services.access import ADMINS
from services.screens import Reply, expired
from services.staff import Newcomer


def _display_name(update: Update) -> str:
    user = update.effective_user
    if user is None:
        return "?"
    # Cleaned, not refused (a person cannot change their Telegram name for us): invisible and control characters
    # would otherwise reach /staff, the follow-up lists and the terminal of `fieldbot audit`.
    name = clean_name(" ".join(p for p in (user.last_name, user.first_name) if p))
    return name or clean_name(user.username or "") or str(user.id)


async def cmd_start(update: Update, context: Context) -> None:
    """/start <code> registers the sender; /start alone greets a registered person and refuses others."""
    user = update.effective_user
    if update.effective_message is None or user is None:
        return
    code = context.args[0] if context.args else None
    person = Newcomer(user.id, _display_name(update))
    reply = await context.services.staff.start(person, code, key_of(update, context))
    staff = await context.services.staff.identify(user.id)
    await show(update, context, reply, staff)


@registered()
async def cmd_help(update: Update, context: Context, staff: Staff) -> Reply:
    return context.services.staff.help(staff)


@registered()
async def cmd_area(update: Update, context: Context, staff: Staff) -> Reply:
    """Change the home area pre-filled in every flow."""
    return context.services.staff.home_command(staff)


@registered()
async def on_home(update: Update, context: Context, staff: Staff) -> Reply:
    button = decode(update.callback_query.data if update.callback_query else None)
    if isinstance(button, HomeZone):
        return context.services.staff.home_zone(staff, button)
    if isinstance(button, HomeArea):
        return await context.services.staff.home_area(staff, button, key_of(update, context))
    return expired()


@registered(*ADMINS)
async def cmd_invite(update: Update, context: Context, staff: Staff) -> Reply:
    return await context.services.staff.invite_command()


@registered(*ADMINS)
async def on_invite(update: Update, context: Context, staff: Staff) -> Reply:
    button = decode(update.callback_query.data if update.callback_query else None)
    username = context.bot.username

    def link(code: str) -> str:
        return f"https://t.me/{username}?start={code}"

    key = key_of(update, context)
    if isinstance(button, InviteRole):
        return await context.services.staff.invite_role(staff, button, key, link)
    if isinstance(button, InviteZone):
        return await context.services.staff.invite_zone(staff, button, key, link)
    if isinstance(button, InviteList):
        return await context.services.staff.invite_list()
    if isinstance(button, InviteRevoke):
        return await context.services.staff.invite_revoke(staff, button, key)
    return expired()


@registered(*ADMINS)
async def cmd_staff(update: Update, context: Context, staff: Staff) -> Reply:
    return await context.services.staff.staff_command()


@registered(*ADMINS)
async def on_staff(update: Update, context: Context, staff: Staff) -> Reply:
    button = decode(update.callback_query.data if update.callback_query else None)
    service = context.services.staff
    if isinstance(button, StaffPage):
        return await service.staff_page(button)
    if isinstance(button, StaffAsk):
        return await service.staff_ask(staff, button)
    if isinstance(button, StaffDeactivate):
        return await service.deactivate(staff, button, key_of(update, context))
    if isinstance(button, StaffReactivateAsk):
        return await service.reactivate_ask(button)
    if isinstance(button, StaffReactivate):
        return await service.reactivate(staff, button, key_of(update, context))
    return expired()


async def on_unknown_callback(update: Update, context: Context) -> None:
    """A button this version of the bot does not know (an old message, or forged data)."""
    if update.callback_query is not None:
        await answer(update.callback_query, expired().toast)


def handlers() -> list[BaseHandler[Update, Context, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("start", cmd_start, filters=private),
        CommandHandler("help", cmd_help, filters=private),
        CommandHandler("area", cmd_area, filters=private),
        CommandHandler("invite", cmd_invite, filters=private),
        CommandHandler("staff", cmd_staff, filters=private),
        CallbackQueryHandler(on_home, pattern=pattern(HomeZone, HomeArea)),
        CallbackQueryHandler(on_invite, pattern=pattern(InviteRole, InviteZone, InviteList, InviteRevoke)),
        CallbackQueryHandler(
            on_staff, pattern=pattern(StaffPage, StaffAsk, StaffDeactivate, StaffReactivateAsk, StaffReactivate)
        ),
    ]


def fallback_handlers() -> list[BaseHandler[Update, Context, None]]:
    """Last in line: unknown buttons and unknown commands."""
    private = filters.ChatType.PRIVATE
    return [
        CallbackQueryHandler(on_unknown_callback),
        MessageHandler(private & filters.COMMAND, cmd_help),
    ]
