"""A flagged follow-up: who (a nickname), why, by when; and its menu from the consultation's card."""

from __future__ import annotations

from datetime import date, timedelta

from core import dates
from core.flow.navigation import advance, answered_here, go_back, returned
from core.flow.screen import PICK, Button, FormField, Screen, consultation_heading, nav, skip_button
from core.flow.state import SKIPPED, DraftState, FlowContext, FollowUpAnswer, PendingAnswer, check_free_text
from core.flow.step import Outcome, Step, refuse, register
from core.flow.steps.date_area import RETYPE, ask_year, chosen_day, pending_here, withdrawn, year_question
from core.flow.steps.ending import Next
from core.i18n import t
from core.text import looks_like_full_name

LABEL_MAX = 30
REASON_MAX = 300
DUE_MAX_DAYS = 366
DUE_PRESETS = {"1w": 7, "2w": 14, "1m": 30}
EDIT_MENU = "fu_edit"
KEEP = "keep"  # keep a label that looks like a full name, after the warning


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
        pending = pending_here(state)
        if followup is None:
            return refuse(state)
        if code == "suggested":
            followup.label = label_suggestion(state, ctx, i)
        elif code == KEEP and pending is not None and pending.label:
            followup.label = pending.label  # the staff member decides: the warning is no ban
        elif code == RETYPE and pending is not None:
            state.pending = None
            return Outcome(state)
        else:
            return refuse(state)
        state.pending = None
        return _field_set(state, ctx)

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        label = " ".join(text.split())
        problem = check_free_text(label, LABEL_MAX, multiline=False)
        if problem:
            return refuse(state, problem)
        followup = state.consultations[i].flagged
        if followup is None:  # a screen left on the stack after the follow-up was removed
            return refuse(state)
        if looks_like_full_name(label):
            # Not saved silently: a warning with the pseudonymous suggestion, and the choice to keep it anyway.
            state.pending = PendingAnswer(step=state.step, label=label)
            return Outcome(state)
        followup.label = label
        state.pending = None
        return _field_set(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        suggestion = label_suggestion(state, ctx, i)
        use = [Button(t("flow.button.use_suggestion", label=suggestion), f"{PICK}:suggested")]
        pending = pending_here(state)
        if pending is not None and pending.label:
            # The name typed is not repeated: it is removed from the chat like any label.
            text = t("flow.followup.name_warning", suggestion=suggestion)
            keep = [Button(t("flow.button.keep_label"), f"{PICK}:{KEEP}")]
            rows = [use, keep, [Button(t("flow.button.back"), f"{PICK}:{RETYPE}")]]
        else:
            text = t("flow.ask.followup_label", limit=LABEL_MAX)
            rows = [use, nav(state)]
        # A nickname of a person: personal, though it must name no one.
        form = FormField(t("flow.form.label", limit=LABEL_MAX), LABEL_MAX, multiline=False)
        return Screen(f"{consultation_heading(i)}\n{text}", rows, accepts_text=True, personal_text=True, form=form)


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
        form = FormField(t("flow.form.reason", limit=REASON_MAX), REASON_MAX)
        return Screen(f"{consultation_heading(i)}\n{text}", rows, accepts_text=True, personal_text=True, form=form)


def due_problem(day: date, today: date) -> str | None:
    """Why a follow-up cannot be due on this day (past, or more than a year ahead), or None."""
    if day < today:
        return t("flow.hint.past_due")
    if (day - today).days > DUE_MAX_DAYS:
        return t("flow.hint.far_due")
    return None


def _typed_due(state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome | None:
    """Set a typed due date (None); or ask which year it means, or refuse it with the hint."""
    typed = dates.read_date(text, ctx.today, prefer="future")
    if typed is None:
        return refuse(state, t("flow.hint.bad_date"))
    problem = due_problem(typed.day, ctx.today)
    if problem:
        return refuse(state, problem)
    followup = state.consultations[i].flagged
    if followup is None:  # a screen left on the stack after the follow-up was removed
        return refuse(state)
    asked = ask_year(state, typed, ctx.today, due_problem, followup.due)
    followup.due = typed.day  # a guessed year stands until confirmed: the question stays on screen till then
    if asked:
        return Outcome(state)
    state.pending = None
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
        back = withdrawn(state, code)
        if back is not None:
            followup.due = back.previous
            return Outcome(state)
        answer = chosen_day(state, code)
        if answer is None and code == "date":
            if pending_here(state) is not None:  # not on screen while the year is asked: the guess stands
                return refuse(state)
            state.stack.append(f"{DueDate.name}.{i}")
            return Outcome(state)
        if answer is None:
            days = DUE_PRESETS.get(code)
            if days is None:
                return refuse(state)
            answer = ctx.today + timedelta(days=days)
        followup.due = answer
        state.pending = None
        return _field_set(state, ctx)

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        return _typed_due(state, ctx, i, text) or _field_set(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        asking = year_question(state, consultation_heading(i))
        if asking is not None:
            return asking
        presets = [Button(t(f"flow.due.{code}"), f"{PICK}:{code}") for code in DUE_PRESETS]
        presets.append(Button(t("flow.due.date"), f"{PICK}:date"))
        text = t("flow.ask.followup_due")
        return Screen(f"{consultation_heading(i)}\n{text}", [presets, nav(state)], accepts_text=True)


@register
class DueDate(Step):
    """The prompt for a typed due date, opened from the due-date question's date button."""

    name = "fu_date"

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        followup = state.consultations[i].flagged
        if followup is None:
            return refuse(state)
        back = withdrawn(state, code)
        if back is not None:
            followup.due = back.previous
            return Outcome(state)
        answer = chosen_day(state, code)
        if answer is None:
            return refuse(state)
        followup.due = answer
        state.pending = None
        return self._taken(state, ctx)

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        return _typed_due(state, ctx, i, text) or self._taken(state, ctx)

    @staticmethod
    def _taken(state: DraftState, ctx: FlowContext) -> Outcome:
        state.stack.pop()  # back to the due-date question, which this prompt stood in for
        return _field_set(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        asking = year_question(state)
        if asking is not None:
            return asking
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
            state.pending = None  # a question left unanswered on that screen earlier is not asked again
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
