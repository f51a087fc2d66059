"""The GROUP BY queries behind every report: counts per category for spans of days, a zone or a person."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from core.counts import Counts
from storage.sqlite.db import Database

Span = tuple[date, date]  # first and last day, inclusive


def span_where(
    start: date, end: date, areas: Sequence[str] | None, staff_id: int | None, alias: str = ""
) -> tuple[str, list[Any]]:
    prefix = f"{alias}." if alias else ""
    clauses = [f"{prefix}date BETWEEN ? AND ?"]
    params: list[Any] = [start.isoformat(), end.isoformat()]
    if areas is not None:
        clauses.append(f"{prefix}area IN ({', '.join('?' * len(areas))})")
        params += list(areas)
    if staff_id is not None:
        clauses.append(f"{prefix}staff_id = ?")
        params.append(staff_id)
    return " AND ".join(clauses), params


# One span's grouped scan of each table, as rows of one shape: (span, table, area, up to five categories,
# count). {i}: the span's number; {where}: its dates and the scope; {area} and {group}: the area, when grouped by
# area, else NULL and nothing; {agency}: for the group whose consultations came from an agency (its code bound
# first), who consulted and about what as one value ('?' where a record does not say: 不明), else NULL. The
# alias is that of the table whose date and area are filtered. Every column read is in a covering index.
_SCANS = (
    (
        "",
        "SELECT {i}, 'outing', {area}, activity, destination, NULL, NULL, NULL, count(*) FROM outings "
        "WHERE {where} GROUP BY {group}activity, destination",
    ),
    (
        "",
        "SELECT {i}, 'consultation', {area}, channel, consulter, consulter_category, {agency}, at_outing, count(*) "
        "FROM consultations WHERE {where} "
        "GROUP BY {group}channel, consulter, consulter_category, at_outing, from_agency, topic",
    ),
    (
        "c",
        "SELECT {i}, 'referral', {area}, a.agency, NULL, NULL, NULL, NULL, count(*) FROM consultations c "
        "JOIN consultation_agencies a ON a.consultation_id = c.id WHERE {where} GROUP BY {group}a.agency",
    ),
)
_AGENCY = "CASE WHEN consulter = ? THEN coalesce(from_agency, '?') || char(31) || coalesce(topic, '?') END"
_SEPARATOR = "\x1f"


def _scan_sql(
    spans: Sequence[Span],
    areas: Sequence[str] | None,
    staff_id: int | None,
    *,
    by_area: bool,
    agency_group: str | None = None,
) -> tuple[str, list[Any]]:
    """The grouped scans of every span as one statement (UNION ALL): each is the same range search of an
    index as a query of its own would be, and all of them together cost one trip to the database thread.

    The rows come back as one JSON array, in one row: SQLite computes all of it in one step on the database
    thread, which does not take the interpreter lock back for each row meanwhile (the event loop's thread
    folds and renders while the next query runs)."""
    parts: list[str] = []
    params: list[Any] = []
    agency = "NULL" if agency_group is None else _AGENCY
    for i, (start, end) in enumerate(spans):
        for alias, select in _SCANS:
            prefix = f"{alias}." if alias else ""
            area, group = (f"{prefix}area", f"{prefix}area, ") if by_area else ("NULL", "")
            where, more = span_where(start, end, areas, staff_id, alias)
            if "{agency}" in select and agency_group is not None:
                params.append(agency_group)  # bound before the WHERE's: it comes first in the statement
            parts.append(select.format(i=i, area=area, where=where, group=group, agency=agency))
            params += more
    rows = " UNION ALL ".join(parts)
    return (
        f"WITH scanned (span, tbl, area, a, b, c, d, e, n) AS ({rows}) "
        "SELECT json_group_array(json_array(span, tbl, area, a, b, c, d, e, n)) FROM scanned",
        params,
    )


def _fold(counts: Counts, table: str, a: Any, b: Any, c: Any, d: Any, e: Any, n: int) -> None:
    """One row of the scans into every dimension of `counts`."""
    if table == "outing":  # a: activity, b: destination
        counts.activity[a] = counts.activity.get(a, 0) + n
        counts.destination[b] = counts.destination.get(b, 0) + n
        counts.outings += n
    elif table == "consultation":  # a: channel, b: consulter, c: category, d: agency and topic, e: at an outing
        counts.channel[a] = counts.channel.get(a, 0) + n
        counts.consulter[b] = counts.consulter.get(b, 0) + n
        if c is not None:
            counts.consulter_category[b, c] = counts.consulter_category.get((b, c), 0) + n
        if d is not None:
            agency, _, topic = d.partition(_SEPARATOR)
            counts.agency[agency] = counts.agency.get(agency, 0) + n
            counts.topic[topic] = counts.topic.get(topic, 0) + n
        counts.consultations += n
        if e:
            counts.at_outing += n
    else:  # a: an agency referred to
        counts.referral[a] = counts.referral.get(a, 0) + n


# Where a row of span i (and area, when grouped by area) is counted.
Into = Callable[[int, str | None], Iterable[Counts]]


class TallyRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def counts(
        self,
        start: date,
        end: date,
        *,
        areas: Sequence[str] | None = None,
        staff_id: int | None = None,
        agency_group: str | None = None,
    ) -> Counts:
        """Counts of records dated start..end (inclusive), optionally of some areas or one staff member.

        `agency_group`: the consulter group whose consultations came from an agency; only its consultations
        are counted by the agency that consulted (`agency`) and by topic (`topic`). Without it both stay empty."""
        spans = [(start, end)]
        return (await self.counts_of_spans(spans, areas=areas, staff_id=staff_id, agency_group=agency_group))[0]

    async def counts_of_spans(
        self,
        spans: Sequence[Span],
        *,
        areas: Sequence[str] | None = None,
        staff_id: int | None = None,
        agency_group: str | None = None,
    ) -> list[Counts]:
        """The counts of each span of days (first..last, inclusive), in the order given, optionally of some areas
        or one staff member."""
        found = [Counts() for _ in spans]
        if spans and (areas is None or areas):
            into: Into = lambda i, _: (found[i],)  # noqa: E731
            await self._scan(spans, areas, staff_id, by_area=False, into=into, agency_group=agency_group)
        return found

    async def counts_by_areas(
        self, spans: Sequence[Span], groups: Sequence[Sequence[str] | None], *, agency_group: str | None = None
    ) -> list[list[Counts]]:
        """For each group of areas (None: every area, the whole council), the counts of each span: what
        `counts_of_spans(spans, areas=group)` returns for each group, from one scan of each table grouped by area
        (a digest's zones and the council: the records of a week are read once, not once per zone and again
        for the council)."""
        found = [[Counts() for _ in spans] for _ in groups]
        every = any(group is None for group in groups)
        scanned = None if every else sorted({area for group in groups for area in group or ()})
        if not spans or scanned == []:
            return found
        targets: dict[tuple[int, str | None], tuple[Counts, ...]] = {}

        def into(i: int, area: str | None) -> tuple[Counts, ...]:
            if (i, area) not in targets:
                targets[i, area] = tuple(
                    found[g][i] for g, group in enumerate(groups) if group is None or area in group
                )
            return targets[i, area]

        await self._scan(spans, scanned, None, by_area=True, into=into, agency_group=agency_group)
        return found

    async def _scan(
        self,
        spans: Sequence[Span],
        areas: Sequence[str] | None,
        staff_id: int | None,
        *,
        by_area: bool,
        into: Into,
        agency_group: str | None,
    ) -> None:
        """Grouped scans of outings, consultations and agency links, each span a range of an index, folded into
        every dimension here rather than one query per dimension."""
        row = await self.db.fetchone(*_scan_sql(spans, areas, staff_id, by_area=by_area, agency_group=agency_group))
        assert row is not None
        for i, table, area, a, b, c, d, e, n in json.loads(row[0]):
            for counts in into(i, area):
                _fold(counts, table, a, b, c, d, e, n)

    async def baseline(self, fiscal_year: int, outing_channel: str) -> Counts:
        """Imported totals of a fiscal year (councils that had only aggregate counts before the bot)."""
        rows = await self.db.fetchall(
            "SELECT dimension, category, count FROM baseline_counts WHERE fiscal_year = ?", (fiscal_year,)
        )
        counts = Counts()
        for dimension, category, n in rows:
            if dimension == "consulter_category":
                group, _, sub = category.partition("/")
                counts.consulter_category[(group, sub)] = n
            else:
                counts.dimension(dimension)[category] = n
        counts.outings = sum(counts.activity.values())
        counts.consultations = max(sum(counts.consulter.values()), sum(counts.channel.values()))
        counts.at_outing = counts.channel.get(outing_channel, 0)
        return counts

    async def staff_with_records(self, start: date, end: date, staff_ids: Sequence[int] | None = None) -> set[int]:
        """Which of these staff members (without `staff_ids`: of everyone) recorded anything dated start..end.

        One probe of the (staff, date) indexes per staff member, which stops at the first record: the cost goes
        with the number of staff, not of records (a week of a big city, or a year). The ids come back as one
        JSON array: one row, so the whole query runs in one step on the database thread, without handing the
        interpreter back and forth for each row."""
        if staff_ids is not None and not staff_ids:
            return set()
        which = "" if staff_ids is None else f"id IN ({', '.join('?' * len(staff_ids))}) AND "
        span = [start.isoformat(), end.isoformat()]
        row = await self.db.fetchone(
            f"SELECT json_group_array(id) FROM staff WHERE {which}("
            "EXISTS (SELECT 1 FROM outings o WHERE o.staff_id = staff.id AND o.date BETWEEN ? AND ?) "
            "OR EXISTS (SELECT 1 FROM consultations c WHERE c.staff_id = staff.id AND c.date BETWEEN ? AND ?))",
            [*(staff_ids or ()), *span, *span],
        )
        assert row is not None
        return {int(i) for i in json.loads(row[0])}

    async def counts_by_staff(
        self, start: date, end: date, *, areas: Sequence[str] | None = None
    ) -> dict[int, tuple[int, int]]:
        """(outings, consultations) dated start..end of each staff member who recorded any, optionally in some
        areas: the 担当者別 table and the digest's per-staff counts. One grouped scan of each table."""
        if areas is not None and not areas:
            return {}
        found: dict[int, tuple[int, int]] = {}
        for index, table in enumerate(("outings", "consultations")):
            where, params = span_where(start, end, areas, None)
            rows = await self.db.fetchall(
                f"SELECT staff_id, count(*) FROM {table} WHERE {where} GROUP BY staff_id", params
            )
            for staff_id, n in rows:
                counts = list(found.get(int(staff_id), (0, 0)))
                counts[index] = int(n)
                found[int(staff_id)] = (counts[0], counts[1])
        return found

    async def staff_counts_by_areas(
        self, start: date, end: date, groups: Sequence[Sequence[str] | None]
    ) -> list[dict[int, tuple[int, int]]]:
        """For each group of areas (None: every area), what `counts_by_staff(start, end, areas=group)` returns,
        from one statement for all the groups (a digest's zones and the council): each table grouped by staff
        member and area once."""
        found: list[dict[int, tuple[int, int]]] = [{} for _ in groups]
        every = any(group is None for group in groups)
        scanned = None if every else sorted({area for group in groups for area in group or ()})
        if scanned == []:
            return found
        where, params = span_where(start, end, scanned, None)
        row = await self.db.fetchone(
            "WITH scanned (tbl, staff, area, n) AS ("
            f"SELECT 0, staff_id, area, count(*) FROM outings WHERE {where} GROUP BY staff_id, area UNION ALL "
            f"SELECT 1, staff_id, area, count(*) FROM consultations WHERE {where} GROUP BY staff_id, area) "
            "SELECT json_group_array(json_array(tbl, staff, area, n)) FROM scanned",
            params + params,
        )
        assert row is not None
        members = [None if group is None else set(group) for group in groups]
        for table, staff_id, area, n in json.loads(row[0]):
            for g, member in enumerate(members):
                if member is None or area in member:
                    outings, consultations = found[g].get(staff_id, (0, 0))
                    found[g][staff_id] = (outings + n, consultations) if table == 0 else (outings, consultations + n)
        return found

    async def last_outing_by_area(self, until: date, *, areas: Sequence[str] | None = None) -> dict[str, date]:
        """The date of the last outing on or before `until` in each area that had one (optionally of some areas):
        the 地域別 table's last outing and the digest's areas not visited lately."""
        if areas is not None and not areas:
            return {}
        if areas is None:
            rows = await self.db.fetchall(
                "SELECT area, max(date) FROM outings WHERE date <= ? GROUP BY area", [until.isoformat()]
            )
            return {str(area): date.fromisoformat(last) for area, last in rows}
        # Named areas: one probe of the date index per area, read backwards from `until` and stopping at the
        # area's first outing met (a week back for an area visited last week), instead of grouping all of history.
        wanted = ", ".join("(?)" for _ in areas)
        row = await self.db.fetchone(
            f"WITH wanted (area) AS (VALUES {wanted}) SELECT json_group_array(json_array(area, "
            "(SELECT max(o.date) FROM outings o WHERE o.area = wanted.area AND o.date <= ?))) FROM wanted",
            [*areas, until.isoformat()],
        )
        assert row is not None
        return {str(area): date.fromisoformat(last) for area, last in json.loads(row[0]) if last is not None}

    async def totals_by_areas(
        self, spans: Sequence[Span], groups: Sequence[Sequence[str] | None]
    ) -> list[list[tuple[int, int, int]]]:
        """For each group of areas (None: every area), the (outings, consultations, consultations at outings)
        of each span: the headline figures alone, for long spans (a digest's year to date) where the grouped scans
        of every dimension would cost a report's time. One statement, each table's span read from its index."""
        every = any(group is None for group in groups)
        scanned = None if every else sorted({area for group in groups for area in group or ()})
        totals = [[[0, 0, 0] for _ in spans] for _ in groups]
        if spans and scanned != []:
            parts: list[str] = []
            params: list[Any] = []
            for i, (start, end) in enumerate(spans):
                where, more = span_where(start, end, scanned, None)
                parts.append(f"SELECT {i}, 0, area, count(*), 0 FROM outings WHERE {where} GROUP BY area")
                parts.append(
                    f"SELECT {i}, 1, area, count(*), sum(at_outing) FROM consultations WHERE {where} GROUP BY area"
                )
                params += more + more
            row = await self.db.fetchone(
                f"WITH scanned (span, tbl, area, n, at_outing) AS ({' UNION ALL '.join(parts)}) "
                "SELECT json_group_array(json_array(span, tbl, area, n, at_outing)) FROM scanned",
                params,
            )
            assert row is not None
            members = [None if group is None else set(group) for group in groups]
            for i, table, area, n, at_outing in json.loads(row[0]):
                for g, member in enumerate(members):
                    if member is None or area in member:
                        totals[g][i][table] += n
                        totals[g][i][2] += at_outing
        return [[(o, c, a) for o, c, a in per_span] for per_span in totals]

    async def followup_numbers(self, today: date, areas: Sequence[str] | None = None) -> tuple[int, int]:
        """(open, overdue) follow-ups, optionally of some areas: numbers only, for digests and group chats."""
        where = ""
        params: list[Any] = [today.isoformat()]
        if areas is not None:
            where = f" AND area IN ({', '.join('?' * len(areas))})" if areas else " AND 0"
            params += list(areas)
        row = await self.db.fetchone(
            f"SELECT count(*), coalesce(sum(due_date < ?), 0) FROM followups WHERE status = 'open'{where}", params
        )
        assert row is not None
        return int(row[0]), int(row[1])
