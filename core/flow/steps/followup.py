"""A flagged follow-up: who (a nickname), why, by when; and its menu from the consultation's card."""

from __future__ import annotations

from datetime import timedelta

from core import dates
from core.flow.navigation import advance, answered_here, go_back, returned
from core.flow.screen import PICK, Button, Screen, consultation_heading, nav, skip_button
from core.flow.state import SKIPPED, DraftState, FlowContext, FollowUpAnswer, check_free_text
from core.flow.step import Outcome, Step, refuse, register
from core.flow.steps.ending import Next
from core.i18n import t

LABEL_MAX = 30
REASON_MAX = 300
DUE_MAX_DAYS = 366
DUE_PRESETS = {"1w": 7, "2w": 14, "1m": 30}
EDIT_MENU = "fu_edit"


def label_suggestion(state: DraftState, ctx: FlowContext, i: int) -> str:
    """A nickname that names no one: the area, the day and a letter per consultation."""
    letter = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[i % 26]
    return t(
        "flow.followup.suggested_label",
        area=ctx.taxonomy.area_label(state.area),
        month=state.date.month,
        day=state.date.day,
        letter=letter,
    )


def _field_set(state: DraftState, ctx: FlowContext) -> Outcome:
    """The follow-up field on screen took its answer: back to the follow-up menu it was opened from, or on."""
    if len(state.stack) >= 2 and state.stack[-2].startswith(EDIT_MENU):
        return returned(state)
    return answered_here(state, ctx)


class _FollowUpQuestion(Step):
    """A question about the follow-up, asked only when the consultation is flagged."""

    def asked(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.consultations[i].flagged is not None


@register
class Label(_FollowUpQuestion):
    name = "fu_label"

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        followup = state.consultations[i].flagged
        return followup is not None and followup.label is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        followup = state.consultations[i].flagged
        if code != "suggested" or followup is None:
            return refuse(state)
        followup.label = label_suggestion(state, ctx, i)
        return _field_set(state, ctx)

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        label = " ".join(text.split())
        problem = check_free_text(label, LABEL_MAX)
        if problem:
            return refuse(state, problem)
        followup = state.consultations[i].flagged
        if followup is None:  # a screen left on the stack after the follow-up was removed
            return refuse(state)
        followup.label = label
        return _field_set(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        suggestion = label_suggestion(state, ctx, i)
        rows = [[Button(t("flow.button.use_suggestion", label=suggestion), f"{PICK}:suggested")], nav(state)]
        text = t("flow.ask.followup_label", limit=LABEL_MAX)
        # A nickname of a person: personal, though it must name no one.
        return Screen(f"{consultation_heading(i)}\n{text}", rows, accepts_text=True, personal_text=True)


@register
class Reason(_FollowUpQuestion):
    name = "fu_reason"

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        followup = state.consultations[i].flagged
        return followup is not None and followup.reason is not None

    def on_skip(self, state: DraftState, ctx: FlowContext, i: int) -> Outcome:
        followup = state.consultations[i].flagged
        if followup is None:
            return refuse(state)
        followup.reason = SKIPPED
        return _field_set(state, ctx)

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        problem = check_free_text(text, REASON_MAX)
        if problem:
            return refuse(state, problem)
        followup = state.consultations[i].flagged
        if followup is None:  # a screen left on the stack after the follow-up was removed
            return refuse(state)
        followup.reason = text
        return _field_set(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        text = t("flow.ask.followup_reason", limit=REASON_MAX)
        rows = [nav(state, skip_button())]
        # A person's situation: the most personal text in a record.
        return Screen(f"{consultation_heading(i)}\n{text}", rows, accepts_text=True, personal_text=True)


def _set_typed_due(state: DraftState, ctx: FlowContext, i: int, text: str) -> str | None:
    """Set a typed due date; or the hint, when it is no date or out of range."""
    day = dates.parse_date(text, ctx.today, prefer="future")
    if day is None:
        return t("flow.hint.bad_date")
    if day < ctx.today:
        return t("flow.hint.past_due")
    if (day - ctx.today).days > DUE_MAX_DAYS:
        return t("flow.hint.far_due")
    followup = state.consultations[i].flagged
    if followup is None:  # a screen left on the stack after the follow-up was removed
        return t("flow.hint.use_buttons")
    followup.due = day
    return None


@register
class Due(_FollowUpQuestion):
    name = "fu_due"

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        followup = state.consultations[i].flagged
        return followup is not None and followup.due is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        followup = state.consultations[i].flagged
        if followup is None:
            return refuse(state)
        if code == "date":
            state.stack.append(f"{DueDate.name}.{i}")
            return Outcome(state)
        days = DUE_PRESETS.get(code)
        if days is None:
            return refuse(state)
        followup.due = ctx.today + timedelta(days=days)
        return _field_set(state, ctx)

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        problem = _set_typed_due(state, ctx, i, text)
        return refuse(state, problem) if problem else _field_set(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        presets = [Button(t(f"flow.due.{code}"), f"{PICK}:{code}") for code in DUE_PRESETS]
        presets.append(Button(t("flow.due.date"), f"{PICK}:date"))
        text = t("flow.ask.followup_due")
        return Screen(f"{consultation_heading(i)}\n{text}", [presets, nav(state)], accepts_text=True)


@register
class DueDate(Step):
    """The prompt for a typed due date, opened from the due-date question's date button."""

    name = "fu_date"

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        problem = _set_typed_due(state, ctx, i, text)
        if problem:
            return refuse(state, problem)
        state.stack.pop()  # back to the due-date question, which this prompt stood in for
        return _field_set(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        return Screen(t("flow.ask.followup_date"), [nav(state)], accepts_text=True)


@register
class EditMenu(Step):
    """The follow-up from a consultation's card: add one, or change or remove its fields."""

    name = EDIT_MENU

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        c = state.consultations[i]
        if code == "remove":
            c.followup = SKIPPED
            if c.more is None:
                c.more = i + 1 < len(state.consultations)
            return returned(state)
        if code == "add":
            c.followup = FollowUpAnswer()
            go_back(state)
            advance(state, ctx, f"{Next.name}.{i}")  # on to the follow-up's questions
            return Outcome(state)
        if code in ("label", "reason", "due") and c.flagged is not None:
            state.stack.append(f"fu_{code}.{i}")
            return Outcome(state)
        return refuse(state)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        if state.consultations[i].flagged is None:
            rows = [[Button(t("flow.button.followup_add"), f"{PICK}:add")]]
        else:
            rows = [
                [Button(t("flow.button.followup_label"), f"{PICK}:label")],
                [Button(t("flow.button.followup_reason"), f"{PICK}:reason")],
                [Button(t("flow.button.followup_due"), f"{PICK}:due")],
                [Button(t("flow.button.followup_remove"), f"{PICK}:remove")],
            ]
        rows.append(nav(state))
        return Screen(f"{consultation_heading(i)}\n{t('flow.ask.followup_edit')}", rows)
