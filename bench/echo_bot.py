"""The floor: a bare python-telegram-bot bot doing the same Bot API calls per step as fieldbot, and nothing else.

A message gets a reply with a keyboard of 12 buttons; a button press gets the message edited (same keyboard) and
the press answered. No storage, no state: what remains is PTB, HTTP and the event loop.
"""

from __future__ import annotations

import os

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters

COUNTER = {"n": 0}


def keyboard() -> InlineKeyboardMarkup:
    COUNTER["n"] += 1
    version = COUNTER["n"]
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(str(k), callback_data=f"e:{version}:{k}") for k in range(r, r + 3)]
            for r in range(1, 13, 3)
        ]
    )


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("echo: " + (update.effective_message.text or ""), reply_markup=keyboard())


async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.edit_message_text(f"echo: {query.data}", reply_markup=keyboard())
    await query.answer()


def main() -> None:
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_API_BASE_URL"])
        .concurrent_updates(64)
        .connection_pool_size(64)
        .build()
    )
    application.add_handler(MessageHandler(filters.ALL, on_message))
    application.add_handler(CallbackQueryHandler(on_press))
    application.run_polling(poll_interval=0, timeout=30, drop_pending_updates=False)


if __name__ == "__main__":
    main()
