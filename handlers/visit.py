"""/visit, /consult and /cancel on Telegram: commands, flow buttons and typed answers, passed to the flow service."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from core.buttons import CancelDraft, FlowPress, ResumeDraft, UndoSubmission, decode_as, pattern
from core.i18n import t
from core.models import Staff
from handlers.common import Context, key_of, pressed_message, registered
from services.access import SUPERVISORS
from services.screens import Reply, View, expired


def _chat_id(update: Update) -> int:
    assert update.effective_chat is not None  # every handler here is for private chats
    return update.effective_chat.id


@registered()
async def cmd_visit(update: Update, context: Context, staff: Staff) -> Reply:
    return await context.services.flows.begin(staff, "visit", _chat_id(update), key_of(update, context))


@registered()
async def cmd_consult(update: Update, context: Context, staff: Staff) -> Reply:
    return await context.services.flows.begin(staff, "consult", _chat_id(update), key_of(update, context))


@registered()
async def cmd_cancel(update: Update, context: Context, staff: Staff) -> Reply:
    return await context.services.flows.cancel_command(staff)


def _data(update: Update) -> str | None:
    return update.callback_query.data if update.callback_query is not None else None


@registered()
async def on_flow_button(update: Update, context: Context, staff: Staff) -> Reply:
    button = decode_as(_data(update), FlowPress)
    if button is None:
        return expired()
    return await context.services.flows.press(staff, button, key_of(update, context))


@registered()
async def on_resume(update: Update, context: Context, staff: Staff) -> Reply:
    button = decode_as(_data(update), ResumeDraft)
    if button is None:
        return expired()
    return await context.services.flows.resume(staff, button, _chat_id(update), key_of(update, context))


@registered()
async def on_cancel(update: Update, context: Context, staff: Staff) -> Reply:
    button = decode_as(_data(update), CancelDraft)
    if button is None:
        return expired()
    return await context.services.flows.cancel(staff, button, pressed_message(update), key_of(update, context))


@registered()
async def on_undo(update: Update, context: Context, staff: Staff) -> Reply:
    button = decode_as(_data(update), UndoSubmission)
    if button is None:
        return expired()
    return await context.services.flows.undo(staff, button, pressed_message(update), key_of(update, context))


@registered()
async def on_text(update: Update, context: Context, staff: Staff) -> Reply:
    """Typed text: a note or date a follow-up button asked for, else an answer to the flow's current question."""
    message = update.effective_message
    assert message is not None and message.text is not None
    key = key_of(update, context)
    awaited = await context.services.followups.typed(staff, message.text, key)
    if awaited is None and staff.role in SUPERVISORS:  # a place's name after a /places button
        awaited = await context.services.places.typed(staff, message.text, key)
    if awaited is not None:
        return awaited
    return await context.services.flows.type_text(staff, message.text, key)


@registered()
async def on_other_message(update: Update, context: Context, staff: Staff) -> Reply:
    """Stickers, photos, voice, locations…: the bot only understands buttons and text."""
    return Reply(send=[View(t("common.text_only"))])


def handlers() -> list[BaseHandler[Update, Context, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("visit", cmd_visit, filters=private),
        CommandHandler("consult", cmd_consult, filters=private),
        CommandHandler("cancel", cmd_cancel, filters=private),
        CallbackQueryHandler(on_flow_button, pattern=pattern(FlowPress)),
        CallbackQueryHandler(on_resume, pattern=pattern(ResumeDraft)),
        CallbackQueryHandler(on_cancel, pattern=pattern(CancelDraft)),
        CallbackQueryHandler(on_undo, pattern=pattern(UndoSubmission)),
    ]


def text_handlers() -> list[BaseHandler[Update, Context, None]]:
    """Registered after every command: plain text in a private chat, then anything else."""
    private = filters.ChatType.PRIVATE
    return [
        # A forwarded message is someone else's words, not an answer: it gets the text-only hint below.
        MessageHandler(
            private & filters.TEXT & ~filters.COMMAND & ~filters.FORWARDED & filters.UpdateType.MESSAGE, on_text
        ),
        MessageHandler(private & ~filters.COMMAND & filters.UpdateType.MESSAGE, on_other_message),
    ]
