"""Every report's counts: the daily and monthly tallies kept with each write that changes what is counted (what
reports read), the record scans they agree with, and the grouped queries that need single records (per staff
member, the last outing of an area, who recorded)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from core.counts import Counts
from storage.sql import Database, Transaction

Span = tuple[date, date]  # first and last day, inclusive
COUNCIL = "*"  # the tallies' area of the whole council (no area code can be it)


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


# ---- tallies: written with the records ------------------------------------------------------------------------
#
# What records count, per day (or month), area and category (migration 0014 describes the dimensions and fills the
# tables with the same SELECT), read from {outings} and {consultations}: the tables themselves (every record, each
# scan in the order of a covering index), or the few records a write chose (see `_chosen`). {o} and {c}: the
# record's day, or its month.
_COUNTED = (
    "SELECT {o}, o.area, 'activity', o.activity, '', count(*) FROM {outings} o GROUP BY {o}, o.area, o.activity",
    "SELECT {o}, o.area, 'destination', o.destination, '', count(*) FROM {outings} o "
    "GROUP BY {o}, o.area, o.destination",
    "SELECT {c}, c.area, 'channel', c.channel, '', count(*) FROM {consultations} c GROUP BY {c}, c.area, c.channel",
    "SELECT {c}, c.area, 'consulter', c.consulter, '', count(*) FROM {consultations} c "
    "GROUP BY {c}, c.area, c.consulter",
    "SELECT {c}, c.area, 'consulter_category', c.consulter, c.consulter_category, count(*) FROM {consultations} c "
    "WHERE c.consulter_category IS NOT NULL GROUP BY {c}, c.area, c.consulter, c.consulter_category",
    "SELECT {c}, c.area, 'agency', c.consulter, coalesce(c.from_agency, '?'), count(*) FROM {consultations} c "
    "GROUP BY {c}, c.area, c.consulter, coalesce(c.from_agency, '?')",
    "SELECT {c}, c.area, 'topic', c.consulter, coalesce(c.topic, '?'), count(*) FROM {consultations} c "
    "GROUP BY {c}, c.area, c.consulter, coalesce(c.topic, '?')",
    "SELECT {c}, c.area, 'at_outing', '', '', count(*) FROM {consultations} c WHERE c.at_outing = 1 "
    "GROUP BY {c}, c.area",
    "SELECT {c}, c.area, 'referral', a.agency, '', count(*) FROM {consultations} c "
    "JOIN consultation_agencies a ON a.consultation_id = c.id GROUP BY {c}, c.area, a.agency",
)
_KEY = "dimension, category, sub"
_GRAIN = {"day": ("o.date", "c.date"), "month": ("substr(o.date, 1, 7)", "substr(c.date, 1, 7)")}
# Each record counted in its area and in the whole council's: `counted` has one row per area, day (or month) and
# key already; the council's are its sums over the areas.
_LEVELS = (
    f"SELECT area, day, {_KEY}, {{n}} FROM counted UNION ALL "
    f"SELECT '{COUNCIL}', day, {_KEY}, {{sum}} FROM counted GROUP BY day, {_KEY}"
)


def _counted(outings: str, consultations: str, grain: str = "day") -> str:
    """The common table `counted (day, area, dimension, category, sub, n)` of these outings and consultations, per
    day or (`grain` "month") per month, in the column `day`."""
    o, c = _GRAIN[grain]
    selects = " UNION ALL ".join(
        select.format(outings=outings, consultations=consultations, o=o, c=c) for select in _COUNTED
    )
    return f"counted (day, area, {_KEY}, n) AS ({selects})"


def _chosen(outings: str, consultations: str, grain: str) -> str:
    """`WITH ... counted` of the records these conditions choose: each table's chosen rows read once (by the index
    the condition names), not once per dimension, and never by a scan of a whole index."""
    return (
        "WITH chosen_outings AS MATERIALIZED ("
        f"SELECT date, area, activity, destination FROM outings WHERE {outings}), "
        "chosen_consultations AS MATERIALIZED (SELECT id, date, area, channel, consulter, consulter_category, "
        f"from_agency, topic, at_outing FROM consultations WHERE {consultations}), "
        + _counted("chosen_outings", "chosen_consultations", grain)
        + " "
    )


_TABLES = (("daily_tallies", "day"), ("monthly_tallies", "month"))


def _add_sql(table: str, grain: str, sign: int) -> str:
    """Add (sign 1) or take away (-1) the counted rows (of `table`'s grain) to `table`'s."""
    levels = _LEVELS.format(n="n", sum="sum(n)") if sign > 0 else _LEVELS.format(n="-n", sum="-sum(n)")
    return (
        f"INSERT INTO {table} (area, {grain}, {_KEY}, n) {levels} "
        f"ON CONFLICT (area, {grain}, {_KEY}) DO UPDATE SET n = {table}.n + excluded.n"
    )


async def _count(tx: Transaction, sign: int, outings: str, consultations: str, params: Sequence[Any]) -> None:
    """The tallies of the chosen records (`params`: the outings' condition's, then the consultations') added or,
    before they are deleted, taken away, in the caller's transaction. A count taken to 0 is deleted: the tallies
    are always exactly what a rebuild makes of the records."""
    for table, grain in _TABLES:
        await tx.execute(_chosen(outings, consultations, grain) + _add_sql(table, grain, sign), params)
        if sign < 0:
            await tx.execute(f"DELETE FROM {table} WHERE n = 0")  # read from the partial index *_spent


async def count_submission(tx: Transaction, submission_id: int) -> None:
    """Count what a submission saved (called once its records are written)."""
    await _count(tx, 1, "submission_id = ?", "submission_id = ?", [submission_id, submission_id])


async def uncount_submission(tx: Transaction, submission_id: int) -> None:
    """Take away what a submission counted (called before it is deleted: the cascade takes its records)."""
    await _count(tx, -1, "submission_id = ?", "submission_id = ?", [submission_id, submission_id])


IMPORT_CHUNK = 20_000  # ids of one table read at once when an import is counted (the rows are held meanwhile)


async def count_import(tx: Transaction, import_id: int, first_outing: int, first_consultation: int) -> None:
    """Count the records an import wrote, in its transaction. Their ids start at the first ones it took (above
    every id there was): each table is read in ranges of its primary key, a chunk of ids at a time."""
    last = []
    for table in ("outings", "consultations"):
        row = (await tx.execute(f"SELECT max(id) FROM {table}")).one()
        last.append(int(row[0]) if row is not None and row[0] is not None else 0)
    start_o, start_c = first_outing, first_consultation
    where = "import_id = ? AND id BETWEEN ? AND ?"
    while start_o <= last[0] or start_c <= last[1]:
        stop_o, stop_c = start_o + IMPORT_CHUNK - 1, start_c + IMPORT_CHUNK - 1
        await _count(tx, 1, where, where, [import_id, start_o, stop_o, import_id, start_c, stop_c])
        start_o, start_c = stop_o + 1, stop_c + 1


# Every record's tallies as they should be, against the tables': the number of rows of each table that differ
# (a count that is not the records', a row missing, a row that should not be there).
_EVERY_RECORD = "WITH " + _counted("outings", "consultations") + " "
_DIFFERENCES = (
    _EVERY_RECORD + f", daily (area, day, {_KEY}, n) AS ({_LEVELS.format(n='n', sum='sum(n)')}), "
    f"monthly (area, month, {_KEY}, n) AS (SELECT area, substr(day, 1, 7), {_KEY}, sum(n) FROM daily "
    f"GROUP BY area, substr(day, 1, 7), {_KEY}) "
    "SELECT "
    + ", ".join(
        f"(SELECT count(*) FROM (SELECT sum(made) AS made, sum(kept) AS kept, count(*) AS seen FROM ("
        f"SELECT area, {grain}, {_KEY}, n AS made, 0 AS kept FROM {made} UNION ALL "
        f"SELECT area, {grain}, {_KEY}, 0, n FROM {kept}) AS both_ GROUP BY area, {grain}, {_KEY}) AS compared "
        "WHERE made <> kept OR seen <> 2)"
        for grain, made, kept in (("day", "daily", "daily_tallies"), ("month", "monthly", "monthly_tallies"))
    )
)
_MONTHS_OF_DAYS = (
    f"INSERT INTO monthly_tallies (area, month, {_KEY}, n) SELECT area, substr(day, 1, 7), {_KEY}, sum(n) "
    f"FROM daily_tallies GROUP BY area, substr(day, 1, 7), {_KEY}"
)
# Empty tallies filled from every record (what migration 0014 does): the days, then the months of the days.
FILL = (_EVERY_RECORD + _add_sql("daily_tallies", "day", 1), _MONTHS_OF_DAYS)


# ---- tallies: read by the reports -----------------------------------------------------------------------------


def _pieces(start: date, end: date) -> list[tuple[str, str, str, str]]:
    """A span of days as (table, column, first, last): its whole months from monthly_tallies, the days before the
    first and after the last whole month from daily_tallies (a fiscal year: twelve months, no day)."""
    if start > end:
        return []
    first = start if start.day == 1 else (start.replace(day=1) + timedelta(days=31)).replace(day=1)
    after = end + timedelta(days=1)
    stop = after if after.day == 1 else end.replace(day=1)  # the day after the last whole month
    if first >= stop:
        return [("daily_tallies", "day", start.isoformat(), end.isoformat())]
    pieces = [("monthly_tallies", "month", first.isoformat()[:7], (stop - timedelta(days=1)).isoformat()[:7])]
    if start < first:
        pieces.append(("daily_tallies", "day", start.isoformat(), (first - timedelta(days=1)).isoformat()))
    if stop <= end:
        pieces.append(("daily_tallies", "day", stop.isoformat(), end.isoformat()))
    return pieces


def _tally_sql(
    spans: Sequence[Span], areas: Sequence[str], *, by_area: bool, dimensions: Sequence[str] = ()
) -> tuple[str, list[Any]]:
    """The tallies of each span summed (per area when `by_area`, else over `areas`), as rows of (span, area or
    '*', dimension, category, sub, n): one statement for all the spans, each piece a range of a primary key."""
    where = f"area IN ({', '.join('?' * len(areas))})"
    if dimensions:
        where += f" AND dimension IN ({', '.join('?' * len(dimensions))})"
    parts: list[str] = []
    params: list[Any] = []
    for i, (start, end) in enumerate(spans):
        pieces = []
        for table, column, first, last in _pieces(start, end):
            pieces.append(f"SELECT area, {_KEY}, n FROM {table} WHERE {where} AND {column} BETWEEN ? AND ?")
            params += [*areas, *dimensions, first, last]
        if pieces:
            area, group = ("area", f"area, {_KEY}") if by_area else (f"'{COUNCIL}'", _KEY)
            parts.append(
                f"SELECT {i}, {area}, {_KEY}, sum(n) FROM ({' UNION ALL '.join(pieces)}) AS span{i} GROUP BY {group}"
            )
    return " UNION ALL ".join(parts), params


def _fold_tally(counts: Counts, dimension: str, category: str, sub: str, n: int, agency_group: str | None) -> None:
    """One summed tally into `counts` (what `_fold` makes of the records, see migration 0014)."""
    if dimension in _ONE_KEY:
        found = counts.dimension(dimension)
        found[category] = found.get(category, 0) + n
        if dimension == "activity":
            counts.outings += n
        elif dimension == "channel":
            counts.consultations += n
    elif dimension == "consulter_category":
        counts.consulter_category[category, sub] = counts.consulter_category.get((category, sub), 0) + n
    elif dimension in ("agency", "topic"):
        if category == agency_group:  # who consulted and about what: of the agency group only
            found = counts.dimension(dimension)
            found[sub] = found.get(sub, 0) + n
    elif dimension == "at_outing":
        counts.at_outing += n


_ONE_KEY = frozenset({"activity", "destination", "channel", "consulter", "referral"})


# ---- record scans: one staff member's counts, and what the tallies are checked against ------------------------

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
_AGENCY = "CASE WHEN consulter = ? THEN coalesce(from_agency, '?') || ? || coalesce(topic, '?') END"  # ?: _SEPARATOR
_SEPARATOR = "\x1f"


def _scan_sql(
    spans: Sequence[Span],
    areas: Sequence[str] | None,
    staff_id: int | None,
    *,
    by_area: bool,
    json_rows: Callable[[str], str],
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
                params += [agency_group, _SEPARATOR]  # bound before the WHERE's: they come first in the statement
            parts.append(select.format(i=i, area=area, where=where, group=group, agency=agency))
            params += more
    rows = " UNION ALL ".join(parts)
    return (
        f"WITH scanned (span, tbl, area, a, b, c, d, e, n) AS ({rows}) "
        f"SELECT {json_rows('span, tbl, area, a, b, c, d, e, n')} FROM scanned",
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


_HEADLINE = ("activity", "channel", "at_outing")  # sums of: outings, consultations, consultations at outings


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
        or one staff member: from the tallies (one staff member's: from the records, which alone know who)."""
        if staff_id is not None:
            return await self.counts_from_records(spans, areas=areas, staff_id=staff_id, agency_group=agency_group)
        found = [Counts() for _ in spans]
        if spans and (areas is None or areas):
            sql, params = _tally_sql(spans, [COUNCIL] if areas is None else areas, by_area=False)
            if sql:
                for i, _, dimension, category, sub, n in await self.db.fetchall(sql, params):
                    _fold_tally(found[i], dimension, category, sub, n, agency_group)
        return found

    async def counts_by_areas(
        self, spans: Sequence[Span], groups: Sequence[Sequence[str] | None], *, agency_group: str | None = None
    ) -> list[list[Counts]]:
        """For each group of areas (None: every area, the whole council), the counts of each span: what
        `counts_of_spans(spans, areas=group)` returns for each group, from one statement for all (a digest's zones
        and the council): the tallies of each area named, and the council's own."""
        found = [[Counts() for _ in spans] for _ in groups]
        named = sorted({area for group in groups for area in group or ()})
        read = named + ([COUNCIL] if any(group is None for group in groups) else [])
        if not spans or not read:
            return found
        sql, params = _tally_sql(spans, read, by_area=True)
        if not sql:
            return found
        into = {
            area: [g for g, group in enumerate(groups) if (area in group if group is not None else area == COUNCIL)]
            for area in read
        }
        for i, area, dimension, category, sub, n in await self.db.fetchall(sql, params):
            for g in into[area]:
                _fold_tally(found[g][i], dimension, category, sub, n, agency_group)
        return found

    async def totals_by_areas(
        self, spans: Sequence[Span], groups: Sequence[Sequence[str] | None]
    ) -> list[list[tuple[int, int, int]]]:
        """For each group of areas (None: every area), the (outings, consultations, consultations at outings)
        of each span: the headline figures alone, for long spans (a digest's year to date). One statement, from
        the tallies of the three dimensions these are the sums of."""
        totals = [[[0, 0, 0] for _ in spans] for _ in groups]
        named = sorted({area for group in groups for area in group or ()})
        read = named + ([COUNCIL] if any(group is None for group in groups) else [])
        sql, params = _tally_sql(spans, read, by_area=True, dimensions=_HEADLINE) if spans and read else ("", [])
        if sql:
            into = {
                area: [g for g, group in enumerate(groups) if (area in group if group is not None else area == COUNCIL)]
                for area in read
            }
            for i, area, dimension, _, _, n in await self.db.fetchall(sql, params):
                for g in into[area]:
                    totals[g][i][_HEADLINE.index(dimension)] += n
        return [[(o, c, a) for o, c, a in per_span] for per_span in totals]

    async def counts_from_records(
        self,
        spans: Sequence[Span],
        *,
        areas: Sequence[str] | None = None,
        staff_id: int | None = None,
        agency_group: str | None = None,
    ) -> list[Counts]:
        """`counts_of_spans` counted from the records themselves: one grouped scan of each table per span, folded
        into every dimension (one staff member's counts, and what the tallies must always equal)."""
        found = [Counts() for _ in spans]
        if spans and (areas is None or areas):
            json_rows = self.db.dialect.json_rows
            scan = _scan_sql(spans, areas, staff_id, by_area=False, json_rows=json_rows, agency_group=agency_group)
            row = await self.db.fetchone(*scan)
            assert row is not None
            for i, table, _, a, b, c, d, e, n in json.loads(row[0]):
                _fold(found[i], table, a, b, c, d, e, n)
        return found

    async def differences(self) -> tuple[int, int]:
        """How many rows of (daily, monthly) tallies differ from what the records make: (0, 0) when they agree.
        A read: the bot may go on writing meanwhile."""
        row = await self.db.fetchone(_DIFFERENCES)
        assert row is not None
        return int(row[0]), int(row[1])

    async def rebuild(self) -> tuple[int, int]:
        """Recompute every tally from the records, in one transaction; returns how many rows of (daily, monthly)
        tallies it changed (added, corrected or removed): (0, 0) on a healthy database, which it leaves as it is."""
        async with self.db.transaction() as tx:
            row = (await tx.execute(_DIFFERENCES)).one()
            assert row is not None
            changed = int(row[0]), int(row[1])
            if any(changed):
                await tx.execute("DELETE FROM daily_tallies")
                await tx.execute("DELETE FROM monthly_tallies")
                for statement in FILL:
                    await tx.execute(statement)
        return changed

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
            f"SELECT {self.db.dialect.json_rows('id')} FROM staff WHERE {which}("
            "EXISTS (SELECT 1 FROM outings o WHERE o.staff_id = staff.id AND o.date BETWEEN ? AND ?) "
            "OR EXISTS (SELECT 1 FROM consultations c WHERE c.staff_id = staff.id AND c.date BETWEEN ? AND ?))",
            [*(staff_ids or ()), *span, *span],
        )
        assert row is not None
        return {int(i) for (i,) in json.loads(row[0])}

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
            f"SELECT {self.db.dialect.json_rows('tbl, staff, area, n')} FROM scanned",
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
            f"WITH wanted (area) AS (VALUES {wanted}) SELECT "
            + self.db.dialect.json_rows(
                "area, (SELECT max(o.date) FROM outings o WHERE o.area = wanted.area AND o.date <= ?)"
            )
            + " FROM wanted",
            [*areas, until.isoformat()],
        )
        assert row is not None
        return {str(area): date.fromisoformat(last) for area, last in json.loads(row[0]) if last is not None}

    async def followup_numbers(self, today: date, areas: Sequence[str] | None = None) -> tuple[int, int]:
        """(open, overdue) follow-ups, optionally of some areas: numbers only, for digests and group chats."""
        where = ""
        params: list[Any] = [today.isoformat()]
        if areas is not None:
            where = f" AND area IN ({', '.join('?' * len(areas))})" if areas else " AND FALSE"
            params += list(areas)
        row = await self.db.fetchone(
            f"SELECT count(*), count(CASE WHEN due_date < ? THEN 1 END) FROM followups WHERE status = 'open'{where}",
            params,
        )
        assert row is not None
        return int(row[0]), int(row[1])
