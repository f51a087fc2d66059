"""Reports from stored records: the counts for a period and a scope with their comparison, and the use cases
/report, /mine and /export built on them."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import date
from io import BytesIO
from typing import TypeVar

from core.buttons import ExportYear, PeriodKey, ReportCity, ReportPeriod, ReportTable, TableKey
from core.counts import Counts
from core.i18n import t
from core.models import Role, Staff
from core.periods import (
    CompareMode,
    Period,
    comparison_period,
    fiscal_year,
    fiscal_year_of,
    last_complete_week,
    month_containing,
    so_far,
    week_containing,
)
from core.taxonomy import Taxonomy
from reports.charts import comparison_chart
from reports.export_titles import report_caption, report_file_name
from reports.render_csv import render_csv_bytes
from reports.render_tables import render_table_text
from reports.render_text import render_text
from reports.render_xlsx import render_xlsx
from reports.tally import Report, build_report
from services.access import Scope, scope_label, scope_of
from services.deps import Deps
from services.report_tables import ReportTables
from services.screens import Attachment, Choice, Reply, View, expired, grid, rows
from storage.interface import Store

T = TypeVar("T")
log = logging.getLogger(__name__)

# matplotlib keeps global state (rc settings, the font cache): charts are drawn one at a time, off the event loop.
_RENDER_LOCK = threading.Lock()


async def render_off_loop(render: Callable[[], T]) -> T:
    """CPU-bound rendering (charts, spreadsheets) in a worker thread so taps are answered meanwhile."""

    def locked() -> T:
        with _RENDER_LOCK:
            return render()

    return await asyncio.to_thread(locked)


COUNCIL = Scope()  # the whole council


class Reporter:
    def __init__(self, store: Store, taxonomy: Taxonomy) -> None:
        self.store = store
        self.taxonomy = taxonomy

    async def counts(self, period: Period, scope: Scope = COUNCIL) -> Counts:
        return (await self.counts_of([period], scope))[0]

    async def counts_of(self, periods: Sequence[Period], scope: Scope = COUNCIL) -> list[Counts]:
        """The counts of each period of one scope, in the order given, from one statement for all of them."""
        found = await self.store.tallies.counts_of_spans(
            [(p.start, p.end) for p in periods],
            areas=scope.areas(self.taxonomy),
            staff_id=scope.staff_id,
            agency_group=self.taxonomy.agency_group,
        )
        return await self._with_baseline(periods, scope, found)

    async def counts_by_scope(self, periods: Sequence[Period], scopes: Sequence[Scope]) -> dict[Scope, list[Counts]]:
        """`counts_of(periods, scope)` for each scope (zones or the whole council, not one person's), from one
        statement for all of them: each table is scanned once, grouped by area."""
        if any(scope.staff_id is not None for scope in scopes):
            raise ValueError("counts by scope are of zones or the council, not of a staff member")
        unique = list(dict.fromkeys(scopes))
        found = await self.store.tallies.counts_by_areas(
            [(p.start, p.end) for p in periods],
            [scope.areas(self.taxonomy) for scope in unique],
            agency_group=self.taxonomy.agency_group,
        )
        pairs = zip(unique, found, strict=True)
        return {scope: await self._with_baseline(periods, scope, counts) for scope, counts in pairs}

    async def _with_baseline(self, periods: Sequence[Period], scope: Scope, found: list[Counts]) -> list[Counts]:
        for i, period in enumerate(periods):
            if period.kind == "fy" and scope.council_wide:
                # Imported totals of years before the bot are council-wide fiscal-year figures.
                baseline = await self.store.tallies.baseline(period.fiscal_year, self.taxonomy.outing_channel)
                found[i] = found[i].add(baseline)
        return found

    async def report(
        self,
        period: Period,
        *,
        compare: CompareMode | None = None,
        scope: Scope = COUNCIL,
        with_compare: bool = True,
        against: Period | None = None,
        today: date | None = None,
    ) -> Report:
        """`period` counted, against `against` when given, else the comparison period `compare` names.

        With `today`, a period still running is counted up to today and compared with the same span of its
        comparison period (前年同期, labelled 「令和8年度（12/1まで）」): the one rule of the bot, the terminal and
        every export."""
        if today is not None and against is None and period.start <= today < period.end:
            period, against = so_far(period, today, compare)
        if not with_compare:
            return build_report(self.taxonomy, period, await self.counts(period, scope))
        before = against or comparison_period(period, compare)
        current, previous = await self.counts_of([period, before], scope)
        return build_report(self.taxonomy, period, current, before, previous)

    async def activity_by_year(self, last_fy: int, years: int = 3, scope: Scope = COUNCIL) -> dict[int, dict[str, int]]:
        """Activity counts per fiscal year, oldest first (the multi-year chart, like 平成30年度～令和2年度)."""
        fys = range(last_fy - years + 1, last_fy + 1)
        counts = await self.counts_of([fiscal_year(fy) for fy in fys], scope)
        return {fy: c.activity for fy, c in zip(fys, counts, strict=True)}


PERIOD_KEYS: tuple[PeriodKey, ...] = ("week", "lastweek", "month", "fy", "lastfy")
# The tables /report offers as buttons, and the periods each can be switched to (月別 is of a fiscal year).
TABLE_PERIODS: dict[TableKey, tuple[PeriodKey, ...]] = {
    "staff": PERIOD_KEYS,
    "area": PERIOD_KEYS,
    "month": ("fy", "lastfy"),
    "places": ("month", "fy", "lastfy"),
}
EXPORT_YEARS = 3

__all__ = ["EXPORT_YEARS", "PERIOD_KEYS", "ReportService", "Reporter", "Scope", "period_for", "render_off_loop"]


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


class ReportService:
    """/report for supervisors and admins (their scope), /mine for everyone, /export for admins."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.reporter = Reporter(deps.store, deps.taxonomy)

    def menu(self, staff: Staff) -> Reply:
        choices = [Choice(t(f"report.choose.{key}"), ReportPeriod(key)) for key in PERIOD_KEYS]
        tables = [Choice(t(f"report.table.button.{key}"), ReportTable(key)) for key in TABLE_PERIODS]
        title = t("report.choose.title", scope=scope_label(staff, self.deps.taxonomy))
        city = []
        if self.deps.children is not None and staff.role is Role.ADMIN:  # 区社協合計, for the council over them
            city = [Choice(t(f"report.city.button.{key}"), ReportCity(key)) for key in ("fy", "lastfy")]
        return Reply(send=[View(title, rows(choices[:3], choices[3:], tables, city))])

    async def report(self, staff: Staff, button: ReportPeriod) -> Reply:
        today = self.deps.today()
        period = period_for(button.period, today)
        if period is None:
            return expired()
        # A period still running (this week, month, fiscal year) is compared up to the same day, not a whole one.
        report = await self.reporter.report(period, scope=scope_of(staff), today=today)
        texts = render_text(report)
        chart = await render_off_loop(lambda: comparison_chart(report, "activity"))
        caption = t("report.misc.chart_caption", period=report.period.label)
        return Reply(
            edit=View(texts[0]),
            send=[View(text) for text in texts[1:]],
            files=[Attachment("photo", chart, caption)],
        )

    async def table(self, staff: Staff, button: ReportTable) -> Reply:
        """担当者別, 地域別 or 月別 of the person's scope as text (this fiscal year unless another period was
        chosen), with buttons to see it for the other periods."""
        today = self.deps.today()
        period = period_for(button.period, today)
        offered = TABLE_PERIODS.get(button.table, ())
        if period is None or button.period not in offered:
            return expired()
        tables = ReportTables(self.reporter, self.deps.tz)
        named = await tables.table(button.table, period, scope=scope_of(staff), today=today)
        texts = render_table_text(named)
        others = [Choice(t(f"report.choose.{key}"), ReportTable(button.table, key)) for key in offered]
        switch = grid([c for c in others if c.button != button], 3)
        views = [View(text) for text in texts[:-1]] + [View(texts[-1], switch)]
        return Reply(edit=views[0], send=views[1:])

    async def mine(self, staff: Staff) -> Reply:
        """A staff member's own week so far, compared with last week up to the same day."""
        today = self.deps.today()
        report = await self.reporter.report(week_containing(today), scope=Scope(staff_id=staff.id), today=today)
        return Reply(send=[View(text) for text in render_text(report)])

    def export_menu(self) -> Reply:
        current = fiscal_year_of(self.deps.today()).fiscal_year
        years = [fiscal_year(fy) for fy in range(current, current - EXPORT_YEARS, -1)]
        return Reply(
            send=[View(t("report.export.choose"), rows(*[[Choice(p.label, ExportYear(p.fiscal_year))] for p in years]))]
        )

    async def export(self, staff: Staff, button: ExportYear) -> Reply:
        current = fiscal_year_of(self.deps.today()).fiscal_year
        if not current - EXPORT_YEARS < button.fiscal_year <= current:
            return expired()
        period = fiscal_year(button.fiscal_year)
        report = await self.reporter.report(period, today=self.deps.today())
        sheets = await ReportTables(self.reporter, self.deps.tz).every_table(period, today=self.deps.today())

        taxonomy = self.deps.taxonomy

        def spreadsheet() -> bytes:
            buffer = BytesIO()
            render_xlsx(report, buffer, council=taxonomy.council, tables=sheets)
            return buffer.getvalue()

        xlsx = await render_off_loop(spreadsheet)
        table = render_csv_bytes(report, council=taxonomy.council)
        # What the council reads: its name and the period, never the product's (市民社協_令和7年度_集計.xlsx).
        caption = report_caption(taxonomy.council, period.label)
        log.info("staff %s exported %s", staff.id, period.key)
        return Reply(
            edit=View(t("report.export.sending", period=period.label)),
            files=[
                Attachment("document", xlsx, caption, report_file_name(taxonomy.council_short, period.label, "xlsx")),
                Attachment("document", table, caption, report_file_name(taxonomy.council_short, period.label, "csv")),
            ],
        )
