"""A service's `View` as LINE WORKS message contents: new messages only (LINE WORKS can neither edit nor delete a
message), each within LINE WORKS's limits (content.py), nothing of the view lost.

- Lengths are counted in UTF-16 units (`units`), the stricter of the counts LINE WORKS may use.
- The text: at most 2,000 characters a message; a longer one is split at line boundaries into several text
  messages (a single longer line is cut), the choices going with the last.
- Each choice: a quick-reply item. A callback button is a postback action, its `data` the button's encoded data
  (core.buttons: at most 64 bytes, well within 300 characters), its `displayText` the full label (shown in the
  chat as what the person said). A label over 20 characters is shortened to a circled number, its start and "…",
  and the full wording is listed under the text with the same number. A `FormLink` (the note form's page: a Mini
  App on Telegram, which LINE WORKS does not have) is a uri action, which bot-actionobject allows in a quick reply.
- At most 13 items a quick reply: a view with more choices is shown a page at a time, 12 choices and 「次へ」 on
  the first page, 「前へ」 11 and 「次へ」 on a middle one, 「前へ」 and at most 12 on the last. 「次へ」 and 「前へ」
  are postbacks of their own (`PagePress`), not core.buttons kinds: no service makes or reads them, the adapter
  answers them alone by rendering the same view at another page. Their data starts with "~", which no
  core.buttons prefix can (ASCII letters only), so the two codecs never take each other's data.

What the adapter does with a `PagePress`: it takes the view now on screen for that person (the one it last sent,
or the flow's current screen computed again), checks `screen_id(view) == press.screen` (the id hashes the choices,
and a flow's choices carry the draft's id and version, so a 「次へ」 pressed on an old message no longer matches)
and sends `render(view, page=press.page)`; on a mismatch it answers as for an expired button and shows the current
screen again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.buttons import Button, FlowPress, encode
from core.i18n import t
from handlers.lineworks.content import (
    MAX_DISPLAY_TEXT,
    MAX_LABEL,
    MAX_QUICK_REPLY_ITEMS,
    MAX_TEXT,
    JSONDict,
    postback_action,
    quick_reply_item,
    text_content,
    validate_action,
)
from services.screens import Choice, FormLink, View

ELLIPSIS = "\u2026"
FIRST_PAGE = MAX_QUICK_REPLY_ITEMS - 1  # 12 choices and 次へ
MIDDLE_PAGE = MAX_QUICK_REPLY_ITEMS - 2  # 前へ, 11 choices and 次へ
# A uri action's uri: LINE WORKS's bot-actionobject gives no length we could find; LINE's Messaging API allows
# 1,000 characters (http, https or tel). The note form's links are about 150.
MAX_URI = 1000
_URI = re.compile(r"https?://\S+")

PAGE_PREFIX = "~pg"
_SCREEN_DIGITS = 16  # hex digits of the screen id: 64 bits
_PAGE_DATA = re.compile(rf"{re.escape(PAGE_PREFIX)}:(0|[1-9][0-9]{{0,3}}):([0-9a-f]{{{_SCREEN_DIGITS}}})")


@dataclass(frozen=True, slots=True)
class PagePress:
    """「次へ」 or 「前へ」: show page `page` (from 0) of the screen whose choices hash to `screen` (`screen_id`)."""

    page: int
    screen: str

    def encode(self) -> str:
        return f"{PAGE_PREFIX}:{self.page}:{self.screen}"

    @staticmethod
    def decode(data: str | None) -> PagePress | None:
        """The page press this postback data stands for, or None (anything else, or forged)."""
        found = _PAGE_DATA.fullmatch(data or "")
        return PagePress(int(found[1]), found[2]) if found else None


def choices_of(view: View) -> list[Choice]:
    """The view's choices in reading order (rows left to right, top to bottom): a quick reply is one row."""
    return [choice for row in view.rows for choice in row]


def screen_id(view: View) -> str:
    """What identifies a screen for its page presses: a hash of its choices' labels and data. The text is left
    out (a flow screen shown again lacks the notes of the answer before it), and so are the note form's links
    (each carries the time it was made)."""
    digest = hashlib.sha256()
    for choice in choices_of(view):
        data = "form" if isinstance(choice.button, FormLink) else encode(choice.button)
        digest.update(f"{choice.label}\x1f{data}\x1e".encode())
    return digest.hexdigest()[:_SCREEN_DIGITS]


def page_slices(count: int) -> list[tuple[int, int]]:
    """Where each page's choices start and end, for `count` choices (one page when they fit in a quick reply)."""
    if count <= MAX_QUICK_REPLY_ITEMS:
        return [(0, count)]
    slices = [(0, FIRST_PAGE)]
    start = FIRST_PAGE
    while count - start > FIRST_PAGE:  # more than the last page holds beside 前へ: a middle page
        slices.append((start, start + MIDDLE_PAGE))
        start += MIDDLE_PAGE
    slices.append((start, count))
    return slices


def page_count(view: View) -> int:
    return len(page_slices(len(choices_of(view))))


