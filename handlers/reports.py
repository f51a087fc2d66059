"""/report, /mine and /export on Telegram, passed to the report service."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from core.buttons import ExportYear, ReportCity, ReportPeriod, ReportTable, decode_as, pattern
from core.models import Staff
from handlers.common import Context, registered
from services.access import ADMINS, SUPERVISORS
from services.screens import Reply, expired


def _data(update: Update) -> str | None:
    return update.callback_query.data if update.callback_query is not None else None


@registered(*SUPERVISORS)
async def cmd_report(update: Update, context: Context, staff: Staff) -> Reply:
    return context.services.reports.menu(staff)


@registered(*SUPERVISORS)
async def on_report(update: Update, context: Context, staff: Staff) -> Reply:
    button = decode_as(_data(update), ReportPeriod)
    return expired() if button is None else await context.services.reports.report(staff, button)


@registered(*SUPERVISORS)
async def on_report_table(update: Update, context: Context, staff: Staff) -> Reply:
    button = decode_as(_data(update), ReportTable)
    return expired() if button is None else await context.services.reports.table(staff, button)


@registered(*ADMINS)
async def on_report_city(update: Update, context: Context, staff: Staff) -> Reply:
    button = decode_as(_data(update), ReportCity)
    return expired() if button is None else await context.services.city.report(staff, button)


@registered()
async def cmd_mine(update: Update, context: Context, staff: Staff) -> Reply:
    return await context.services.reports.mine(staff)


@registered(*ADMINS)
async def cmd_export(update: Update, context: Context, staff: Staff) -> Reply:
    return context.services.reports.export_menu()


@registered(*ADMINS)
async def on_export(update: Update, context: Context, staff: Staff) -> Reply:
    button = decode_as(_data(update), ExportYear)
    return expired() if button is None else await context.services.reports.export(staff, button)


def handlers() -> list[BaseHandler[Update, Context, None]]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("report", cmd_report, filters=private),
        CommandHandler("mine", cmd_mine, filters=private),
        CommandHandler("export", cmd_export, filters=private),
        CallbackQueryHandler(on_report, pattern=pattern(ReportPeriod)),
        CallbackQueryHandler(on_report_table, pattern=pattern(ReportTable)),
        CallbackQueryHandler(on_report_city, pattern=pattern(ReportCity)),
        CallbackQueryHandler(on_export, pattern=pattern(ExportYear)),
    ]
