"""The order of questions, and moving through it: the next unanswered question, back, the summary card."""

from __future__ import annotations

from core.flow.state import DraftState, FlowContext
from core.flow.step import STEPS, Outcome, lookup

# The questions in the order they are asked; a step's `asked` leaves it out of drafts it does not fit.
OUTING_QUESTIONS = ("activity", "place", "destination", "headcount", "has_consult")
CONSULTATION_QUESTIONS = (
    "channel",
    "consulter",
    "category",
    "from_agency",
    "topic",
    "agencies",
    "next",
    "fu_label",
    "fu_reason",
    "fu_due",
    "after_fu",
)
SUMMARY = "summary"  # the card at the end: every answer, save and discard


def sequence(state: DraftState, ctx: FlowContext) -> list[str]:
    """The ids of this draft's questions, in order (the summary card follows them)."""
    ids = [name for name in OUTING_QUESTIONS if STEPS[name].asked(state, ctx, -1)]
    for i in range(len(state.consultations)):
        ids += [f"{name}.{i}" for name in CONSULTATION_QUESTIONS if STEPS[name].asked(state, ctx, i)]
    return ids


def _unanswered(state: DraftState, ctx: FlowContext, step_id: str) -> bool:
    step, i = lookup(step_id)
    return not step.answered(state, ctx, i)


def missing_step(state: DraftState, ctx: FlowContext) -> str | None:
    """The first unanswered question, or None when the draft can be saved."""
    return next((s for s in sequence(state, ctx) if _unanswered(state, ctx, s)), None)


def advance(state: DraftState, ctx: FlowContext, answered: str) -> None:
    """After a step is answered: go to the next unanswered question, or back to the summary card."""
    questions = sequence(state, ctx)
    after = questions[questions.index(answered) + 1 :] if answered in questions else []
    # Later questions first; then any earlier one still open (an edit may have added questions).
    target = next((s for s in [*after, *questions] if _unanswered(state, ctx, s)), SUMMARY)
    if target == SUMMARY and SUMMARY in state.stack:
        while state.stack[-1] != SUMMARY:
            state.stack.pop()
        return
    state.stack.append(target)


def answered_here(state: DraftState, ctx: FlowContext) -> Outcome:
    """The step on screen took its answer: move on from it."""
    advance(state, ctx, state.step)
    return Outcome(state)


def go_back(state: DraftState) -> None:
    """Leave a side step (date, area, a sub-menu) back to the screen it was opened from."""
    if len(state.stack) > 1:
        state.stack.pop()


def returned(state: DraftState) -> Outcome:
    """A side step took its answer: back to where it was opened from."""
    go_back(state)
    return Outcome(state)
