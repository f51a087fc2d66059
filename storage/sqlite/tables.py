"""The grouped queries behind the supervisors' tables: 月別, 活動内容 × 支援先, 参加人数, 地域別, つなぎ先 by staff
member and follow-ups by 対応結果 (the counts of a report itself are in tallies.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from core.clock import utc_iso
from storage.sql import Database
from storage.sqlite.tallies import span_where as _where
from storage.types import OutingCell


class TableRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def outing_cells(
        self, start: date, end: date, *, areas: Sequence[str] | None = None, staff_id: int | None = None
    ) -> list[OutingCell]:
        """Outings dated start..end grouped by month, activity and destination, with their headcounts: one scan
        that the 月別, 活動内容 × 支援先 and 参加人数 tables are all folded from."""
        where, params = _where(start, end, areas, staff_id)
        rows = await self.db.fetchall(
            "SELECT substr(date, 1, 7), activity, destination, count(*), coalesce(sum(headcount), 0), "
            f"count(headcount) FROM outings WHERE {where} GROUP BY substr(date, 1, 7), activity, destination",
            params,
        )
        return [OutingCell(str(m), str(a), str(d), int(n), int(people), int(told)) for m, a, d, n, people, told in rows]

    async def consultations_by_month(
        self, start: date, end: date, *, areas: Sequence[str] | None = None, staff_id: int | None = None
    ) -> dict[tuple[str, str], int]:
        """Consultations dated start..end by (month as YYYY-MM, consulter group)."""
        where, params = _where(start, end, areas, staff_id)
        rows = await self.db.fetchall(
            f"SELECT substr(date, 1, 7), consulter, count(*) FROM consultations WHERE {where} "
            "GROUP BY substr(date, 1, 7), consulter",
            params,
        )
        return {(str(m), str(c)): int(n) for m, c, n in rows}

    async def counts_by_area(
        self, start: date, end: date, *, areas: Sequence[str] | None = None, staff_id: int | None = None
    ) -> dict[str, tuple[int, int]]:
        """(outings, consultations) dated start..end of each area that had any."""
        found: dict[str, tuple[int, int]] = {}
        for index, table in enumerate(("outings", "consultations")):
            where, params = _where(start, end, areas, staff_id)
            rows = await self.db.fetchall(f"SELECT area, count(*) FROM {table} WHERE {where} GROUP BY area", params)
            for area, n in rows:
                counts = list(found.get(str(area), (0, 0)))
                counts[index] = int(n)
                found[str(area)] = (counts[0], counts[1])
        return found

    async def referrals_by_staff(self, start: date, end: date, *, areas: Sequence[str] | None = None) -> dict[int, int]:
        """Consultation–agency pairs (つなぎ先) of consultations dated start..end, by the staff member who recorded
        them, optionally in some areas."""
        where, params = _where(start, end, areas, None, "c")
        rows = await self.db.fetchall(
            "SELECT c.staff_id, count(*) FROM consultations c JOIN consultation_agencies a "
            f"ON a.consultation_id = c.id WHERE {where} GROUP BY c.staff_id",
            params,
        )
        return {int(staff_id): int(n) for staff_id, n in rows}

    async def followup_outcomes(
        self,
        start: datetime,
        end: datetime,
        *,
        areas: Sequence[str] | None = None,
        owner_id: int | None = None,
    ) -> tuple[dict[str | None, int], dict[str, int]]:
        """Follow-ups opened in [start, end) by their outcome now (None: still open), and follow-ups closed in
        [start, end) by outcome. Instants, not days: follow-ups are stamped when they are made and closed."""
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        if areas is not None:
            clauses.append(f"area IN ({', '.join('?' * len(areas))})" if areas else "FALSE")
            params += list(areas)
        if owner_id is not None:
            clauses.append("owner_id = ?")
            params.append(owner_id)
        scope = " AND ".join(clauses)
        span = [utc_iso(start), utc_iso(end)]
        opened = await self.db.fetchall(
            "SELECT CASE WHEN status = 'open' THEN NULL ELSE coalesce(outcome, '?') END, count(*) FROM followups "
            f"WHERE {scope} AND created_at >= ? AND created_at < ? GROUP BY 1",
            [*params, *span],
        )
        closed = await self.db.fetchall(
            "SELECT coalesce(outcome, '?'), count(*) FROM followups "
            f"WHERE {scope} AND status = 'closed' AND closed_at >= ? AND closed_at < ? GROUP BY 1",
            [*params, *span],
        )
        return (
            {None if o is None else str(o): int(n) for o, n in opened},
            {str(o): int(n) for o, n in closed},
        )
