"""What a service answers, for any messenger: texts from the catalogue, choices carrying typed buttons, files.

A front end (handlers/ for Telegram) turns a `Reply` into messages: Telegram edits the pressed message in place;
a messenger that cannot edit sends `edit` as a new message instead. Choices carry codes in typed buttons
(core.buttons), never labels; their labels are short enough for a button, the full wording is in the text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from core.buttons import Button
from core.i18n import t
from storage.types import IdempotencyKey


@dataclass(frozen=True, slots=True)
class FormLink:
    """Not a callback: a button opening the note form's page at `url` (a Mini App on Telegram, a link elsewhere)."""

    url: str


@dataclass(frozen=True, slots=True)
class Choice:
    label: str
    button: Button | FormLink


Rows = tuple[tuple[Choice, ...], ...]


def rows(*lines: Iterable[Choice]) -> Rows:
    """Rows of choices, empty rows dropped (a messenger refuses an empty row of buttons)."""
    kept = (tuple(line) for line in lines)
    return tuple(line for line in kept if line)


def grid(choices: Sequence[Choice], columns: int) -> Rows:
    return tuple(tuple(choices[k : k + columns]) for k in range(0, len(choices), columns))


def pager(page: int, pages: int, make: type[Button] | None = None, **fixed: int) -> tuple[Choice, ...]:
    """The ◀ 前へ / 次へ ▶ row of a paged list; `make(page=n, **fixed)` is the button that shows page n."""
    if make is None:
        return ()
    row = []
    if page > 0:
        row.append(Choice(t("common.previous"), make(page=page - 1, **fixed)))  # type: ignore[call-arg]
    if page < pages - 1:
        row.append(Choice(t("common.next"), make(page=page + 1, **fixed)))  # type: ignore[call-arg]
    return tuple(row)


@dataclass(frozen=True, slots=True)
class Press:
    """What a front end knows of one button press: the update's idempotency key and the pressed message."""

    key: IdempotencyKey
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class View:
    """One message: its text and its buttons. `personal_text`: the screen asks for personal free text."""

    text: str
    rows: Rows = ()
    personal_text: bool = False


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: Literal["photo", "document"]
    content: bytes
    caption: str
    filename: str = ""


@dataclass(slots=True)
class Reply:
    """What to show for one input.

    - `edit`: replaces the message whose button was pressed (sent as a new message after a typed input);
    - `send`: new messages, in order, after the edit; then `files`;
    - `toast`: the short answer to a button press (Telegram's callback answer);
    - `retire`: a message whose buttons no longer apply (its question moved on);
    - `track`: the draft whose current question the last message shown carries (the front end reports the
      message with `FlowService.shown`, so that a later restart can retire its buttons);
    - `forget_typed`: the person's own message held personal text, kept sealed now: remove it from the chat;
    - `menu`: attach the persistent menu under the chat.
    """

    edit: View | None = None
    send: list[View] = field(default_factory=list)
    files: list[Attachment] = field(default_factory=list)
    toast: str | None = None
    retire: int | None = None
    track: int | None = None
    forget_typed: bool = False
    menu: bool = False


def expired() -> Reply:
    """A stale, forged or foreign button: nothing changes, the person is told briefly."""
    return Reply(toast=t("common.expired"))


def toast(text: str) -> Reply:
    return Reply(toast=text)


def message(text: str, *lines: Iterable[Choice], menu: bool = False) -> Reply:
    """One new message."""
    return Reply(send=[View(text, rows(*lines))], menu=menu)


def replace(text: str, *lines: Iterable[Choice], note: str | None = None) -> Reply:
    """The pressed message, replaced."""
    return Reply(edit=View(text, rows(*lines)), toast=note)
