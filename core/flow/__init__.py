"""The outing and consultation flows as a pure state machine: answers in, next question out, no Telegram.

A draft's state is the answers given so far plus a stack of steps (the top is the question on screen).
`apply` takes one input (a button action or typed text) and returns the new state; `render` turns a state
into a `Screen` (text and buttons carrying short actions). The handlers store the state after every input
(the database is the truth) and turn screens into Telegram messages.

Each question is a `Step` in `core/flow/steps/` (what answers it, what it shows); `navigation` holds their
order, `machine` the inputs every screen shares (back, edit buttons).
"""

from __future__ import annotations

from core.flow.machine import apply, render, start
from core.flow.navigation import missing_step
from core.flow.screen import (
    BACK,
    DISCARD,
    EDIT,
    NONE_CODE,
    NOOP,
    OK,
    PICK,
    SAVE,
    SKIP,
    TOGGLE,
    ZONE,
    Button,
    Screen,
)
from core.flow.state import (
    CONSULTATIONS_MAX,
    SKIPPED,
    ConsultationAnswer,
    DraftState,
    FlowContext,
    FlowKind,
    FollowUpAnswer,
    PlaceChoice,
    Repeat,
    Skipped,
    Ticking,
    check_free_text,
)
from core.flow.step import Outcome, Step
from core.flow.steps.date_area import OUTING_MAX_AGE_DAYS
from core.flow.steps.followup import DUE_MAX_DAYS, DUE_PRESETS, LABEL_MAX, REASON_MAX
from core.flow.steps.headcount import HEADCOUNT_MAX, HEADCOUNT_PRESETS
from core.flow.steps.summary_card import MEMO_MAX
from core.flow.summary import render_summary_text, to_submission

__all__ = [
    "BACK",
    "CONSULTATIONS_MAX",
    "DISCARD",
    "DUE_MAX_DAYS",
    "DUE_PRESETS",
    "EDIT",
    "HEADCOUNT_MAX",
    "HEADCOUNT_PRESETS",
    "LABEL_MAX",
    "MEMO_MAX",
    "NONE_CODE",
    "NOOP",
    "OK",
    "OUTING_MAX_AGE_DAYS",
    "PICK",
    "REASON_MAX",
    "SAVE",
    "SKIP",
    "SKIPPED",
    "TOGGLE",
    "ZONE",
    "Button",
    "ConsultationAnswer",
    "DraftState",
    "FlowContext",
    "FlowKind",
    "FollowUpAnswer",
    "Outcome",
    "PlaceChoice",
    "Repeat",
    "Screen",
    "Skipped",
    "Step",
    "Ticking",
    "apply",
    "check_free_text",
    "missing_step",
    "render",
    "render_summary_text",
    "start",
    "to_submission",
]
