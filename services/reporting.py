"""Building reports from stored records: the right counts for a period, zone or person, with the comparison."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from core.counts import Counts
from core.periods import CompareMode, Period, comparison_period, fiscal_year
from core.taxonomy import Taxonomy
from reports.tally import Report, build_report
from storage.sqlite.store import Store

T = TypeVar("T")

# matplotlib keeps global state (rc settings, the font cache): charts are drawn one at a time, off the event loop.
_RENDER_LOCK = threading.Lock()


async def render_off_loop(render: Callable[[], T]) -> T:
    """CPU-bound rendering (charts, spreadsheets) in a worker thread so taps are answered meanwhile."""

    def locked() -> T:
        with _RENDER_LOCK:
            return render()

    return await asyncio.to_thread(locked)


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose records a report counts: a zone's areas, one staff member's, or (both None) the whole council."""

    zone: str | None = None
    staff_id: int | None = None

    def areas(self, taxonomy: Taxonomy) -> list[str] | None:
        if self.zone is None:
            return None
        return [a.code for a in taxonomy.areas_of(self.zone)]

    @property
    def council_wide(self) -> bool:
        return self.zone is None and self.staff_id is None


class Reporter:
    def __init__(self, store: Store, taxonomy: Taxonomy) -> None:
        self.store = store
        self.taxonomy = taxonomy

    async def counts(self, period: Period, scope: Scope = Scope()) -> Counts:
        counts = await self.store.tallies.counts(
            period.start, period.end, areas=scope.areas(self.taxonomy), staff_id=scope.staff_id
        )
        if period.kind == "fy" and scope.council_wide:
            # Imported totals of years before the bot are council-wide fiscal-year figures.
            counts = counts.add(await self.store.tallies.baseline(period.fiscal_year, self.taxonomy.outing_channel))
        return counts

    async def report(
        self,
        period: Period,
        *,
        compare: CompareMode | None = None,
        scope: Scope = Scope(),
        with_compare: bool = True,
        against: Period | None = None,
    ) -> Report:
        """`period` counted, against `against` when given, else the comparison period `compare` names."""
        current = await self.counts(period, scope)
        if not with_compare:
            return build_report(self.taxonomy, period, current)
        before = against or comparison_period(period, compare)
        return build_report(self.taxonomy, period, current, before, await self.counts(before, scope))

    async def activity_by_year(self, last_fy: int, years: int = 3, scope: Scope = Scope()) -> dict[int, dict[str, int]]:
        """Activity counts per fiscal year, oldest first (the multi-year chart, like 平成30年度～令和2年度)."""
        series: dict[int, dict[str, int]] = {}
        for fy in range(last_fy - years + 1, last_fy + 1):
            series[fy] = (await self.counts(fiscal_year(fy), scope)).activity
        return series
