"""What a step shows (a text and rows of buttons carrying short actions) and the helpers that lay it out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.flow.state import DraftState
from core.i18n import t
from core.taxonomy import Category

# Actions carried by buttons (kept short: they travel in 64-byte callback data).
PICK = "p"  # p:<code>  choose an option of the current step
TOGGLE = "t"  # t:<code>  toggle an agency
OK = "k"  # confirm a multi-select
SKIP = "x"  # skip an optional step
BACK = "b"
EDIT = "e"  # e:<target>  jump to a field (from the summary card or the first question)
ZONE = "z"  # z:<zone>   browse the areas of another zone
SAVE = "s"
DISCARD = "d"
NOOP = "n"

NONE_CODE = "-"  # the exclusive なし of the agency multi-select


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: str


@dataclass(frozen=True, slots=True)
class FormField:
    """The personal free text a screen takes, as the note form's page asks for it."""

    question: str
    limit: int
    multiline: bool = True


@dataclass(frozen=True, slots=True)
class Screen:
    text: str
    keyboard: list[list[Button]]
    accepts_text: bool = False
    # Typed text here is personal (a person's nickname, their situation, a memo): the place for a secure form.
    personal_text: bool = False
    form: FormField | None = None  # what the note form asks for instead (set with personal_text)


def _columns(labels: list[str]) -> int:
    longest = max((len(label) for label in labels), default=0)
    if longest <= 5:
        return 3
    if longest <= 11:
        return 2
    return 1


def grid(buttons: list[Button], columns: int | None = None) -> list[list[Button]]:
    """Buttons in rows: as many to a row as their longest label leaves room for, unless told."""
    columns = columns or _columns([b.label for b in buttons])
    return [buttons[k : k + columns] for k in range(0, len(buttons), columns)]


def mark(label: str, chosen: bool) -> str:
    return t("flow.chosen", label=label) if chosen else label


def choices(categories: Iterable[Category], current: str | None) -> list[list[Button]]:
    """One pick button per category, the current answer marked."""
    return grid([Button(mark(c.label, c.code == current), f"{PICK}:{c.code}") for c in categories])


def nav(state: DraftState, *extra: Button) -> list[Button]:
    """The bottom row: back (unless on the first screen) and the step's own extra buttons."""
    row = list(extra)
    if len(state.stack) > 1:
        row.insert(0, Button(t("flow.button.back"), BACK))
    return row


def date_area_row() -> list[Button]:
    """Offered on the first question: the pre-filled date and area cost no tap, and change in one."""
    return [
        Button(t("flow.button.change_date"), f"{EDIT}:date"),
        Button(t("flow.button.change_area"), f"{EDIT}:area"),
    ]


def consultation_heading(i: int) -> str:
    return t("flow.consultation_heading", number=i + 1)


def skip_button() -> Button:
    return Button(t("flow.button.skip"), SKIP)
