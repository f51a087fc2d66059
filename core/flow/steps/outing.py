"""The outing's questions with one pick each: what was done, where, and whether anyone consulted."""

from __future__ import annotations

from core.flow.navigation import answered_here
from core.flow.screen import PICK, Button, Screen, choices, date_area_row, mark, nav
from core.flow.state import SKIPPED, ConsultationAnswer, DraftState, FlowContext, Repeat
from core.flow.step import Outcome, Step, refuse, register, valid
from core.i18n import t


def repeat_label(ctx: FlowContext, n: int) -> str:
    """前回と同じ：高齢者サロン・境南ふれあいサロン (the activity is added when two offers would read alike)."""

    def what(repeat: Repeat, with_activity: bool) -> str:
        kind = ctx.taxonomy.destination.label(repeat.destination)
        text = t("flow.repeat.place", kind=kind, place=repeat.place.name) if repeat.place else kind
        if with_activity:
            text = t("flow.repeat.with_activity", what=text, activity=ctx.taxonomy.activity.label(repeat.activity))
        return text

    plain = [what(r, False) for r in ctx.repeats]
    text = what(ctx.repeats[n], plain.count(plain[n]) > 1)
    return t("flow.repeat.last" if n == 0 else "flow.repeat.earlier", what=text)


def _repeat(state: DraftState, ctx: FlowContext, code: str) -> Outcome:
    """Fill the outing from one of the last ones: activity, place (or kind), area and headcount."""
    n = int(code[1:]) if code[1:].isdigit() and len(code) <= 3 else -1
    if not 0 <= n < len(ctx.repeats):
        return refuse(state)
    repeat = ctx.repeats[n]
    state.activity, state.destination, state.area = repeat.activity, repeat.destination, repeat.area
    state.place = repeat.place.id if repeat.place else SKIPPED
    state.place_name = repeat.place.name if repeat.place else None
    state.headcount = SKIPPED if repeat.headcount is None else repeat.headcount
    return answered_here(state, ctx)


class _OutingQuestion(Step):
    def asked(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.kind == "visit"


@register
class Activity(_OutingQuestion):
    name = "activity"

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.activity is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        if code.startswith("r") and state.activity is None:
            return _repeat(state, ctx, code)
        if not valid(ctx.taxonomy.activity, code):
            return refuse(state)
        state.activity = code
        return answered_here(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        repeats = [] if state.activity is not None else ctx.repeats  # offered on a new outing only
        rows = [[Button(repeat_label(ctx, n), f"{PICK}:r{n}")] for n in range(len(repeats))]
        rows += choices(ctx.taxonomy.activity.active(), state.activity)
        if len(state.stack) == 1:
            rows.append(date_area_row())
        rows.append(nav(state))
        return Screen(t("flow.ask.activity"), [r for r in rows if r])


@register
class Destination(_OutingQuestion):
    name = "destination"

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.destination is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        if not valid(ctx.taxonomy.destination, code):
            return refuse(state)
        if isinstance(state.place, int) and code != state.destination:
            state.place, state.place_name = SKIPPED, None  # another kind than the place's: no place any more
        state.destination = code
        return answered_here(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        rows = choices(ctx.taxonomy.destination.active(), state.destination)
        return Screen(t("flow.ask.destination"), [*rows, nav(state)])


@register
class HasConsultations(_OutingQuestion):
    name = "has_consult"

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.has_consultations is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        if code not in ("yes", "no"):
            return refuse(state)
        state.has_consultations = code == "yes"
        if not state.has_consultations:
            state.consultations = []
        elif not state.consultations:
            state.consultations = [ConsultationAnswer()]
        return answered_here(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        yes = mark(t("flow.button.consult_yes"), state.has_consultations is True)
        no = mark(t("flow.button.consult_no"), state.has_consultations is False)
        return Screen(
            t("flow.ask.has_consult"),
            [[Button(yes, f"{PICK}:yes"), Button(no, f"{PICK}:no")], nav(state)],
        )
