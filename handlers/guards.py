"""Around every update: skip one already acted on (a redelivery), and remember the ones acted on."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseHandler, TypeHandler

from handlers.common import Context, services

log = logging.getLogger(__name__)


async def skip_processed(update: Update, context: Context) -> None:
    svc = services(context)
    if await svc.store.updates.seen(svc.bot_id, update.update_id):
        log.info("update %s was delivered again; ignored", update.update_id)
        raise ApplicationHandlerStop


async def mark_processed(update: Update, context: Context) -> None:
    """Handlers that change data record the update in their own transaction; this covers the rest."""
    svc = services(context)
    await svc.store.updates.record(svc.bot_id, update.update_id, svc.now())


def before() -> BaseHandler:  # type: ignore[type-arg]
    return TypeHandler(Update, skip_processed)


def after() -> BaseHandler:  # type: ignore[type-arg]
    return TypeHandler(Update, mark_processed)
