"""The side screens for the pre-filled date and area of a record, and the question which year a typed date
without one means (asked by the due date too)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from core import dates
from core.flow.navigation import returned
from core.flow.screen import PICK, ZONE, Button, Screen, grid, mark, nav
from core.flow.state import DraftState, FlowContext, PendingAnswer
from core.flow.step import Outcome, Step, refuse, register
from core.i18n import t

OUTING_MAX_AGE_DAYS = 400  # an outing older than this is surely a typo (the previous fiscal year fits)
DATE_PRESETS = {"today": 0, "yesterday": 1, "before": 2}  # days ago
RETYPE = "retype"  # back from a step's question to confirm a typed answer to its own question

DateProblem = Callable[[date, date], str | None]  # (day, today): why the day is not allowed, or None


def pending_here(state: DraftState) -> PendingAnswer | None:
    """The typed answer waiting for confirmation on the step on screen, if that step asked for one."""
    pending = state.pending
    return pending if pending is not None and pending.step == state.step else None


def ask_year(
    state: DraftState, typed: dates.TypedDate, today: date, problem: DateProblem, current: date | None
) -> bool:
    """When the year of a typed date was guessed into another year or far from today, ask which date is meant
    (True): the guess, and the same day of a neighbouring year if allowed. The caller lets the guess stand
    meanwhile; `current` is the answer it replaces, back on ◀ 戻る (kept from the first guess when the staff
    member types another date on the question)."""
    if not dates.year_guessed_far(typed, today):
        return False
    asked = pending_here(state)
    previous = asked.previous if asked is not None and asked.days else current
    days = dates.year_choices(typed.day, today, lambda day: problem(day, today) is None)
    state.pending = PendingAnswer(step=state.step, days=days, previous=previous)
    return True


def withdrawn(state: DraftState, code: str) -> PendingAnswer | None:
    """◀ 戻る on the question which year: the question withdrawn (its `previous` to restore), else None."""
    pending = pending_here(state)
    if code != RETYPE or pending is None or not pending.days:
        return None
    state.pending = None
    return pending


def chosen_day(state: DraftState, code: str) -> date | None:
    """The date pressed on the question which year; None when it was not asked here or the date not offered."""
    pending = pending_here(state)
    if pending is None:
        return None
    return next((day for day in pending.days if day.isoformat() == code), None)


def year_question(state: DraftState, heading: str = "") -> Screen | None:
    """The question which year a typed date means, when the step on screen asked it."""
    pending = pending_here(state)
    if pending is None or not pending.days:
        return None
    rows = [[Button(dates.long(day), f"{PICK}:{day.isoformat()}")] for day in pending.days]
    rows.append([Button(t("flow.button.back"), f"{PICK}:{RETYPE}")])
    text = t("flow.ask.confirm_year")
    return Screen(f"{heading}\n{text}" if heading else text, rows, accepts_text=True)


def outing_date_problem(day: date, today: date) -> str | None:
    """Why an outing cannot be on this day (in the future, or implausibly long ago), or None."""
    if day > today:
        return t("flow.hint.future_date")
    if (today - day).days > OUTING_MAX_AGE_DAYS:
        return t("flow.hint.old_date")
    return None


@register
class Date(Step):
    name = "date"

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        back = withdrawn(state, code)
        if back is not None:
            state.date = back.previous or state.date
            return Outcome(state)
        answer = chosen_day(state, code)
        if answer is None:
            days_ago = DATE_PRESETS.get(code)
            if days_ago is None:
                return refuse(state)
            answer = ctx.today - timedelta(days=days_ago)
        state.date = answer
        state.pending = None
        return returned(state)

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        typed = dates.read_date(text, ctx.today, prefer="past")
        if typed is None:
            return refuse(state, t("flow.hint.bad_date"))
        problem = outing_date_problem(typed.day, ctx.today)
        if problem:
            return refuse(state, problem)
        asked = ask_year(state, typed, ctx.today, outing_date_problem, state.date)
        state.date = typed.day
        if asked:
            return Outcome(state)
        state.pending = None
        return returned(state)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        asking = year_question(state)
        if asking is not None:
            return asking
        presets = []
        for key, days_ago in DATE_PRESETS.items():
            day = ctx.today - timedelta(days=days_ago)
            label = t(f"flow.date.{key}", date=dates.short_for(day, ctx.today))
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
