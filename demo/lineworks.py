"""Demo mode on LINE WORKS: the simulated LINE WORKS beside the Bot API simulator, and the chat with the bot there.

`fieldbot demo --messenger lineworks`: the bot runs as in the Telegram demo (a Telegram bot still runs beside it,
the Bot API simulator giving its token), with a LINE WORKS bot pointed at simulator/lineworks.py on long polling
with PUBLIC_URL, so that it opens its own listener for the note form and LINE WORKS's callbacks (as
tests/lineworks/harness.py starts it). The person at the terminal is a LINE WORKS user of the simulator: what the
bot sent them is printed as it arrives (LINE WORKS can neither edit nor delete, so every screen is a new message),
a number presses a quick-reply item, m1 … m4 the persistent menu, anything else is typed. After each, the chat
waits until the bot's LINE WORKS workers have handled the event.
"""

from __future__ import annotations

import asyncio
import logging
import os
import unicodedata
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from bot.lineworks.intake import event_key
from core.i18n import t
from core.models import Role, Staff
from demo.console import ACTION_TIMEOUT, TerminalLoop, TerminalWriter
from demo.seed import ensure_demo_user
from simulator.lineworks import CallbackDelivery, LineWorksSimulator
from storage.sqlite.store import Store

log = logging.getLogger(__name__)

DEMO_LINEWORKS_USER = "demo.user@fieldbot-demo.example"  # the person at the terminal (a simulated LINE WORKS user)
PER_MINUTE = 100_000  # LINE WORKS's rate limit, out of the demo's way (the client's own pace below it)
CLIENT_PER_MINUTE = 10_000
NEWS_POLL = 0.5  # seconds between looks for messages the bot sends on its own (the simulator tells nobody)
KEY_ATTEMPTS = 8  # as bot/lineworks/intake.py: a different event meeting the same key takes the next one
LINE_WIDTH = 76  # terminal columns for a row of numbered buttons


@asynccontextmanager
async def lineworks_simulator(port: int) -> AsyncIterator[tuple[LineWorksSimulator, dict[str, Any]]]:
    """The simulated LINE WORKS, its service account's private key in a temporary file, and the settings that point
    the bot at both (callbacks to the bot's own listener on `port`, which serves PUBLIC_URL)."""
    with TemporaryDirectory(prefix="fieldbot-demo-") as folder:
        async with LineWorksSimulator(per_minute=PER_MINUTE) as sim:
            assert sim.private_key_pem is not None  # made by the simulator when given no public key
            key_file = Path(folder) / "lineworks.pem"
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as out:
                out.write(sim.private_key_pem)
            sim.callback_url = f"http://127.0.0.1:{port}/lineworks/{sim.bot_id}"
            settings: dict[str, object] = {k.lower(): v for k, v in sim.bot_settings(key_file).items()}
            settings["lineworks_per_minute"] = CLIENT_PER_MINUTE
            yield sim, settings


async def ensure_lineworks_user(store: Store, role: Role, now: datetime) -> Staff:
    """The demo person's staff row on LINE WORKS (their own account number, beside the Telegram demo user's), with
    the chosen role and the demo user's home area, named so that the two are told apart in lists and reports."""
    account = await store.lineworks_users.remember(DEMO_LINEWORKS_USER, now)
    return await ensure_demo_user(store, role, now, account=account, name=t("demo.lineworks.user_name"))


def admin_ids(role: Role) -> list[str]:
    """ADMIN_LINEWORKS_IDS: the demo person when they are the admin (another role is kept as --as made it)."""
    return [DEMO_LINEWORKS_USER] if role is Role.ADMIN else []


@dataclass(frozen=True, slots=True)
class Item:
    """A button of a message (a quick-reply item, or a button template's button): its label and action."""

    label: str
    action: Mapping[str, Any]


def items_of(content: Mapping[str, Any]) -> list[Item]:
    """The buttons of a message, in order, as the simulator's `press` finds them."""
    actions = [item.get("action", {}) for item in content.get("quickReply", {}).get("items", [])]
    if content.get("type") == "button_template":
        actions += content.get("actions", [])
    return [Item(str(action.get("label") or ""), action) for action in actions]


