"""The supervisors' tables of a period and a scope (年度別, 月別, 担当者別, 地域別, 活動内容 × 支援先, 参加人数,
対応結果), counted as the report of the same period and scope counts them: /report's buttons and `fieldbot
report --table`."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from core.counts import Counts
from core.era import era_range_label
from core.i18n import t
from core.models import Role, Staff
from core.periods import Period, fiscal_year, so_far
from reports.places import places_table
from reports.tables import (
    TABLE_NAMES,
    NamedTable,
    TableName,
    area_table,
    cross_table,
    headcount_table,
    month_table,
    outcomes_table,
    staff_table,
    years_table,
)
from services.access import Scope

if TYPE_CHECKING:  # services.reporting offers these tables in /report
    from services.reporting import Reporter

DEFAULT_YEARS = 3
COUNCIL = Scope()


def counted_span(period: Period, today: date | None) -> Period:
    """The span a table counts: a period still running is counted up to today (「令和8年度（12/1まで）」), as the
    report of the same period is."""
    if today is not None and period.start <= today < period.end:
        return so_far(period, today)[0]
    return period


class ReportTables:
    def __init__(self, reporter: Reporter, tz: ZoneInfo) -> None:
        self.reporter = reporter
        self.store = reporter.store
        self.taxonomy = reporter.taxonomy
        self.tz = tz

    async def table(
        self,
        name: TableName,
        period: Period,
        *,
        scope: Scope = COUNCIL,
        today: date | None = None,
        years: int = DEFAULT_YEARS,
    ) -> NamedTable:
        """One table of `period` (for `years`: the `years` fiscal years ending with the period's; for `month`:
        the months of the period's fiscal year) in `scope`."""
        if name == "years":
            return await self.years(period.fiscal_year, years, scope)
        if name == "month":
            return await self.month(counted_span(fiscal_year(period.fiscal_year), today), scope)
        span = counted_span(period, today)
        if name == "staff":
            return await self.staff(span, scope)
        if name == "area":
            return await self.area(span, scope)
        if name == "outcomes":
            return await self.outcomes(span, scope)
        if name == "places":
            return await self.places(span, scope)
        return await self.outings(name, span, scope)

    async def every_table(
        self, period: Period, *, scope: Scope = COUNCIL, today: date | None = None, years: int = DEFAULT_YEARS
    ) -> list[NamedTable]:
        """Every table of `period`, in the order of TABLE_NAMES (the sheets of a fiscal year's workbook)."""
        return [await self.table(name, period, scope=scope, today=today, years=years) for name in TABLE_NAMES]

    async def _baseline(self, period: Period, scope: Scope) -> Counts | None:
        """The imported totals the report of this period adds (a whole fiscal year, council-wide), else None."""
        if period.kind != "fy" or not scope.council_wide:
            return None
        return await self.store.tallies.baseline(period.fiscal_year, self.taxonomy.outing_channel)

    async def _baseline_notes(self, period: Period, scope: Scope) -> list[str]:
        baseline = await self._baseline(period, scope)
        if baseline is None or not baseline.outings:
            return []
        return [t("report.table.baseline_note", outings=baseline.outings)]

    async def years(self, last_fy: int, years: int, scope: Scope) -> NamedTable:
        fys = list(range(last_fy - years + 1, last_fy + 1))
        counts = await self.reporter.counts_of([fiscal_year(fy) for fy in fys], scope)
        table = years_table(self.taxonomy, fys, counts)
        return NamedTable(name="years", period=era_range_label(fys[0], fys[-1]), table=table)

    async def month(self, span: Period, scope: Scope) -> NamedTable:
        areas = scope.areas(self.taxonomy)
        cells = await self.store.tables.outing_cells(span.start, span.end, areas=areas, staff_id=scope.staff_id)
        found = await self.store.tables.consultations_by_month(
            span.start, span.end, areas=areas, staff_id=scope.staff_id
        )
        notes = await self._baseline_notes(span, scope)
        table = month_table(self.taxonomy, span.fiscal_year, cells, found, notes=notes)
        return NamedTable(name="month", period=span.label, table=table)

    async def outings(self, name: TableName, span: Period, scope: Scope) -> NamedTable:
        """活動内容 × 支援先 (`cross`) or 参加人数 (`headcount`)."""
        areas = scope.areas(self.taxonomy)
        cells = await self.store.tables.outing_cells(span.start, span.end, areas=areas, staff_id=scope.staff_id)
        notes = await self._baseline_notes(span, scope)
        build = cross_table if name == "cross" else headcount_table
        return NamedTable(name=name, period=span.label, table=build(self.taxonomy, cells, notes=notes))

    def _listed(self, person: Staff, scope: Scope, areas: list[str] | None) -> bool:
        """Whether a staff member is a row of 担当者別 even without a record: the area staff of the scope."""
        if scope.staff_id is not None:
            return person.id == scope.staff_id
        if not person.active or person.imported or person.role is Role.ADMIN:
            return False
        return areas is None or person.area in areas or (scope.zone is not None and person.zone == scope.zone)

    async def staff(self, span: Period, scope: Scope) -> NamedTable:
        areas = scope.areas(self.taxonomy)
        counts = await self.store.tallies.counts_by_staff(span.start, span.end, areas=areas)
        referrals = await self.store.tables.referrals_by_staff(span.start, span.end, areas=areas)
        if scope.staff_id is not None:
            counts = {k: v for k, v in counts.items() if k == scope.staff_id}
            referrals = {k: v for k, v in referrals.items() if k == scope.staff_id}
        everyone = await self.store.staff.all(include_imported=True)
        listed = [(s.id, s.name) for s in everyone if self._listed(s, scope, areas) or s.id in counts]
        listed += [(s.id, s.name) for s in everyone if s.id in referrals and s.id not in dict(listed)]
        table = staff_table(listed, counts, referrals, baseline=await self._baseline(span, scope))
        return NamedTable(name="staff", period=span.label, table=table)

    async def area(self, span: Period, scope: Scope) -> NamedTable:
        areas = scope.areas(self.taxonomy)
        counts = await self.store.tables.counts_by_area(span.start, span.end, areas=areas, staff_id=scope.staff_id)
        last = await self.store.tallies.last_outing_by_area(span.end, areas=areas)
        if scope.staff_id is not None:  # one person's records: the areas they recorded in
            listed = [a.code for a in self.taxonomy.areas() if a.code in counts]
        else:
            offered = self.taxonomy.areas() if scope.zone is None else self.taxonomy.areas_of(scope.zone)
            listed = [a.code for a in offered if not a.retired or a.code in counts]
        table = area_table(self.taxonomy, listed, counts, last, baseline=await self._baseline(span, scope))
        return NamedTable(name="area", period=span.label, table=table)

    async def places(self, span: Period, scope: Scope) -> NamedTable:
        """活動先別: each registered place of the scope, with distinct places by kind, launched and closed, and the
        places without an outing for 8 weeks up to the period's end (a staff member's scope: their places)."""
        areas = scope.areas(self.taxonomy)
        registered = await self.store.places.all(areas)
        done = await self.store.places.activity(span.start, span.end, self.taxonomy.outreach_activity, areas)
        if scope.staff_id is not None:
            mine = {p.id for p in await self.store.places.recent_for(scope.staff_id, limit=10_000)}
            registered = [p for p in registered if p.id in mine]
        table = places_table(self.taxonomy, registered, done, span.start, span.end)
        return NamedTable(name="places", period=span.label, table=table)

    def _instant(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.tz)

    async def outcomes(self, span: Period, scope: Scope) -> NamedTable:
        start, end = self._instant(span.start), self._instant(span.end + timedelta(days=1))
        opened, closed = await self.store.tables.followup_outcomes(
            start, end, areas=scope.areas(self.taxonomy), owner_id=scope.staff_id
        )
        table = outcomes_table(self.taxonomy, opened, closed)
        return NamedTable(name="outcomes", period=span.label, table=table)
