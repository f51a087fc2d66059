"""City-wide totals: the councils under this one side by side and summed, each counted from its own store."""

from __future__ import annotations

from collections.abc import Sequence

from core.buttons import PeriodKey, ReportCity
from core.i18n import t
from core.models import Role, Staff
from core.periods import Period
from core.taxonomy import Taxonomy
from reports.city import CityTable, Member, city_sections, city_table
from reports.render_text import TELEGRAM_LIMIT, pack_sections
from services.deps import Child, Deps
from services.report_tables import counted_span
from services.reporting import Reporter, period_for
from services.screens import Reply, View, expired

CITY_PERIODS: tuple[PeriodKey, ...] = ("fy", "lastfy")


async def city_totals(parent: Taxonomy, children: Sequence[Child], span: Period) -> CityTable:
    """The children's counts of `span` side by side and summed, labelled by the parent's taxonomy. Each child's
    counts are read from its own store as its own report counts them (imported fiscal-year totals included)."""
    members = []
    for child in children:
        counts = await Reporter(child.store, child.taxonomy).counts(span)
        members.append(Member(child.council.code, child.council.column, child.taxonomy, counts))
    return city_table(parent, members)


def city_texts(title: str, table: CityTable, span: Period, *, limit: int) -> list[str]:
    """The table as messages (or one text of any length): a heading with the period, then a section per list."""
    head = t("report.table.heading", title=title, period=span.label)
    continued = t("report.table.continued", title=title, period=span.label)
    return pack_sections(head, continued, city_sections(table), "", limit=limit)


def city_title(parent_name: str, table: CityTable) -> str:
    return t("report.city.title", parent=parent_name, count=len(table.members)).strip()


class CityService:
    """/report's 区社協合計 for an admin of a council with councils under it; the councils under it never see it
    (their bots have no one under them) nor each other."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def offered(self, staff: Staff) -> bool:
        return self.deps.children is not None and staff.role is Role.ADMIN

    async def report(self, staff: Staff, button: ReportCity) -> Reply:
        today = self.deps.today()
        period = period_for(button.period, today)
        children = self.deps.children
        if period is None or button.period not in CITY_PERIODS or children is None or not self.offered(staff):
            return expired()
        span = counted_span(period, today)
        async with children.opened() as found:
            if not found:
                return Reply(edit=View(t("report.city.none")))
            table = await city_totals(self.deps.taxonomy, found, span)
        texts = city_texts(city_title(self.deps.taxonomy.council, table), table, span, limit=TELEGRAM_LIMIT)
        return Reply(edit=View(texts[0]), send=[View(text) for text in texts[1:]])
