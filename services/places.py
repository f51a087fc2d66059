"""/places for supervisors and admins: the register of places of their scope, places added during an outing to
confirm first, and each place's status (準備中・活動中・休止・終了). Places are public, never personal data."""

from __future__ import annotations

import logging
from dataclasses import replace

from core.buttons import PlaceCard, PlaceConfirm, PlacePage, PlaceStatusSet
from core.i18n import t
from core.models import Place, PlaceStatus, Staff
from core.places import status_label
from services.access import scope_label, scope_of
from services.deps import Deps
from services.screens import Choice, Reply, View, expired, pager, rows
from storage.types import AlreadyProcessed, IdempotencyKey

log = logging.getLogger(__name__)
PAGE = 8


class PlaceService:
    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.store = deps.store
        self.taxonomy = deps.taxonomy

    async def _scoped(self, staff: Staff) -> list[Place]:
        """The places of the person's scope: to confirm first, then by area and name."""
        places = await self.store.places.all(scope_of(staff).areas(self.taxonomy))
        return sorted(places, key=lambda p: (p.confirmed, self.taxonomy.area_label(p.area), p.name))

    async def command(self, staff: Staff) -> Reply:
        return Reply(send=[await self._list(staff, 0)])

    async def page(self, staff: Staff, button: PlacePage) -> Reply:
        return Reply(edit=await self._list(staff, button.page))

    async def _list(self, staff: Staff, page: int, note: str = "") -> View:
        places = await self._scoped(staff)
        pages = max(1, (len(places) + PAGE - 1) // PAGE)
        page = min(max(page, 0), pages - 1)
        waiting = sum(1 for p in places if not p.confirmed)
        title = t("place.bot.title", scope=scope_label(staff, self.taxonomy), count=len(places), waiting=waiting)
        lines = [title, t("place.bot.import_hint")] if not places else [title]
        buttons = [[Choice(self._line(p), PlaceCard(p.id))] for p in places[page * PAGE : (page + 1) * PAGE]]
        text = "\n".join(lines)
        return View(f"{note}\n\n{text}" if note else text, rows(*buttons, pager(page, pages, PlacePage)))

    def _line(self, place: Place) -> str:
        mark = "" if place.confirmed else t("place.bot.unconfirmed_mark")
        return t("place.bot.line", mark=mark, name=place.name, status=status_label(place.status))

    async def _place(self, staff: Staff, place_id: int) -> Place | None:
        place = await self.store.places.get(place_id)
        areas = scope_of(staff).areas(self.taxonomy)
        return place if place is not None and (areas is None or place.area in areas) else None

    async def card(self, staff: Staff, button: PlaceCard) -> Reply:
        place = await self._place(staff, button.place)
        return expired() if place is None else Reply(edit=self._card(place))

    def _card(self, place: Place, note: str = "") -> View:
        tax = self.taxonomy
        lines = [
            t(
                "place.bot.card",
                name=place.name,
                kind=tax.destination.label(place.kind),
                area=tax.area_label(place.area),
            ),
            t("place.bot.status", status=status_label(place.status)),
        ]
        if place.organiser:
            lines.append(t("place.bot.organiser", organiser=place.organiser))
        if place.started_on or place.ended_on:
            start = place.started_on.isoformat() if place.started_on else t("report.table.none")
            end = place.ended_on.isoformat() if place.ended_on else t("report.table.none")
            lines.append(t("place.bot.dates", started=start, ended=end))
        if not place.confirmed:
            lines.append(t("place.bot.unconfirmed"))
        buttons: list[list[Choice]] = []
        if not place.confirmed:
            buttons.append([Choice(t("place.bot.confirm"), PlaceConfirm(place.id))])
        statuses = [s for s in PlaceStatus if s is not place.status]
        buttons.append(
            [
                Choice(t("place.bot.set_status", status=status_label(s)), PlaceStatusSet(place.id, s.value))
                for s in statuses
            ]
        )
        buttons.append([Choice(t("common.back"), PlacePage(0))])
        text = "\n".join(lines)
        return View(f"{note}\n\n{text}" if note else text, rows(*buttons))

    async def set_status(self, staff: Staff, button: PlaceStatusSet, key: IdempotencyKey) -> Reply:
        place = await self._place(staff, button.place)
        if place is None or button.status not in {s.value for s in PlaceStatus}:
            return expired()
        status = PlaceStatus(button.status)
        today = self.deps.today()
        ended = today if status in (PlaceStatus.PAUSED, PlaceStatus.ENDED) else None
        started = place.started_on or (today if status is PlaceStatus.ACTIVE else None)
        changed = replace(place, status=status, ended_on=ended, started_on=started, confirmed=True)
        return await self._write(staff, changed, key, t("place.bot.status_set", status=status_label(status)))

    async def confirm(self, staff: Staff, button: PlaceConfirm, key: IdempotencyKey) -> Reply:
        place = await self._place(staff, button.place)
        if place is None:
            return expired()
        return await self._write(staff, replace(place, confirmed=True), key, t("place.bot.confirmed"))

    async def _write(self, staff: Staff, place: Place, key: IdempotencyKey, note: str) -> Reply:
        try:
            async with self.store.unit(key, self.deps.now()) as tx:
                if not await self.store.places.update(tx, place, self.deps.now()):
                    return expired()
        except AlreadyProcessed:
            return Reply()
        log.info("staff %s changed place %s (%s)", staff.id, place.id, place.status.value)
        return Reply(edit=self._card(place, note), toast=note)
