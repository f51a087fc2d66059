"""The register of places (活動先): added, renamed, their status changed, imported all or nothing, and the places a
staff member went to lately."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from core.clock import parse_utc, utc_iso
from core.models import NewPlace, Place, PlaceStatus
from storage.sql import Database, Row, Transaction
from storage.types import PlaceActivity, PlaceInput

_COLUMNS = "id, name, kind, area, organiser, status, started_on, ended_on, confirmed"
_PLACE_COLUMNS = ", ".join("p." + c.strip() for c in _COLUMNS.split(","))  # the same, of `places p`


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _place(row: Row) -> Place:
    return Place(
        name=row[1],
        kind=row[2],
        area=row[3],
        organiser=row[4],
        status=PlaceStatus(row[5]),
        started_on=_day(row[6]),
        ended_on=_day(row[7]),
        id=int(row[0]),
        confirmed=bool(row[8]),
    )


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _described(place: NewPlace | Place) -> tuple[object, ...]:
    """The columns that describe a place (name … ended_on), in the order add and update write them."""
    return (
        place.name,
        place.kind,
        place.area,
        place.organiser,
        place.status.value,
        _iso(place.started_on),
        _iso(place.ended_on),
    )


class PlaceRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self, tx: Transaction, place: NewPlace, now: datetime, *, by: int | None = None, confirmed: bool = True
    ) -> Place:
        """A new place in the caller's transaction (a staff member's place during an outing: not yet confirmed)."""
        stamp = utc_iso(now)
        cursor = await tx.execute(
            "INSERT INTO places (name, kind, area, organiser, status, started_on, ended_on, confirmed, created_by, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (*_described(place), int(confirmed), by, stamp, stamp),
        )
        return Place(**{**_fields(place), "id": int(cursor.rows[0][0]), "confirmed": confirmed})

    async def get(self, place_id: int) -> Place | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM places WHERE id = ?", (place_id,))
        return None if row is None else _place(row)

    async def named(self, area: str, name: str) -> Place | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM places WHERE area = ? AND name = ?", (area, name))
        return None if row is None else _place(row)

    async def all(self, areas: Sequence[str] | None = None) -> list[Place]:
        """Every place (of some areas), by area and name: the register as exported."""
        where, params = "", []
        if areas is not None:
            where = f" WHERE area IN ({', '.join('?' * len(areas))})" if areas else " WHERE FALSE"
            params = list(areas)
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM places{where} ORDER BY area, name, id", params)
        return [_place(row) for row in rows]

    async def update(self, tx: Transaction, place: Place, now: datetime) -> bool:
        """Rename a place or change its kind, organiser, status or dates; past outings keep pointing at it."""
        cursor = await tx.execute(
            "UPDATE places SET name = ?, kind = ?, area = ?, organiser = ?, status = ?, started_on = ?, ended_on = ?, "
            "confirmed = ?, updated_at = ? WHERE id = ?",
            (*_described(place), int(place.confirmed), utc_iso(now), place.id),
        )
        return cursor.rowcount == 1

    async def import_all(self, places: Sequence[NewPlace], now: datetime, *, by: int | None = None) -> tuple[int, int]:
        """Add or update every place of a file in one transaction (all or nothing): a place is the same place when
        its area and name are. Places missing from the file stay as they are (history never loses a place).
        Returns (added, updated)."""
        added = updated = 0
        async with self.db.transaction() as tx:
            for place in places:
                row = await tx.execute(
                    "SELECT id, confirmed FROM places WHERE area = ? AND name = ?", (place.area, place.name)
                )
                found = row.rows[0] if row.rows else None
                if found is None:
                    await self.add(tx, place, now, by=by)
                    added += 1
                else:
                    await self.update(tx, Place(**{**_fields(place), "id": int(found[0]), "confirmed": True}), now)
                    updated += 1
        return added, updated

    async def offered(
        self, staff_id: int, areas: Sequence[str] | None, limit: int = 6
    ) -> tuple[list[Place], list[Place]]:
        """What an outing's place question offers, in one read: the places (not ended, of some areas) this staff
        member went to lately, most recent first (at most `limit`), and the others by name."""
        where, params = "", [staff_id]
        if areas is not None:
            where = f" AND p.area IN ({', '.join('?' * len(areas))})" if areas else " AND FALSE"
        rows = await self.db.fetchall(
            f"SELECT {_PLACE_COLUMNS}, o.last, o.latest FROM places p "
            "LEFT JOIN (SELECT place_id, max(date) AS last, max(id) AS latest FROM outings "
            "WHERE staff_id = ? AND place_id IS NOT NULL GROUP BY place_id) o ON o.place_id = p.id "
            f"WHERE p.status != 'ended'{where}",
            [*params, *(areas or ())],
        )
        visited = sorted((r for r in rows if r[9] is not None), key=lambda r: (r[9], r[10]), reverse=True)
        recent = [_place(r) for r in visited[:limit]]
        shown = {p.id for p in recent}
        others = sorted((_place(r) for r in rows if int(r[0]) not in shown), key=lambda p: (p.name, p.id))
        return recent, others

    async def activity(
        self, start: date, end: date, outreach: str | None, areas: Sequence[str] | None = None
    ) -> dict[int, PlaceActivity]:
        return await place_activity(self.db, start, end, outreach, areas)

    async def recent_for(self, staff_id: int, limit: int = 6, *, area: str | None = None) -> list[Place]:
        """The places a staff member went to lately, most recent first (optionally in one area), not ended."""
        where = ""
        params_area: list[Any] = [staff_id]
        if area is not None:
            where, params_area = " AND p.area = ?", [staff_id, area]
        rows = await self.db.fetchall(
            f"SELECT {_PLACE_COLUMNS} FROM places p "
            "JOIN (SELECT place_id, max(date) AS last, max(id) AS latest FROM outings "
            "WHERE staff_id = ? AND place_id IS NOT NULL GROUP BY place_id) o ON o.place_id = p.id "
            f"WHERE p.status != 'ended'{where} ORDER BY o.last DESC, o.latest DESC LIMIT ?",
            [*params_area, limit],
        )
        return [_place(row) for row in rows]


async def place_activity(
    db: Database, start: date, end: date, outreach: str | None, areas: Sequence[str] | None = None
) -> dict[int, PlaceActivity]:
    """What happened at each place: outings, consultations received there and 働きかけ (outings of the activity
    `outreach`) dated start..end, and the last outing on or before `end`; places of some areas only. One scan."""
    where, params = "", [start.isoformat(), end.isoformat(), start.isoformat(), end.isoformat()]
    if areas is not None:
        where = f" AND p.area IN ({', '.join('?' * len(areas))})" if areas else " AND FALSE"
    rows = await db.fetchall(
        "SELECT o.place_id, "
        "count(CASE WHEN o.date BETWEEN ? AND ? THEN 1 END), "
        "coalesce(sum(CASE WHEN o.date BETWEEN ? AND ? THEN "
        "(SELECT count(*) FROM consultations c WHERE c.outing_id = o.id) END), 0), "
        "count(CASE WHEN o.date BETWEEN ? AND ? AND o.activity = ? THEN 1 END), "
        "max(CASE WHEN o.date <= ? THEN o.date END) "
        f"FROM outings o JOIN places p ON p.id = o.place_id WHERE o.place_id IS NOT NULL{where} GROUP BY o.place_id",
        [*params, start.isoformat(), end.isoformat(), outreach or "", end.isoformat(), *(areas or ())],
    )
    return {int(r[0]): PlaceActivity(int(r[1] or 0), int(r[2] or 0), int(r[3] or 0), _day(r[4])) for r in rows}


class PlaceInputs:
    """The one typed answer a /places button waits for, per staff member (a later button replaces it)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def expect(self, tx: Transaction, staff_id: int, answer: PlaceInput) -> None:
        await tx.execute(
            "INSERT INTO place_inputs (staff_id, kind, place_id, name, place_kind, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (staff_id) DO UPDATE SET kind = excluded.kind, "
            "place_id = excluded.place_id, name = excluded.name, place_kind = excluded.place_kind, "
            "created_at = excluded.created_at",
            (staff_id, answer.kind, answer.place_id, answer.name, answer.place_kind, utc_iso(answer.created_at)),
        )

    async def get(self, staff_id: int, not_before: datetime) -> PlaceInput | None:
        row = await self.db.fetchone(
            "SELECT kind, place_id, name, place_kind, created_at FROM place_inputs WHERE staff_id = ? "
            "AND created_at >= ?",
            (staff_id, utc_iso(not_before)),
        )
        return None if row is None else PlaceInput(row[0], row[1], row[2], row[3], parse_utc(row[4]))

    async def clear(self, tx: Transaction, staff_id: int) -> None:
        await tx.execute("DELETE FROM place_inputs WHERE staff_id = ?", (staff_id,))


def _fields(place: NewPlace) -> dict[str, Any]:
    return {
        "name": place.name,
        "kind": place.kind,
        "area": place.area,
        "organiser": place.organiser,
        "status": place.status,
        "started_on": place.started_on,
        "ended_on": place.ended_on,
    }
