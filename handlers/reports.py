"""/report, /mine and /export: tallies on demand, as text and a chart, and the fiscal-year spreadsheets."""

from __future__ import annotations

import logging
from datetime import date
from io import BytesIO

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from core.i18n import t
from core.models import Role, Staff
from core.periods import (
    Period,
    fiscal_year,
    fiscal_year_of,
    last_complete_week,
    month_containing,
    so_far,
    week_containing,
)
from handlers.common import EXPIRED, Context, Services, edit, inline, number, registered, send, services
from reports.charts import comparison_chart
from reports.render_csv import render_csv_bytes
from reports.render_text import render_text
from reports.render_xlsx import render_xlsx
from services.reporting import Reporter, Scope, render_off_loop

log = logging.getLogger(__name__)

REPORT = "rp"  # rp:<period key>
EXPORT = "ex"  # ex:<fiscal year>
PERIOD_KEYS = ("week", "lastweek", "month", "fy", "lastfy")
EXPORT_YEARS = 3


def period_for(key: str, today: date) -> Period | None:
    match key:
        case "week":
            return week_containing(today)
        case "lastweek":
            return last_complete_week(today)
        case "month":
            return month_containing(today)
        case "fy":
            return fiscal_year_of(today)
        case "lastfy":
            return fiscal_year(fiscal_year_of(today).fiscal_year - 1)
    return None


def scope_of(staff: Staff) -> Scope:
    """Supervisors see their zone, admins the whole council (a supervisor without a zone: only their own)."""
    if staff.role is Role.ADMIN:
        return Scope()
    return Scope(zone=staff.zone) if staff.zone is not None else Scope(staff_id=staff.id)


@registered(Role.SUPERVISOR, Role.ADMIN)
async def cmd_report(update: Update, context: Context, staff: Staff) -> str | None:
    message = update.effective_message
    assert message is not None
    rows = [[(t(f"report.choose.{key}"), f"{REPORT}:{key}") for key in PERIOD_KEYS[:3]]]
    rows.append([(t(f"report.choose.{key}"), f"{REPORT}:{key}") for key in PERIOD_KEYS[3:]])
    svc = services(context)
    where = (
        svc.taxonomy.zone_label(staff.zone) if staff.role is Role.SUPERVISOR and staff.zone else t("common.all_zones")
    )
    await send(message, t("report.choose.title", scope=where), reply_markup=inline(rows))
    return None


async def _send_report(
    update: Update, context: Context, svc: Services, period: Period, scope: Scope, today: date
) -> None:
    query = update.callback_query
    chat = update.effective_chat
    assert chat is not None
    # A period still running (this week, month, fiscal year) is compared up to the same day, not with a whole one.
    current, against = so_far(period, today)
    report = await Reporter(svc.store, svc.taxonomy).report(current, scope=scope, against=against)
    texts = render_text(report)
    if query is not None:
        await edit(query, texts[0])
    else:
        await context.bot.send_message(chat.id, texts[0])
    for text in texts[1:]:
        await context.bot.send_message(chat.id, text)
    chart = await render_off_loop(lambda: comparison_chart(report, "activity"))
    await context.bot.send_photo(chat.id, chart, caption=t("report.misc.chart_caption", period=report.period.label))


@registered(Role.SUPERVISOR, Role.ADMIN)
async def on_report(update: Update, context: Context, staff: Staff) -> str | None:
    svc = services(context)
    query = update.callback_query
    assert query is not None and query.data is not None
    today = svc.today()
    period = period_for(query.data.partition(":")[2], today)
    if period is None:
        return EXPIRED
    await _send_report(update, context, svc, period, scope_of(staff), today)
    return None


@registered()
async def cmd_mine(update: Update, context: Context, staff: Staff) -> str | None:
    """A staff member's own week so far, compared with last week."""
    svc = services(context)
    message = update.effective_message
    assert message is not None
    current, against = so_far(week_containing(svc.today()), svc.today())
    report = await Reporter(svc.store, svc.taxonomy).report(current, scope=Scope(staff_id=staff.id), against=against)
    for text in render_text(report):
        await send(message, text)
    return None


@registered(Role.ADMIN)
async def cmd_export(update: Update, context: Context, staff: Staff) -> str | None:
    svc = services(context)
    message = update.effective_message
    assert message is not None
    current = fiscal_year_of(svc.today()).fiscal_year
    years = [fiscal_year(fy) for fy in range(current, current - EXPORT_YEARS, -1)]
    rows = [[(p.label, f"{EXPORT}:{p.fiscal_year}")] for p in years]
    await send(message, t("report.export.choose"), reply_markup=inline(rows))
    return None


@registered(Role.ADMIN)
async def on_export(update: Update, context: Context, staff: Staff) -> str | None:
    svc = services(context)
    query = update.callback_query
    chat = update.effective_chat
    assert query is not None and query.data is not None and chat is not None
    year = number(query.data.partition(":")[2])
    current = fiscal_year_of(svc.today()).fiscal_year
    if year is None or not current - EXPORT_YEARS < year <= current:
        return EXPIRED
    period = fiscal_year(year)
    report = await Reporter(svc.store, svc.taxonomy).report(period)

    def spreadsheet() -> bytes:
        buffer = BytesIO()
        render_xlsx(report, buffer)
        return buffer.getvalue()

    xlsx = await render_off_loop(spreadsheet)
    await edit(query, t("report.export.sending", period=period.label))
    caption = t("report.export.caption", period=period.label)
    await context.bot.send_document(chat.id, xlsx, filename=f"fieldbot-{period.key}.xlsx", caption=caption)
    await context.bot.send_document(
        chat.id, render_csv_bytes(report), filename=f"fieldbot-{period.key}.csv", caption=caption
    )
    log.info("staff %s exported %s", staff.id, period.key)
    return None


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("report", cmd_report, filters=private),
        CommandHandler("mine", cmd_mine, filters=private),
        CommandHandler("export", cmd_export, filters=private),
        CallbackQueryHandler(on_report, pattern=rf"^{REPORT}:"),
        CallbackQueryHandler(on_export, pattern=rf"^{EXPORT}:"),
    ]
