"""Which agencies the consultation was passed on to: a multi-select with an exclusive なし."""

from __future__ import annotations

from core.flow.navigation import answered_here
from core.flow.screen import NONE_CODE, OK, TOGGLE, Button, Screen, consultation_heading, grid, nav
from core.flow.state import DraftState, FlowContext, Ticking
from core.flow.step import Outcome, Step, refuse, register, valid
from core.i18n import t


@register
class Agencies(Step):
    name = "agencies"

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return not isinstance(state.consultations[i].agency_answer, Ticking)

    def on_action(self, state: DraftState, ctx: FlowContext, i: int, op: str, arg: str) -> Outcome:
        if op == TOGGLE:
            return self._toggle(state, ctx, i, arg)
        if op == OK:
            return self._confirm(state, ctx, i)
        return super().on_action(state, ctx, i, op, arg)

    def _toggle(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        c = state.consultations[i]
        if code == NONE_CODE:
            # なし is exclusive and final: it clears the selection and answers the question in one tap; agencies
            # chosen before are dropped, and the person is told which (never silently).
            dropped = [ctx.taxonomy.agency.label(a) for a in c.agencies]
            c.agency_answer = []
            outcome = answered_here(state, ctx)
            if dropped:
                outcome.notes.append(t("flow.note.agencies_dropped", agencies=t("flow.list_separator").join(dropped)))
            return outcome
        if not valid(ctx.taxonomy.agency, code):
            return refuse(state)
        chosen = c.agencies  # the ticks or the confirmed list: either changes in place
        if code in chosen:
            chosen.remove(code)
        else:
            chosen.append(code)
            chosen.sort(key=ctx.taxonomy.agency.order_of)
        return Outcome(state)

    def _confirm(self, state: DraftState, ctx: FlowContext, i: int) -> Outcome:
        c = state.consultations[i]
        if not c.agencies:
            return refuse(state, t("flow.hint.pick_agency_or_none"))
        c.agency_answer = list(c.agencies)
        return answered_here(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        chosen = state.consultations[i].agencies
        toggles = [
            Button(t("flow.toggle_on", label=a.label) if a.code in chosen else a.label, f"{TOGGLE}:{a.code}")
            for a in ctx.taxonomy.agency.active()
        ]
        rows = grid(toggles)
        rows.append([Button(t("flow.button.no_agency"), f"{TOGGLE}:{NONE_CODE}")])
        rows.append(nav(state, Button(t("flow.button.confirm_agencies", count=len(chosen)), OK)))
        return Screen(f"{consultation_heading(i)}\n{t('flow.ask.agencies')}", rows)