def page_of(view: View, pressed: Button) -> int:
    """The page of `view` holding `pressed`, or for a flow answer the same action of the same draft at its new
    version; 0 when none does. For the adapter after a press that shows the same question again (a toggle of
    the agencies' multi-select, 18 choices): the new screen opens at the page pressed, not back at the first."""

    def same(button: Button | FormLink) -> bool:
        if isinstance(pressed, FlowPress) and isinstance(button, FlowPress):
            return (button.draft, button.action) == (pressed.draft, pressed.action)
        return button == pressed

    choices = choices_of(view)
    for n, (start, end) in enumerate(page_slices(len(choices))):
        if any(same(choice.button) for choice in choices[start:end]):
            return n
    return 0


def units(text: str) -> int:
    """The length LINE WORKS may count: UTF-16 code units, never fewer than code points (content.py counts code
    points). An emoji outside the BMP (📝, 🚩, 💾, in many labels) is one code point and two units: a text within
    the limit in units is within it whichever LINE WORKS counts."""
    return len(text.encode("utf-16-le")) // 2


def _head(text: str, limit: int) -> str:
    """The longest start of `text` of at most `limit` units."""
    size = 0
    for k, char in enumerate(text):
        size += 2 if ord(char) > 0xFFFF else 1
        if size > limit:
            return text[:k]
    return text


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """The text in pieces of at most `limit` units (`units`), cut at line ends (a line longer than that is cut
    where it must be); blank pieces are left out."""
    lines: list[str] = []
    for line in text.split("\n"):
        while units(line) > limit:
            head = _head(line, limit)
            lines.append(head)
            line = line[len(head) :]
        lines.append(line)
    pieces: list[list[str]] = [[]]
    size = 0
    for line in lines:
        added = units(line) + (1 if pieces[-1] else 0)
        if pieces[-1] and size + added > limit:
            pieces.append([])
            size, added = 0, units(line)
        pieces[-1].append(line)
        size += added
    chunks = ["\n".join(piece).strip("\n") for piece in pieces]
    return [chunk for chunk in chunks if chunk.strip()]


def _marker(number: int) -> str:
    """①…⑳ (one character each), then "21." and on (a page holds at most 13 choices)."""
    return chr(0x2460 + number - 1) if 1 <= number <= 20 else f"{number}."


def _shortened(label: str, number: int) -> str:
    marker = _marker(number)
    return f"{marker}{_head(label, MAX_LABEL - len(marker) - len(ELLIPSIS)).rstrip()}{ELLIPSIS}"


def _display(label: str) -> str:
    return label if units(label) <= MAX_DISPLAY_TEXT else _head(label, MAX_DISPLAY_TEXT - 1) + ELLIPSIS


def _action(choice: Choice, label: str) -> JSONDict:
    if isinstance(choice.button, FormLink):
        uri = choice.button.url
        if len(uri) > MAX_URI or not _URI.fullmatch(uri):
            raise ValueError(f"a form link of {len(uri)} characters cannot travel in a uri action")
        action: JSONDict = {"type": "uri", "label": label, "uri": uri}
        validate_action(action, quick_reply=True)
        return action
    return postback_action(label, encode(choice.button), _display(choice.label))


def _items(choices: Sequence[Choice]) -> tuple[list[JSONDict], list[str]]:
    """The quick-reply items of one page's choices, and the full wording of the labels shortened on them."""
    items: list[JSONDict] = []
    listed: list[str] = []
    for choice in choices:
        label = choice.label
        if units(label) > MAX_LABEL:
            listed.append(f"{_marker(len(listed) + 1)} {choice.label}")
            label = _shortened(choice.label, len(listed))
        items.append(quick_reply_item(_action(choice, label)))
    return items, listed


def _turn(page: int, screen: str, key: str) -> JSONDict:
    label = t(key)
    return quick_reply_item(postback_action(label, PagePress(page, screen).encode(), label))


def render(view: View, *, page: int = 0) -> list[JSONDict]:
    """The messages showing `view` (page `page` of its choices, from 0, kept within the pages it has), in order:
    text messages, the quick reply on the last. Empty when the view shows nothing."""
    choices = choices_of(view)
    slices = page_slices(len(choices))
    page = max(0, min(page, len(slices) - 1))
    start, end = slices[page]
    items, listed = _items(choices[start:end])
    if len(slices) > 1:
        screen = screen_id(view)
        if page > 0:
            items.insert(0, _turn(page - 1, screen, "lineworks.previous"))
        if page < len(slices) - 1:
            items.append(_turn(page + 1, screen, "lineworks.next"))
    body = view.text if page == 0 else t("lineworks.page", page=page + 1, pages=len(slices))
    if listed:
        body = "\n".join([body, "", t("lineworks.full_labels"), *listed])
    chunks = split_text(body)
    if not chunks and items:
        chunks = [t("lineworks.choose")]
    contents = [text_content(chunk) for chunk in chunks]
    if items:
        contents[-1] = text_content(chunks[-1], items)
    return contents
