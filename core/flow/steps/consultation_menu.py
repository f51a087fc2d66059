"""A consultation's card from the summary: change one of its answers, or delete it."""

from __future__ import annotations

from core.flow.screen import PICK, Button, Screen, consultation_heading, grid, nav
from core.flow.state import DraftState, FlowContext
from core.flow.step import Outcome, Step, parse_id, refuse, register
from core.flow.steps.consultation import from_agency, has_categories
from core.flow.summary import consultation_summary
from core.i18n import t

FIELDS = ("channel", "consulter", "category", "from_agency", "topic", "agencies", "fu_edit")  # the steps it opens


def _delete(state: DraftState, i: int) -> Outcome:
    if state.kind == "consult" and len(state.consultations) == 1:
        return refuse(state, t("flow.hint.last_consultation"))
    del state.consultations[i]
    if state.consultations:
        state.consultations[-1].more = False
    else:
        state.has_consultations = False
    # Off the stack go this menu and every screen of this consultation or a later one: their indices now
    # name another consultation, or none (back would otherwise reach a question of a deleted one).
    state.stack = [s for s in state.stack if parse_id(s)[1] < i]
    return Outcome(state)


@register
class ConsultationMenu(Step):
    name = "cons_menu"

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        if code == "delete":
            return _delete(state, i)
        if code not in FIELDS or (code == "channel" and state.kind != "consult"):
            return refuse(state)
        consulter = state.consultations[i].consulter
        if code == "category" and not has_categories(ctx.taxonomy, consulter):
            return refuse(state)
        if code in ("from_agency", "topic") and not from_agency(ctx.taxonomy, consulter):
            return refuse(state)
        state.stack.append(f"{code}.{i}")
        return Outcome(state)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        c = state.consultations[i]
        fields = []
        if state.kind == "consult":
            fields.append(Button(t("flow.field.channel"), f"{PICK}:channel"))
        fields.append(Button(t("flow.field.consulter"), f"{PICK}:consulter"))
        if has_categories(ctx.taxonomy, c.consulter):
            fields.append(Button(t("flow.field.category"), f"{PICK}:category"))
        if from_agency(ctx.taxonomy, c.consulter):
            fields.append(Button(t("flow.field.from_agency"), f"{PICK}:from_agency"))
            fields.append(Button(t("flow.field.topic"), f"{PICK}:topic"))
        fields += [
            Button(t("flow.field.agencies"), f"{PICK}:agencies"),
            Button(t("flow.field.followup"), f"{PICK}:fu_edit"),
        ]
        rows = grid(fields, 2)
        rows.append([Button(t("flow.button.delete_consultation"), f"{PICK}:delete")])
        rows.append(nav(state))
        text = f"{consultation_heading(i)}\n{consultation_summary(state, ctx, i)}\n\n{t('flow.ask.cons_menu')}"
        return Screen(text, rows)