def columns(text: str) -> int:
    """Terminal columns `text` takes: two for a wide (Japanese) character."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def button_rows(shown: list[str], width: int = LINE_WIDTH) -> Iterator[str]:
    """Buttons laid out in rows that fit the terminal (a quick reply is one long row on LINE WORKS)."""
    row: list[str] = []
    for button in shown:
        if row and columns("   ".join([*row, button])) > width:
            yield "   ".join(row)
            row = []
        row.append(button)
    if row:
        yield "   ".join(row)


class LineWorksChat(TerminalLoop):
    """The demo person's LINE WORKS chat with the bot, shown as text; numbers press buttons."""

    def __init__(self, sim: LineWorksSimulator, user_id: str, write: TerminalWriter, *, echo: bool) -> None:
        super().__init__(write, echo=echo)
        self.sim = sim
        self.user_id = user_id
        self._printed = 0  # how many of the person's messages were printed
        self._looked = 0  # how many messages the simulator had accepted when last looked at
        self._items: list[Item] = []
        self._numbered: int | None = None  # which message's buttons the numbers press
        self._menu: list[str] | None = None
        self._handled: set[int] = set()
        self._changed = asyncio.Event()

    # ---- the per-event done signal (the bot's LINE WORKS workers tell every event handled)
    def update_done(self, update_id: int) -> None:
        self._handled.add(update_id)
        self._changed.set()

    async def _until_handled(self, delivery: CallbackDelivery) -> None:
        if delivery.status != 200:
            log.warning("the bot did not take a LINE WORKS event (status %s: %s)", delivery.status, delivery.error)
            self.write.line(t("demo.lineworks.not_taken"))
            return
        issued = datetime.fromisoformat(str(delivery.event["issuedTime"]).replace("Z", "+00:00"))
        keys = {event_key(issued, delivery.body, attempt) for attempt in range(KEY_ATTEMPTS)}
        try:
            async with asyncio.timeout(ACTION_TIMEOUT):
                while not keys & self._handled:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            log.warning("the bot did not finish a LINE WORKS event within %ss", ACTION_TIMEOUT)
            self.write.line(t("demo.slow"))
        finally:
            self._handled -= keys

    # ---- showing the chat
    def render(self) -> bool:
        self._looked = len(self.sim.sent)
        contents = self.sim.messages(self.user_id)
        target = self._newest_with_buttons(contents)
        for index in range(self._printed, len(contents)):
            self._show(index, contents[index], numbered=index == target)
        printed = len(contents) > self._printed
        self._printed = len(contents)
        return self._render_controls(contents, target) or printed

    def _render_controls(self, contents: list[dict[str, Any]], target: int | None) -> bool:
        printed = False
        if target is None:
            self._items, self._numbered = [], None
        elif self._numbered != target:
            self.write.line(t("demo.earlier_buttons"))
            self._show_buttons(target, contents[target], numbered=True)
            printed = True
        labels = self._menu_labels()
        if labels and labels != self._menu:
            self._show_menu(labels)
            printed = True
        return printed

    def show_controls(self) -> None:
        contents = self.sim.messages(self.user_id)
        target = self._newest_with_buttons(contents)
        if target is not None:
            self.write.line(t("demo.earlier_buttons"))
            self._show_buttons(target, contents[target], numbered=True)
        labels = self._menu_labels()
        if labels:
            self._show_menu(labels)

    @staticmethod
    def _newest_with_buttons(contents: list[dict[str, Any]]) -> int | None:
        return next((i for i in reversed(range(len(contents))) if items_of(contents[i])), None)

    def _show(self, index: int, content: Mapping[str, Any], *, numbered: bool) -> None:
        self.write.line()
        self.write.line(t("demo.from_bot"))
        text = content.get("text") if content.get("type") == "text" else content.get("contentText")
        for line in str(text or "").splitlines():
            self.write.line(f"  {line}".rstrip())
        if items_of(content):
            self._show_buttons(index, content, numbered=numbered)

    def _show_buttons(self, index: int, content: Mapping[str, Any], *, numbered: bool) -> None:
        items = items_of(content)
        if numbered:
            self._items, self._numbered = items, index
        shown = [f"[{n}] {item.label}" if numbered else f"[-] {item.label}" for n, item in enumerate(items, 1)]
        for row in button_rows(shown):
            self.write.line("  " + row)

    def _menu_labels(self) -> list[str]:
        return [str(action.get("label") or "") for action in self.sim.persistent_menu or []]

    def _show_menu(self, labels: list[str]) -> None:
        self._menu = labels
        self.write.line(t("demo.menu", buttons="   ".join(f"[m{i}] {label}" for i, label in enumerate(labels, 1))))

    # ---- acting
    async def press(self, number: int) -> None:
        if not 1 <= number <= len(self._items):
            self.write.line(t("demo.no_button", number=number))
            return
        action = self._items[number - 1].action
        kind = action.get("type")
        if kind == "uri":  # the note form: a page to open in a browser on this machine
            self.write.line(t("demo.open_form"))
            self.write.line(f"  {action.get('uri')}")
        elif kind == "postback":
            await self._until_handled(await self.sim.send_postback(self.user_id, str(action.get("data") or "")))
        elif kind == "message":
            said = str(action.get("text") or action.get("label") or "")
            postback = action.get("postback")
            delivery = await self.sim.send_text(self.user_id, said, postback=str(postback) if postback else None)
            await self._until_handled(delivery)
        else:  # copy, camera, location: nothing the bot sends or reads
            self.write.line(t("demo.lineworks.not_here"))

    async def press_menu(self, number: int) -> None:
        labels = self._menu_labels()
        if not 1 <= number <= len(labels):
            self.write.line(t("demo.no_menu", number=number))
            return
        try:
            delivery = await self.sim.press_menu(self.user_id, labels[number - 1])
        except ValueError:  # a uri or copy action: it sends the bot nothing
            self.write.line(t("demo.lineworks.not_here"))
            return
        await self._until_handled(delivery)

    async def send(self, text: str) -> None:
        await self._until_handled(await self.sim.send_text(self.user_id, text))

    async def wait_for_news(self) -> None:
        # A look every NEWS_POLL seconds: the simulator signals no accepted message (a hook there would end this).
        while len(self.sim.sent) == self._looked:  # noqa: ASYNC110
            await asyncio.sleep(NEWS_POLL)
