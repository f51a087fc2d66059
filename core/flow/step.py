"""The `Step` (one question or side screen: answered?, inputs, screen) and the registry of steps by name."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from core.flow.screen import PICK, SKIP, Screen
from core.flow.state import DraftState, FlowContext
from core.i18n import t
from core.taxonomy import Category


@dataclass(slots=True)
class Outcome:
    """The result of one input: the new state, and a hint to show when the input was not accepted."""

    state: DraftState
    hint: str | None = None
    changed: bool = True
    notes: list[str] = field(default_factory=list)


def refuse(state: DraftState, hint: str | None = None) -> Outcome:
    """The input is not taken: the same state, and a hint (by default: use the buttons)."""
    return Outcome(state, hint=hint or t("flow.hint.use_buttons"), changed=False)


def valid(dimension: Iterable[Category], code: str) -> bool:
    """A code that may be picked: known and not retired (forged button data reaches here too)."""
    return any(c.code == code and not c.retired for c in dimension)


class Step:
    """One screen of the flow: a question in the sequence, or a side screen (date, area, a sub-menu).

    The stack of a draft holds step ids: the name, and for a question asked once per consultation the
    consultation's index after a dot ("consulter.0"). The methods get that index as `i` (-1 when none).
    Inputs arrive on a deep copy of the state, which the methods change and return in an `Outcome`.
    """

    name: ClassVar[str]

    def asked(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        """Whether the question belongs to this draft's sequence at all (e.g. only consultation records
        ask the channel)."""
        return True

    def answered(self, state: DraftState, ctx: FlowContext, i: int) -> bool:
        """Whether the question has its answer (possibly SKIPPED); side screens never wait for one."""
        return True

    def on_action(self, state: DraftState, ctx: FlowContext, i: int, op: str, arg: str) -> Outcome:
        """A button press other than back, no-op and edit (which the machine handles for every step)."""
        if op == PICK:
            return self.on_pick(state, ctx, i, arg)
        if op == SKIP:
            return self.on_skip(state, ctx, i)
        return refuse(state)

    def on_pick(self, state: DraftState, ctx: FlowContext, i: int, code: str) -> Outcome:
        return refuse(state)

    def on_skip(self, state: DraftState, ctx: FlowContext, i: int) -> Outcome:
        return refuse(state)

    def on_text(self, state: DraftState, ctx: FlowContext, i: int, text: str) -> Outcome:
        """Typed text, stripped of surrounding blanks."""
        return refuse(state)

    def screen(self, state: DraftState, ctx: FlowContext, i: int) -> Screen:
        """The step's question and buttons (the machine adds the header and any hint)."""
        raise NotImplementedError


STEPS: dict[str, Step] = {}

S = TypeVar("S", bound=Step)


def register(cls: type[S]) -> type[S]:
    """Class decorator: one instance of the step, found by its name."""
    if cls.name in STEPS:
        raise ValueError(f"two steps are named {cls.name!r}")
    STEPS[cls.name] = cls()
    return cls


def parse_id(step_id: str) -> tuple[str, int]:
    """A step id's name and consultation index (-1 when it has none or it is not a number)."""
    name, _, number = step_id.partition(".")
    # Forged button data reaches here too (e:cons.x): anything but a short ASCII number is no index.
    return name, int(number) if number.isascii() and number.isdigit() and len(number) <= 6 else -1


def lookup(step_id: str) -> tuple[Step, int]:
    """The step a stack entry names, and its consultation index."""
    name, i = parse_id(step_id)
    step = STEPS.get(name)
    if step is None:
        raise ValueError(f"unknown step {step_id!r}")
    return step, i
