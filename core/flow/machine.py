"""The machine: start a draft, apply one input to it, render its screen; each step does its own part."""

from __future__ import annotations

import dataclasses

import core.flow.steps  # noqa: F401 - registers every step
from core import dates
from core.flow.navigation import OUTING_QUESTIONS, SUMMARY, advance, sequence
from core.flow.screen import BACK, EDIT, NOOP, Screen
from core.flow.state import CONSULTATIONS_MAX, ConsultationAnswer, DraftState, FlowContext, FlowKind
from core.flow.step import Outcome, lookup, parse_id, refuse
from core.i18n import t

# The outing's answers the summary card changes directly (not whether anyone consulted: that would drop
# or add consultations; the card has its own buttons for them).
SUMMARY_EDITS = tuple(name for name in OUTING_QUESTIONS if name != "has_consult")


def start(kind: FlowKind, ctx: FlowContext, home_area: str) -> DraftState:
    """A new draft: date and area pre-filled (today, the staff member's own area) so they cost no tap."""
    state = DraftState(kind=kind, date=ctx.today, area=home_area)
    if kind == "consult":
        state.has_consultations = True
        state.consultations = [ConsultationAnswer()]
    state.stack = [sequence(state, ctx)[0]]
    return state


def apply(state: DraftState, ctx: FlowContext, action: str | None = None, text: str | None = None) -> Outcome:
    """Apply one button action or one typed text to a copy of the state."""
    new = state.model_copy(deep=True)
    step, i = lookup(new.step)
    if text is not None:
        return step.on_text(new, ctx, i, text.strip())
    assert action is not None
    op, _, arg = action.partition(":")
    if op == NOOP:
        return Outcome(state, changed=False)
    if op == BACK:
        return _back(state, new)
    if op == EDIT:
        return _jump(new, ctx, arg)
    return step.on_action(new, ctx, i, op, arg)


def _back(state: DraftState, new: DraftState) -> Outcome:
    if len(new.stack) <= 1:
        return Outcome(state, changed=False)
    new.stack.pop()
    new.browse_zone = None
    return Outcome(new)


def _jump(state: DraftState, ctx: FlowContext, target: str) -> Outcome:
    """An edit button: the date or area from any screen; any other answer from the summary card."""
    if target in ("date", "area"):
        if state.step in ("date", "area"):
            state.stack.pop()  # one side screen instead of the other, not on top of it
        state.stack.append(target)
        return Outcome(state)
    if state.step != SUMMARY and not state.step.startswith("cons_menu"):
        return refuse(state)
    if target == "memo_clear":
        state.memo = None
        return Outcome(state)
    if target == "add_consultation":
        return _add_consultation(state, ctx)
    name, i = parse_id(target)
    if name == "cons" and 0 <= i < len(state.consultations):
        state.stack.append(f"cons_menu.{i}")
        return Outcome(state)
    if target in SUMMARY_EDITS and state.kind == "visit":
        state.stack.append(target)
        return Outcome(state)
    return refuse(state)


def _add_consultation(state: DraftState, ctx: FlowContext) -> Outcome:
    if len(state.consultations) >= CONSULTATIONS_MAX:
        return refuse(state, t("flow.hint.too_many_consultations", max=CONSULTATIONS_MAX))
    state.has_consultations = True
    if state.consultations:
        state.consultations[-1].more = True
    state.consultations.append(ConsultationAnswer())
    advance(state, ctx, SUMMARY)
    return Outcome(state)


def _header(state: DraftState, ctx: FlowContext) -> str:
    title = t("flow.title.visit") if state.kind == "visit" else t("flow.title.consult")
    # The year shows when the record is of another year (typed 12/25 on 1 December: last year's).
    day = dates.short_for(state.date, ctx.today)
    return t("flow.header", title=title, date=day, area=ctx.taxonomy.area_label(state.area))


def render(state: DraftState, ctx: FlowContext, hint: str | None = None) -> Screen:
    """The screen of the step on top of the stack, under the record's header and any hint."""
    step, i = lookup(state.step)
    screen = step.screen(state, ctx, i)
    body = f"{_header(state, ctx)}\n\n{screen.text}"
    if hint:
        body = f"{t('flow.hint_prefix', hint=hint)}\n\n{body}"
    return dataclasses.replace(screen, text=body)
