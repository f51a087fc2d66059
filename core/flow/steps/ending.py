"""How a consultation ends: a follow-up or none, and whether another consultation follows."""

from __future__ import annotations

from core.flow.navigation import answered_here
from core.flow.screen import PICK, Button, Screen, consultation_heading, nav
from core.flow.state import CONSULTATIONS_MAX, SKIPPED, ConsultationAnswer, DraftState, FlowContext, FollowUpAnswer
from core.flow.step import Outcome, Step, refuse, register
from core.i18n import t


def full(state: DraftState, i: int) -> bool:
    """No consultation may follow the i-th: the record already holds the most it can."""
    return i + 1 >= len(state.consultations) and len(state.consultations) >= CONSULTATIONS_MAX


def too_many(state: DraftState) -> Outcome:
    return refuse(state, t("flow.hint.too_many_consultations", max=CONSULTATIONS_MAX))


def set_more(state: DraftState, i: int, more: bool) -> None:
    """Answer "another consultation?": open the next one, or drop any after the i-th."""
    c = state.consultations[i]
    c.more = more
    if more and i + 1 >= len(state.consultations):
        follower = ConsultationAnswer()
        if state.kind == "consult":
            # A second consultation in the same call came the same way: pre-filled, changeable on the card.
            follower.channel = c.channel
        state.consultations.append(follower)
    if not more:
        del state.consultations[i + 1 :]


def _more_row(state: DraftState, i: int, label: str) -> list[Button]:
    """The button to another consultation: an empty row when the record is full."""
    return [Button(label, f"{PICK}:more")] if not full(state, i) else []


@register
class Next(Step):
    """After the agencies: flag a follow-up, or go on to another consultation or the summary."""

    name = "next"

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.consultations[i].followup is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        c = state.consultations[i]
        if code == "flag":
            c.followup = c.flagged or FollowUpAnswer()
            return answered_here(state, ctx)
        if code not in ("more", "done"):
            return refuse(state)
        if code == "more" and full(state, i):
            return too_many(state)
        c.followup = SKIPPED
        set_more(state, i, code == "more")
        return answered_here(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        rows = [
            [Button(t("flow.button.flag_followup"), f"{PICK}:flag")],
            _more_row(state, i, t("flow.button.no_followup_more")),
            [Button(t("flow.button.no_followup_done"), f"{PICK}:done")],
            nav(state),
        ]
        return Screen(f"{consultation_heading(i)}\n{t('flow.ask.followup')}", rows)


@register
class AfterFollowUp(Step):
    """After a follow-up is entered: another consultation, or the summary."""

    name = "after_fu"

    def asked(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.consultations[i].flagged is not None

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.consultations[i].more is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        if code not in ("more", "done"):
            return refuse(state)
        if code == "more" and full(state, i):
            return too_many(state)
        set_more(state, i, code == "more")
        return answered_here(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        rows = [
            _more_row(state, i, t("flow.button.more")),
            [Button(t("flow.button.done"), f"{PICK}:done")],
            nav(state),
        ]
        return Screen(f"{consultation_heading(i)}\n{t('flow.ask.after_followup')}", rows)
