"""The outing's questions with one pick each: what was done, where, and whether anyone consulted."""

from __future__ import annotations

from core.flow.navigation import answered_here
from core.flow.screen import PICK, Button, Screen, choices, date_area_row, mark, nav
from core.flow.state import ConsultationAnswer, DraftState, FlowContext
from core.flow.step import Outcome, Step, refuse, register, valid
from core.i18n import t


class _OutingQuestion(Step):
    def asked(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.kind == "visit"


@register
class Activity(_OutingQuestion):
    name = "activity"

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.activity is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        if not valid(ctx.taxonomy.activity, code):
            return refuse(state)
        state.activity = code
        return answered_here(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        rows = choices(ctx.taxonomy.activity.active(), state.activity)
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
