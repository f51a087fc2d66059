"""/places for supervisors and admins: the register of places of their scope, places added during an outing to
confirm first, and each place's status (準備中・活動中・休止・終了). Places are public, never personal data."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from core.buttons import (
    PlaceAdd,
    PlaceAddArea,
    PlaceAddKind,
    PlaceCard,
    PlaceConfirm,
    PlacePage,
    PlaceRename,
    PlaceStatusSet,
)
from core.flow import check_free_text
from core.i18n import t
from core.models import NewPlace, Place, PlaceStatus, Staff
from core.places import NAME_MAX, status_label
from core.taxonomy import Area
from services.access import scope_label, scope_of
from services.deps import Deps
from services.screens import Choice, Reply, View, expired, grid, pager, rows
from storage.types import AlreadyProcessed, IdempotencyKey, PlaceInput

log = logging.getLogger(__name__)
PAGE = 8
INPUT_WAIT = timedelta(minutes=30)  # a typed name is expected this long after its button


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
        add = [Choice(t("place.bot.add"), PlaceAdd())]
        return View(f"{note}\n\n{text}" if note else text, rows(*buttons, pager(page, pages, PlacePage), add))

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
        buttons.append([Choice(t("place.bot.rename"), PlaceRename(place.id)), Choice(t("common.back"), PlacePage(0))])
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

    # --- typed names: a new place, a new name ------------------------------------------------------------------

    async def _expect(self, staff: Staff, answer: PlaceInput, key: IdempotencyKey) -> bool:
        try:
            async with self.store.unit(key, self.deps.now()) as tx:
                await self.store.place_inputs.expect(tx, staff.id, answer)
        except AlreadyProcessed:
            return False
        return True

    async def ask_rename(self, staff: Staff, button: PlaceRename, key: IdempotencyKey) -> Reply:
        place = await self._place(staff, button.place)
        if place is None:
            return expired()
        if not await self._expect(staff, PlaceInput("rename", place.id, None, None, self.deps.now()), key):
            return Reply()
        return Reply(
            edit=View(t("place.bot.ask_name", limit=NAME_MAX), rows([Choice(t("common.back"), PlaceCard(place.id))]))
        )

    async def ask_add(self, staff: Staff, key: IdempotencyKey) -> Reply:
        if not await self._expect(staff, PlaceInput("add", None, None, None, self.deps.now()), key):
            return Reply()
        return Reply(edit=View(t("place.bot.ask_new", limit=NAME_MAX), rows([Choice(t("common.back"), PlacePage(0))])))

    async def typed(self, staff: Staff, text: str, key: IdempotencyKey) -> Reply | None:
        """A name typed after 名前を変更 or ＋ 活動先を追加; None when no name was awaited."""
        waiting = await self.store.place_inputs.get(staff.id, self.deps.now() - INPUT_WAIT)
        if waiting is None or (waiting.kind == "add" and waiting.name is not None):
            return None
        draft = await self.store.drafts.for_staff(staff.id)
        if draft is not None and draft.updated_at >= waiting.created_at:
            return None  # a record begun or answered since the button: the text is the record's (a memo, a label)
        name = text.strip()
        problem = check_free_text(name, NAME_MAX, multiline=False)
        if problem:
            return Reply(send=[View(t("flow.hint_prefix", hint=problem))])
        if waiting.kind == "add":
            if not await self._expect(staff, PlaceInput("add", None, name, None, self.deps.now()), key):
                return Reply()
            kinds = [Choice(c.label, PlaceAddKind(c.code)) for c in self.taxonomy.destination.active()]
            return Reply(send=[View(t("place.bot.ask_kind", name=name), grid(kinds, 2))])
        return await self._rename(staff, waiting, name, key)

    async def _rename(self, staff: Staff, waiting: PlaceInput, name: str, key: IdempotencyKey) -> Reply:
        place = None if waiting.place_id is None else await self._place(staff, waiting.place_id)
        if place is None:
            return expired()
        if await self.store.places.named(place.area, name) not in (None, place):
            return Reply(send=[View(t("place.bot.name_taken", name=name))])
        renamed = replace(place, name=name)
        try:
            async with self.store.unit(key, self.deps.now()) as tx:
                await self.store.places.update(tx, renamed, self.deps.now())
                await self.store.place_inputs.clear(tx, staff.id)
        except AlreadyProcessed:
            return Reply()
        return Reply(send=[self._card(renamed, t("place.bot.renamed"))])

    async def add_kind(self, staff: Staff, button: PlaceAddKind, key: IdempotencyKey) -> Reply:
        waiting = await self.store.place_inputs.get(staff.id, self.deps.now() - INPUT_WAIT)
        kind = self.taxonomy.destination.get(button.kind)
        if waiting is None or waiting.kind != "add" or waiting.name is None or kind is None or kind.retired:
            return expired()
        if not await self._expect(staff, replace(waiting, place_kind=kind.code, created_at=self.deps.now()), key):
            return Reply()
        areas = [a for a in self._areas(staff) if not a.retired]
        choices = [Choice(a.label, PlaceAddArea(a.code)) for a in areas]
        return Reply(edit=View(t("place.bot.ask_area", name=waiting.name, kind=kind.label), grid(choices, 3)))

    def _areas(self, staff: Staff) -> list[Area]:
        zone = scope_of(staff).zone
        return list(self.taxonomy.areas_of(zone) if zone else self.taxonomy.areas())

    async def add_area(self, staff: Staff, button: PlaceAddArea, key: IdempotencyKey) -> Reply:
        waiting = await self.store.place_inputs.get(staff.id, self.deps.now() - INPUT_WAIT)
        area = next((a for a in self._areas(staff) if a.code == button.area and not a.retired), None)
        if waiting is None or waiting.name is None or waiting.place_kind is None or area is None:
            return expired()
        if await self.store.places.named(area.code, waiting.name) is not None:
            return Reply(edit=View(t("place.bot.name_taken", name=waiting.name)))
        now = self.deps.now()
        try:
            async with self.store.unit(key, now) as tx:
                made = await self.store.places.add(
                    tx, NewPlace(waiting.name, waiting.place_kind, area.code), now, by=staff.id
                )
                await self.store.place_inputs.clear(tx, staff.id)
        except AlreadyProcessed:
            return Reply()
        log.info("staff %s added place %s", staff.id, made.id)
        return Reply(edit=self._card(made, t("place.bot.added")))
