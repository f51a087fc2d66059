"""How many took part: an optional number, picked from presets or typed."""

from __future__ import annotations

import re

from core import dates
from core.flow.navigation import answered_here
from core.flow.screen import PICK, Button, Screen, grid, mark, nav, skip_button
from core.flow.state import SKIPPED, DraftState, FlowContext
from core.flow.step import Outcome, Step, refuse, register
from core.i18n import t

HEADCOUNT_MAX = 9999
HEADCOUNT_PRESETS = (3, 5, 8, 10, 15, 20, 30, 50)


@register
class Headcount(Step):
    name = "headcount"

    def asked(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.kind == "visit"

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        return state.headcount is not None

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        if not (code.isascii() and code.isdigit()) or int(code) not in HEADCOUNT_PRESETS:
            return refuse(state)
        state.headcount = int(code)
        return answered_here(state, ctx)

    def on_skip(self, state: DraftState, ctx: FlowContext, i: int) -> Outcome:
        state.headcount = SKIPPED
        return answered_here(state, ctx)

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        digits = re.sub(r"[^\d]+$", "", dates.normalise(text))  # 12人, 12名: the counter word is optional
        if not re.fullmatch(r"-?\d+", digits):  # not "--1": int() would raise
            return refuse(state, t("flow.hint.headcount_number"))
        # int() refuses more than 4,300 digits, and NFKC makes 4,096 characters into more ("⑳" is "20").
        number = int(digits) if len(digits) <= 9 else HEADCOUNT_MAX + 1
        if number < 0 or number > HEADCOUNT_MAX:
            return refuse(state, t("flow.hint.headcount_range", max=HEADCOUNT_MAX))
        state.headcount = number
        return answered_here(state, ctx)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        presets = [
            Button(mark(t("flow.people", count=n), state.headcount == n), f"{PICK}:{n}") for n in HEADCOUNT_PRESETS
        ]
        rows = grid(presets, 4)
        rows.append(nav(state, skip_button()))
        return Screen(t("flow.ask.headcount", max=HEADCOUNT_MAX), rows, accepts_text=True)
