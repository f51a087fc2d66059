"""The places table (活動先別): what happened at each registered place in a period, how many distinct places were
supported by kind, which were launched or closed, and which have had no outing for some weeks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from core.i18n import t
from core.models import Place, PlaceStatus
from core.places import status_label
from core.taxonomy import Taxonomy
from reports.tables import GridRow, GridTable, Value

QUIET_WEEKS = 8  # a place without an outing for this long is listed (the digest uses the same)
QUIET_LISTED = 10  # names listed in the note; the rest are counted


class PlaceActivity(Protocol):
    """What happened at one place in a period (what storage's `places.activity` returns for each place)."""

    @property
    def outings(self) -> int: ...
    @property
    def consultations(self) -> int: ...
    @property
    def outreach(self) -> int: ...
    @property
    def last_outing(self) -> date | None: ...


@dataclass(frozen=True, slots=True)
class _Nothing:
    outings: int = 0
    consultations: int = 0
    outreach: int = 0
    last_outing: date | None = None


NOTHING = _Nothing()


def _active_in(place: Place, start: date, end: date) -> bool:
    """Whether the place existed in the period: started by its end (or no date) and not ended before its start."""
    started = place.started_on is None or place.started_on <= end
    ended = place.status is PlaceStatus.ENDED and place.ended_on is not None and place.ended_on < start
    return started and not ended


def quiet_places(
    places: Sequence[Place], activity: Mapping[int, PlaceActivity], end: date, weeks: int = QUIET_WEEKS
) -> list[tuple[Place, date | None]]:
    """Places still running (準備中 or 活動中) with no outing in the `weeks` weeks up to `end`, the longest quiet
    first, with their last outing (None: never)."""
    since = end - timedelta(weeks=weeks) + timedelta(days=1)
    found = []
    for place in places:
        if place.status not in (PlaceStatus.ACTIVE, PlaceStatus.PREPARING):
            continue
        last = activity[place.id].last_outing if place.id in activity else None
        if last is None or last < since:
            found.append((place, last))
    return sorted(found, key=lambda pair: (pair[1] or date.min, pair[0].name))


def places_table(
    taxonomy: Taxonomy,
    places: Sequence[Place],
    activity: Mapping[int, PlaceActivity],
    start: date,
    end: date,
    *,
    weeks: int = QUIET_WEEKS,
) -> GridTable:
    """One row per place that existed in the period or had an outing in it (by area, then name), a total row,
    and the notes: distinct places supported by kind, launched and closed, and quiet ones."""
    columns = ["kind", "area", "status", "outings", "consultations", "outreach", "last_outing"]
    rows = []
    for place in sorted(places, key=lambda p: (taxonomy.area_label(p.area), p.name, p.id)):
        done = activity.get(place.id, NOTHING)
        if not (done.outings or _active_in(place, start, end)):
            continue
        values: list[Value] = [
            taxonomy.destination.label(place.kind),
            taxonomy.area_label(place.area),
            status_label(place.status),
            done.outings,
            done.consultations,
            done.outreach,
            done.last_outing,
        ]
        rows.append(GridRow(label=place.name, values=values, code=str(place.id)))
    sums: list[Value] = [sum(v for row in rows if isinstance(v := row.values[i], int)) for i in (3, 4, 5)]
    total = GridRow(label=t("report.table.total"), values=[None, None, None, *sums, None])
    return GridTable(
        columns=[t(f"place.column.{name}") for name in columns],
        rows=rows,
        total=total,
        notes=_notes(taxonomy, places, activity, start, end, weeks),
    )


def _notes(
    taxonomy: Taxonomy,
    places: Sequence[Place],
    activity: Mapping[int, PlaceActivity],
    start: date,
    end: date,
    weeks: int,
) -> list[str]:
    supported = [p for p in places if activity.get(p.id, NOTHING).outings]
    kinds = Counter(p.kind for p in supported)
    by_kind = t("flow.list_separator").join(
        t("place.note.kind", kind=taxonomy.destination.label(kind), count=n)
        for kind, n in sorted(kinds.items(), key=lambda pair: taxonomy.destination.order_of(pair[0]))
    )
    launched = sum(1 for p in places if p.started_on is not None and start <= p.started_on <= end)
    closed = sum(1 for p in places if p.ended_on is not None and start <= p.ended_on <= end)
    quiet = quiet_places(places, activity, end, weeks)
    names = t("flow.list_separator").join(p.name for p, _ in quiet[:QUIET_LISTED])
    if len(quiet) > QUIET_LISTED:
        names += t("place.note.more", count=len(quiet) - QUIET_LISTED)
    notes = [
        t("place.note.supported", count=len(supported), kinds=by_kind or t("report.empty")),
        t("place.note.launched", launched=launched, closed=closed),
        t("place.note.quiet", weeks=weeks, count=len(quiet), names=names or t("report.empty")),
    ]
    return notes
