"""The side screens for the pre-filled date and area of a record."""

from __future__ import annotations

from datetime import timedelta

from core import dates
from core.flow.navigation import returned
from core.flow.screen import PICK, ZONE, Button, Screen, grid, mark, nav
from core.flow.state import DraftState, FlowContext
from core.flow.step import Outcome, Step, refuse, register
from core.i18n import t

OUTING_MAX_AGE_DAYS = 400  # an outing older than this is surely a typo (the previous fiscal year fits)
DATE_PRESETS = {"today": 0, "yesterday": 1, "before": 2}  # days ago


@register
class Date(Step):
    name = "date"

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        days_ago = DATE_PRESETS.get(code)
        if days_ago is None:
            return refuse(state)
        state.date = ctx.today - timedelta(days=days_ago)
        return returned(state)

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        day = dates.parse_date(text, ctx.today, prefer="past")
        if day is None:
            return refuse(state, t("flow.hint.bad_date"))
        if day > ctx.today:
            return refuse(state, t("flow.hint.future_date"))
        if (ctx.today - day).days > OUTING_MAX_AGE_DAYS:
            return refuse(state, t("flow.hint.old_date"))
        state.date = day
        return returned(state)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        presets = []
        for key, days_ago in DATE_PRESETS.items():
            day = ctx.today - timedelta(days=days_ago)
            label = t(f"flow.date.{key}", date=dates.short(day))
            presets.append(Button(mark(label, state.date == day), f"{PICK}:{key}"))
        return Screen(t("flow.ask.date"), [*grid(presets, 1), nav(state)], accepts_text=True)


@register
class Area(Step):
    """The areas of one zone (the staff member's own first), and buttons to browse the other zones."""

    name = "area"

    def on_action(self, state: DraftState, ctx: FlowContext, i: int, op: str, arg: str) -> Outcome:
        if op == ZONE and ctx.taxonomy.zone(arg):
            state.browse_zone = arg
            return Outcome(state)
        return super().on_action(state, ctx, i, op, arg)

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        area = ctx.taxonomy.area(code)
        if area is None or area.retired:
            return refuse(state)
        state.area = code
        state.browse_zone = None
        return returned(state)

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        area = ctx.taxonomy.resolve_area(text)
        if area is None or area.retired:
            return refuse(state)
        state.area = area.code
        state.browse_zone = None
        return returned(state)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        tax = ctx.taxonomy
        zone_code = state.browse_zone or ctx.home_zone or tax.zones[0].code
        zone = tax.zone(zone_code) or tax.zones[0]
        areas = [a for a in zone.areas if not a.retired]
        rows = grid([Button(mark(a.label, a.code == state.area), f"{PICK}:{a.code}") for a in areas])
        others = [
            Button(t("flow.button.zone", zone=z.label), f"{ZONE}:{z.code}")
            for z in tax.zones
            if z.code != zone.code and not z.retired
        ]
        rows += grid(others, 2)
        rows.append(nav(state))
        return Screen(t("flow.ask.area", zone=zone.label), rows)
