"""Where the outing went: one of the staff member's recent places, another registered place (found by typing a few
characters or browsing), or 活動先なし, which asks only the kind of place (支援先)."""

from __future__ import annotations

import unicodedata

from core.flow.navigation import answered_here, returned
from core.flow.screen import PICK, SKIP, Button, Screen, nav
from core.flow.state import SKIPPED, DraftState, FlowContext, PlaceChoice, check_free_text
from core.flow.step import Outcome, Step, refuse, register
from core.i18n import t

FOUND_MAX = 10  # places listed at once when browsing or searching
QUERY_MAX = 64
NAME_MAX = 64  # as the register keeps them


def _normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().replace(" ", "")


def label(ctx: FlowContext, place: PlaceChoice) -> str:
    return t("flow.place.choice", name=place.name, kind=ctx.taxonomy.destination.label(place.kind))


def choose(state: DraftState, place: PlaceChoice) -> None:
    """The outing went to `place`: its kind is the outing's 支援先 and its area the outing's area."""
    state.place, state.place_name = place.id, place.name
    state.destination, state.area = place.kind, place.area
    state.place_query = state.new_place = None


def _pick(ctx: FlowContext, code: str) -> PlaceChoice | None:
    return ctx.place(int(code)) if code.isascii() and code.isdigit() and len(code) <= 12 else None


@register
class Place(Step):
    name = "place"

    def asked(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        # Only where the council keeps a register (an answer given stays, whatever the context knows).
        return state.kind == "visit" and (bool(ctx.recent_places or ctx.other_places) or state.place is not None)

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.place is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        if code == "more":
            state.place_query = None
            state.stack.append("place_search")
            return Outcome(state)
        place = _pick(ctx, code)
        if place is None:
            return refuse(state)
        if state.place != place.id:
            state.destination = None  # set again from the place
        choose(state, place)
        return answered_here(state, ctx)

    def on_skip(self, state: DraftState, ctx: FlowContext, i: int) -> Outcome:
        if isinstance(state.place, int):
            state.destination = None  # the kind came from the place: asked now
        state.place, state.place_name, state.new_place = SKIPPED, None, None
        return answered_here(state, ctx)

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        state.stack.append("place_search")
        return _search(state, ctx, text)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        current = state.place if isinstance(state.place, int) else None
        rows = [[Button(_marked(label(ctx, p), p.id == current), f"{PICK}:{p.id}")] for p in ctx.recent_places]
        rows.append([Button(t("flow.place.more"), f"{PICK}:more")])
        rows.append([Button(t("flow.place.none"), SKIP)])
        rows.append(nav(state))
        return Screen(t("flow.ask.place"), [r for r in rows if r])


def _marked(text: str, chosen: bool) -> str:
    return t("flow.toggle_on", label=text) if chosen else text


def _search(state: DraftState, ctx: FlowContext, text: str) -> Outcome:
    query = text.strip()[:QUERY_MAX]
    if not query:
        return refuse(state, t("flow.hint.empty_text"))
    state.place_query = query
    return Outcome(state)


def found(state: DraftState, ctx: FlowContext) -> list[PlaceChoice]:
    """The places matching what was typed (in the name, ignoring width and case), else those of the draft's area."""
    everyone = [*ctx.recent_places, *ctx.other_places]
    if state.place_query:
        wanted = _normal(state.place_query)
        return [p for p in everyone if wanted in _normal(p.name)]
    return [p for p in everyone if p.area == state.area]


@register
class PlaceSearch(Step):
    """Another registered place: the draft's area's places, or those whose name holds what was typed."""

    name = "place_search"

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        if code == "new":
            return _new_place(state, ctx)
        place = _pick(ctx, code)
        if place is None:
            return refuse(state)
        choose(state, place)
        returned(state)  # off this side screen; the place question is answered now
        return answered_here(state, ctx)

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        return _search(state, ctx, text)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        places = found(state, ctx)
        rows = [[Button(label(ctx, p), f"{PICK}:{p.id}")] for p in places[:FOUND_MAX]]
        if state.place_query:
            text = t("flow.place.found", query=state.place_query, count=len(places))
        else:
            text = t("flow.place.browse", area=ctx.taxonomy.area_label(state.area), count=len(places))
        if len(places) > FOUND_MAX:
            text += "\n" + t("flow.place.more_found", count=len(places) - FOUND_MAX)
        if state.place_query and not any(_normal(p.name) == _normal(state.place_query) for p in places):
            rows.append([Button(t("flow.place.add", name=state.place_query), f"{PICK}:new")])
        return Screen(f"{text}\n{t('flow.place.type_to_search')}", [*rows, nav(state)])


def _new_place(state: DraftState, ctx: FlowContext) -> Outcome:
    """The typed name as a new place: its kind is asked next; it is added when the outing is saved, marked for a
    supervisor to confirm."""
    name = state.place_query
    if not name:
        return refuse(state)
    problem = check_free_text(name, NAME_MAX, multiline=False)
    if problem:
        return refuse(state, problem)
    if isinstance(state.place, int):
        state.destination = None  # the kind came from the registered place: asked now
    state.place, state.place_name, state.new_place, state.place_query = SKIPPED, name, name, None
    returned(state)
    return answered_here(state, ctx)
