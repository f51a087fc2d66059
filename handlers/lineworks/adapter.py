"""The LINE WORKS front end: one kept callback event in (bot/lineworks/intake.py keeps it, a worker hands it
here), the services called as the Telegram handlers call them (routes.py), their Reply out as new messages.

LINE WORKS can neither edit nor delete a message, so every screen is a new message, and old buttons stay pressable:
a flow's buttons carry the draft's id and version, so a press on an old one changes nothing, is answered with the
short explanation and then the question the draft is really on. A press or a "next page" on an old page is refused the
same way. Group rooms get nothing (as Telegram groups: the bot answers only in a person's own chat). Personal text
is never taken from the chat here (services.deps.Forms.typing_allowed): the screens that want it carry the note
form's link. A message LINE WORKS gives no id for is recorded as shown (`SHOWN`), so a later typed answer is taken.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.buttons import Button, decode
from core.clock import Clock
from core.i18n import t
from core.models import Staff
from core.text import clean_name
from handlers.common import Services
from handlers.errors import user_message
from handlers.lineworks.content import JSONDict, text_content
from handlers.lineworks.render import PagePress, page_count, page_of, render, screen_id
from handlers.lineworks.routes import BUTTONS, COMMANDS, Input
from services.access import SUPERVISORS, refusal
from services.screens import Attachment, Reply, View, expired
from services.staff import Newcomer
from storage.interface import LineWorksUsers
from storage.types import IdempotencyKey

log = logging.getLogger(__name__)

SHOWN = 1  # a draft's "message showing its question" on LINE WORKS, which gives sent messages no id
REMEMBERED_VIEWS = 1000  # paged screens kept in memory for their "next page" (the oldest person forgotten first)
# The persistent menu (≤ 4 buttons, the same for everyone): its label's catalogue key and the command it runs.
MENU = (
    ("lineworks.menu_record", "visit"),
    ("lineworks.menu_followups", "followups"),
    ("lineworks.menu_tally", "tally"),
    ("lineworks.menu_help", "help"),
)

Send = Callable[[str, JSONDict], Awaitable[None]]
Attach = Callable[[str, Attachment], Awaitable[None]]


def menu_actions() -> list[JSONDict]:
    """The persistent menu's message actions: pressing one says its label and posts back its command."""
    return [{"type": "message", "label": t(key), "postback": f"/{command}"} for key, command in MENU]


@dataclass(frozen=True, slots=True)
class Incoming:
    """What one event asks: typed text, a command (from text or a menu's postback), or a postback's data."""

    user_id: str
    text: str | None = None
    data: str | None = None
    other: bool = False  # a sticker, image, file or location: nothing the bot reads
    begin: bool = False  # the person opened the bot's chat


def parse(payload: str) -> Incoming | None:
    """A person's event in their own chat, or None (a room's event, or one that asks nothing)."""
    event: Any = json.loads(payload)
    source = event.get("source") or {}
    user_id = source.get("userId")
    if not isinstance(user_id, str) or not user_id or source.get("channelId"):
        return None  # rooms get counts only, through the digest, as Telegram groups
    kind = event.get("type")
    if kind == "postback":
        return Incoming(user_id, data=str(event.get("data") or ""))
    if kind == "begin":
        return Incoming(user_id, begin=True)
    if kind != "message":
        return None
    content = event.get("content") or {}
    if content.get("postback"):
        return Incoming(user_id, data=str(content["postback"]))
    if content.get("type") == "text" and isinstance(content.get("text"), str):
        return Incoming(user_id, text=content["text"])
    return Incoming(user_id, other=True)


