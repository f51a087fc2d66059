"""/places on Telegram: the register of places for supervisors and admins, passed to the place service."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from core.buttons import (
    PlaceAdd,
    PlaceAddArea,
    PlaceAddKind,
    PlaceCard,
    PlaceConfirm,
    PlacePage,
    PlaceRename,
    PlaceStatusSet,
    decode,
    pattern,
)
from core.models import Staff
from handlers.common import Context, key_of, registered
from services.access import SUPERVISORS
from services.places import PlaceService
from services.screens import Reply, expired
from storage.types import IdempotencyKey


@registered(*SUPERVISORS)
async def cmd_places(update: Update, context: Context, staff: Staff) -> Reply:
    return await context.services.places.command(staff)


@registered(*SUPERVISORS)
async def on_place(update: Update, context: Context, staff: Staff) -> Reply:
    button = decode(update.callback_query.data if update.callback_query else None)
    service = context.services.places
    if isinstance(button, PlacePage):
        return await service.page(staff, button)
    if isinstance(button, PlaceCard):
        return await service.card(staff, button)
    if isinstance(button, PlaceStatusSet):
        return await service.set_status(staff, button, key_of(update, context))
    if isinstance(button, PlaceConfirm):
        return await service.confirm(staff, button, key_of(update, context))
    return await _typed_answers(service, staff, button, key_of(update, context))


async def _typed_answers(service: PlaceService, staff: Staff, button: object, key: IdempotencyKey) -> Reply:
    """The buttons of adding a place or renaming one (the names themselves are typed: see handlers/visit.py)."""
    if isinstance(button, PlaceRename):
        return await service.ask_rename(staff, button, key)
    if isinstance(button, PlaceAdd):
        return await service.ask_add(staff, key)
    if isinstance(button, PlaceAddKind):
        return await service.add_kind(staff, button, key)
    if isinstance(button, PlaceAddArea):
        return await service.add_area(staff, button, key)
    return expired()


def handlers() -> list[BaseHandler[Update, Context, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("places", cmd_places, filters=private),
        CallbackQueryHandler(
            on_place,
            pattern=pattern(
                PlacePage, PlaceCard, PlaceStatusSet, PlaceConfirm, PlaceRename, PlaceAdd, PlaceAddKind, PlaceAddArea
            ),
        ),
    ]
