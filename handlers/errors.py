"""The last resort: log what went wrong in English, tell the person in Japanese, keep running."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError

from domain.i18n import t
from handlers.common import Context

log = logging.getLogger(__name__)


async def on_error(update: object, context: Context) -> None:
    error = context.error
    if isinstance(error, Forbidden):
        log.info("a chat blocked the bot: %s", error)
        return
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error while handling update %s: %s", update_id, type(error).__name__, exc_info=error)
    if not isinstance(update, Update) or update.effective_chat is None or update.effective_chat.type != "private":
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(t("common.error"), show_alert=True)
        else:
            await context.bot.send_message(update.effective_chat.id, t("common.error"))
    except NetworkError:
        log.warning("could not tell chat %s about the error", update.effective_chat.id)