@dataclass
class LineWorksFront:
    """One council's LINE WORKS bot: its services (shared with Telegram), its users, and how a message is sent."""

    services: Services
    users: LineWorksUsers
    clock: Clock
    send: Send
    # Sends a file or an image with its caption (None: files are named in the chat, not sent).
    attach: Attach | None = None
    _views: OrderedDict[int, View] = field(default_factory=OrderedDict)

    async def handle(self, payload: str, key: IdempotencyKey) -> None:
        """Handle one kept event; what goes wrong is told to the person (in Japanese) and logged (in English)."""
        incoming = parse(payload)
        if incoming is None:
            return
        account = await self.users.remember(incoming.user_id, self.clock.now())
        try:
            reply, pressed = await self._answer(incoming, account, key)
        except Exception as exc:  # the worker logs it too; the person learns what became of their input
            log.error("LINE WORKS event %d failed: %s", key.update_id, type(exc).__name__)
            await self.send(incoming.user_id, text_content(user_message(exc)))
            raise
        # A send that fails is not followed by an error message (it would fail alike, or, when only its answer was
        # lost, contradict a message that arrived): the draft is marked not shown, so the next input shows it.
        await self.show(incoming.user_id, reply, pressed)

    async def _answer(
        self, incoming: Incoming, account: int, key: IdempotencyKey
    ) -> tuple[Reply, Button | _Page | None]:
        command = _command(incoming)
        if incoming.begin or (command is not None and command[0] == "start"):
            code = command[1] if command is not None and command[1] else None
            return await self.services.staff.start(Newcomer(account, _name(incoming.user_id)), code, key), None
        staff = await self.services.staff.identify(account)
        if staff is None or refusal(staff, ()) is not None:
            return Reply(send=[View(refusal(staff, ()) or "")]), None
        done = Input(staff, account, key)
        if command is not None:
            return await self._command(done, command[0]), None
        if incoming.data is not None:
            return await self._press(done, incoming.data)
        if incoming.text is not None:
            return await self._typed(done, incoming.text), None
        return Reply(send=[View(t("common.text_only"))]), None

    async def _command(self, done: Input, name: str) -> Reply:
        roles, route = COMMANDS.get(name, COMMANDS["help"])
        refused = refusal(done.staff, roles)
        return Reply(send=[View(refused)]) if refused is not None else await route(self.services, done)

    async def _press(self, done: Input, data: str) -> tuple[Reply, Button | _Page | None]:
        turn = PagePress.decode(data)
        if turn is not None:
            return await self._turn(done.staff, done.account, turn)
        button = decode(data)
        found = BUTTONS.get(type(button)) if button is not None else None
        if button is None or found is None:
            return await self._stale(done.staff), None
        roles, route = found
        refused = refusal(done.staff, roles)
        if refused is not None:
            return Reply(send=[View(refused)]), None
        reply = await route(self.services, done, button)
        if _is_expired(reply):
            return await self._stale(done.staff), None
        return reply, button

    async def _typed(self, done: Input, text: str) -> Reply:
        """As Telegram's typed text: a date a follow-up asked for, a place's name, else the flow's answer."""
        s, staff = self.services, done.staff
        awaited = await s.followups.typed(staff, text, done.key)
        if awaited is None and staff.role in SUPERVISORS:
            awaited = await s.places.typed(staff, text, done.key)
        return awaited if awaited is not None else await s.flows.type_text(staff, text, done.key)

    async def _stale(self, staff: Staff) -> Reply:
        """A press on an old message: said so, then the question the draft is on (if one is in progress)."""
        current = await self.services.flows.current(staff)
        if current is None:
            return Reply(send=[View(expired().toast or "")])
        current.toast = expired().toast
        return current

    async def _turn(self, staff: Staff, account: int, turn: PagePress) -> tuple[Reply, _Page | None]:
        """Next or previous page: the same screen at another page, if it is still the one on screen."""
        view = self._views.get(account)
        if view is None or screen_id(view) != turn.screen:
            current = await self.services.flows.current(staff)
            view = current.send[0] if current is not None and current.send else None
        if view is None or screen_id(view) != turn.screen:
            return await self._stale(staff), None
        return Reply(send=[view]), _Page(turn.page)

    # ---------------------------------------------------------------- showing a Reply
    async def show(self, user_id: str, reply: Reply, pressed: Button | _Page | None = None) -> None:
        """A Reply as new messages: its edit and its messages (the toast leading the first), then its files (each
        after its caption). The draft it tracks is recorded as shown, or as not shown when a send failed (its next
        input shows the question again)."""
        contents = await self._contents(user_id, reply, pressed)
        try:
            for content in contents:
                await self.send(user_id, content)
        except Exception:
            if reply.track is not None:
                await self.services.flows.shown(reply.track, None)
            raise
        if reply.track is not None:
            await self.services.flows.shown(reply.track, SHOWN)
        if self.attach is not None:
            for attachment in reply.files:
                await self.attach(user_id, attachment)

    async def _contents(self, user_id: str, reply: Reply, pressed: Button | _Page | None) -> list[JSONDict]:
        """The message contents of a Reply's texts (its files are named when they cannot be sent)."""
        views = [*([reply.edit] if reply.edit is not None else []), *reply.send]
        contents: list[JSONDict] = []
        if reply.toast and views:
            first = views[0]
            if reply.toast not in first.text:  # "saved" over a card that says so already: once is enough
                views[0] = View(f"{reply.toast}\n\n{first.text}", first.rows, first.personal_text)
        elif reply.toast:
            contents.append(text_content(reply.toast))
        account = await self.users.remember(user_id, self.clock.now())
        for view in views:
            page = pressed.page if isinstance(pressed, _Page) else page_of(view, pressed) if pressed else 0
            contents.extend(render(view, page=page))
            self._remember(account, view)
        if self.attach is None:
            named = (t("lineworks.file_not_sent", name=f.filename or f.caption) for f in reply.files)
            contents.extend(text_content(text) for text in named)
        return contents

    def _remember(self, account: int, view: View) -> None:
        if page_count(view) < 2:
            return
        self._views[account] = view
        self._views.move_to_end(account)
        while len(self._views) > REMEMBERED_VIEWS:
            self._views.popitem(last=False)


@dataclass(frozen=True, slots=True)
class _Page:
    page: int


def _command(incoming: Incoming) -> tuple[str, str] | None:
    """(name, argument) of "/name argument", typed or posted back by the persistent menu; None otherwise."""
    said = incoming.data if incoming.data is not None and incoming.data.startswith("/") else incoming.text
    if said is None or not said.startswith("/"):
        return None
    name, _, argument = said[1:].strip().partition(" ")
    return name.lower(), argument.strip()


def _is_expired(reply: Reply) -> bool:
    return reply.toast == expired().toast and reply.edit is None and not reply.send


def _name(user_id: str) -> str:
    """LINE WORKS callbacks carry no display name: the staff list shows the user id (often the login address)."""
    return clean_name(user_id) or "?"
