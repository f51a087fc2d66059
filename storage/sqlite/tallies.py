"""The GROUP BY queries behind every report: counts per category for a span of days, a zone or a person."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from core.counts import Counts
from storage.sqlite.db import Database


def _where(
    start: date, end: date, areas: Sequence[str] | None, staff_id: int | None, alias: str = ""
) -> tuple[str, list[Any]]:
    prefix = f"{alias}." if alias else ""
    clauses = [f"{prefix}date BETWEEN ? AND ?"]
    params: list[Any] = [start.isoformat(), end.isoformat()]
    if areas is not None:
        clauses.append(f"{prefix}area IN ({', '.join('?' * len(areas))})" if areas else "0")
        params += list(areas)
    if staff_id is not None:
        clauses.append(f"{prefix}staff_id = ?")
        params.append(staff_id)
    return " AND ".join(clauses), params


class TallyRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def counts(
        self, start: date, end: date, *, areas: Sequence[str] | None = None, staff_id: int | None = None
    ) -> Counts:
        """Counts of records dated start..end (inclusive), optionally of some areas or one staff member.

        Three grouped scans (outings, consultations, agency links), each over an index, folded into every
        dimension here rather than one query per dimension.
        """
        counts = Counts()
        where, params = _where(start, end, areas, staff_id)
        rows = await self.db.fetchall(
            f"SELECT activity, destination, count(*) FROM outings WHERE {where} GROUP BY activity, destination",
            params,
        )
        for activity, destination, n in rows:
            counts.activity[activity] = counts.activity.get(activity, 0) + n
            counts.destination[destination] = counts.destination.get(destination, 0) + n
            counts.outings += n
        rows = await self.db.fetchall(
            "SELECT channel, consulter, consulter_category, topic, at_outing, count(*) FROM consultations "
            f"WHERE {where} GROUP BY channel, consulter, consulter_category, topic, at_outing",
            params,
        )
        for channel, consulter, category, topic, at_outing, n in rows:
            counts.channel[channel] = counts.channel.get(channel, 0) + n
            counts.consulter[consulter] = counts.consulter.get(consulter, 0) + n
            if category is not None:
                key = (consulter, category)
                counts.consulter_category[key] = counts.consulter_category.get(key, 0) + n
            if topic is not None:
                counts.topic[topic] = counts.topic.get(topic, 0) + n
            counts.consultations += n
            if at_outing:
                counts.at_outing += n
        where, params = _where(start, end, areas, staff_id, alias="c")
        rows = await self.db.fetchall(
            "SELECT a.agency, count(*) FROM consultations c JOIN consultation_agencies a ON a.consultation_id = c.id "
            f"WHERE {where} GROUP BY a.agency",
            params,
        )
        counts.agency = {agency: n for agency, n in rows}
        return counts

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

    async def staff_with_records(self, start: date, end: date, staff_ids: Sequence[int]) -> set[int]:
        """Which of these staff members recorded anything dated start..end."""
        if not staff_ids:
            return set()
        marks = ", ".join("?" * len(staff_ids))
        params = [start.isoformat(), end.isoformat(), *staff_ids]
        rows = await self.db.fetchall(
            f"SELECT DISTINCT staff_id FROM outings WHERE date BETWEEN ? AND ? AND staff_id IN ({marks}) "
            f"UNION SELECT DISTINCT staff_id FROM consultations WHERE date BETWEEN ? AND ? AND staff_id IN ({marks})",
            params + params,
        )
        return {int(r[0]) for r in rows}

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
