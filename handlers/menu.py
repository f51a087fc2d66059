"""The persistent keyboard under the chat: each button's text runs the command it names."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, MessageHandler, filters

from core.i18n import t
from handlers import followups, reports, visit
from handlers.common import Context, PlainHandler

# Button text key -> the command handler it stands for.
ACTIONS: dict[str, PlainHandler] = {
    "menu.visit": visit.cmd_visit,
    "menu.consult": visit.cmd_consult,
    "menu.followups": followups.cmd_followups,
    "menu.mine": reports.cmd_mine,
    "menu.report": reports.cmd_report,
}


async def on_menu(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None and message.text is not None
    for key, action in ACTIONS.items():
        if message.text == t(key):
            await action(update, context)
            return


def handlers() -> list[BaseHandler[Update, Context, None]]:
    labels = [t(key) for key in ACTIONS]
    return [MessageHandler(filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.Text(labels), on_menu)]
