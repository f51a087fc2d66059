"""The last resort: log what went wrong in English, tell the person in Japanese, keep running."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError

from core.i18n import t
from handlers.common import Context
from storage.types import StorageError

log = logging.getLogger(__name__)


def user_message(error: object) -> str:
    """What the person is told: for storage faults what happened to their input (nothing half-saved)."""
    if isinstance(error, StorageError):
        kind = error.kind if error.kind in ("busy", "full", "readonly") else "other"
        return t(f"common.storage_{kind}")
    if isinstance(error, NetworkError):
        return t("common.not_delivered")
    return t("common.error")


async def on_error(update: object, context: Context) -> None:
    error = context.error
    if isinstance(error, Forbidden):
        log.info("a chat blocked the bot: %s", error)
        return
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(error, StorageError):
        log.error("storage fault (%s) while handling update %s: %s", error.kind, update_id, error)
    else:
        log.error("error while handling update %s: %s", update_id, type(error).__name__, exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None or update.effective_chat.type != "private":
        return
    text = user_message(error)
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        else:
            await context.bot.send_message(update.effective_chat.id, text)
    except NetworkError:
        log.warning("could not tell chat %s about the error", update.effective_chat.id)
