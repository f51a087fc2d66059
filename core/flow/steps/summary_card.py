"""The summary card at the end: every answer, buttons to change them, save or discard; typing adds a memo."""

from __future__ import annotations

from core.flow.screen import DISCARD, EDIT, SAVE, Button, FormField, Screen, grid, nav
from core.flow.state import CONSULTATIONS_MAX, DraftState, FlowContext, check_free_text
from core.flow.step import Outcome, Step, refuse, register
from core.flow.summary import render_summary_text
from core.i18n import t

MEMO_MAX = 500


def _edit_rows(state: DraftState) -> list[list[Button]]:
    rows = [[Button(t("flow.field.date"), f"{EDIT}:date"), Button(t("flow.field.area"), f"{EDIT}:area")]]
    if state.kind == "visit" and state.place is not None:  # where the council keeps a register of places
        rows.append([Button(t("flow.field.place"), f"{EDIT}:place")])
    if state.kind == "visit":
        rows.append(
            [
                Button(t("flow.field.activity"), f"{EDIT}:activity"),
                Button(t("flow.field.destination"), f"{EDIT}:destination"),
                Button(t("flow.field.headcount"), f"{EDIT}:headcount"),
            ]
        )
    count = len(state.consultations)
    consultations = [Button(t("flow.field.consultation", number=i + 1), f"{EDIT}:cons.{i}") for i in range(count)]
    if count < CONSULTATIONS_MAX:
        consultations.append(Button(t("flow.button.add_consultation"), f"{EDIT}:add_consultation"))
    return rows + grid(consultations, 3)


@register
class Summary(Step):
    name = "summary"

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        problem = check_free_text(text, MEMO_MAX)
        if problem:
            return refuse(state, problem)
        state.memo = text
        return Outcome(state)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        lines = [t("flow.summary.title"), render_summary_text(state, ctx)]
        if not state.memo:
            lines.append(t("flow.summary.memo_hint", limit=MEMO_MAX))
        rows = _edit_rows(state)
        if state.memo:
            rows.append([Button(t("flow.button.memo_clear"), f"{EDIT}:memo_clear")])
        rows.append([Button(t("flow.button.save"), SAVE)])
        rows.append(nav(state, Button(t("flow.button.discard"), DISCARD)))
        # Typing here adds a memo, which may well be about a person.
        form = FormField(t("flow.form.memo", limit=MEMO_MAX), MEMO_MAX)
        return Screen("\n".join(lines), rows, accepts_text=True, personal_text=True, form=form)
