"""After every update: remember that it was acted on, so a redelivery of it is dropped by the poller."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, TypeHandler

from handlers.common import Context, services


async def mark_processed(update: Update, context: Context) -> None:
    """Handlers that change data record the update in their own transaction; this covers the rest."""
    svc = services(context)
    await svc.store.updates.record(svc.bot_id, update.update_id, svc.now())


def after() -> BaseHandler:  # type: ignore[type-arg]
    return TypeHandler(Update, mark_processed)
