"""Demo mode: the embedded Bot API server, the real bot against it, and a chat with the bot in this terminal.

Everything runs in one process and one event loop. The person at the terminal is a simulated Telegram user of
the embedded server (simulator/botapi.py); the bot is the production `FieldBot`, talking HTTP to that server, with
its own SQLite file, encryption key and log under the demo's data folder, seeded on first run
(demo/seed.py). After each thing typed, the client waits until the bot has finished that update (the
delivery ledger tells every finished update) before it prints the answers and the next prompt. The terminal side
(input, the prompt loop) is demo/console.py; with `--messenger lineworks` the chat is on the simulated LINE WORKS
instead (demo/lineworks.py), started here the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from bot.app import FieldBot
from bot.settings import Settings, load_settings
from core import dates
from core.accounts import is_lineworks
from core.clock import SystemClock
from core.crypto import generate_key
from core.i18n import t
from core.models import Role, Staff
from core.taxonomy import Taxonomy, load_taxonomy
from demo import DATABASE, DEFAULT_DATA, KEY_FILE, DemoError, Messenger
from demo.console import ACTION_TIMEOUT, TerminalLoop, listen_to_input
from demo.console import TerminalWriter as TerminalWriter  # re-exported: the Telegram chat's tests take it here
from demo.lineworks import DEMO_LINEWORKS_USER, LineWorksChat, admin_ids, ensure_lineworks_user, lineworks_simulator
from demo.seed import DEMO_USER_ID, ensure_demo_user, is_empty, is_seeded, seed
from simulator.botapi import LocalBotApi, SimMessage, SimUser
from simulator.lineworks import LineWorksSimulator
from storage.sqlite.lock import WriterLock
from storage.sqlite.store import Store
from storage.types import StorageError

log = logging.getLogger(__name__)

LOG_FILE = "demo.log"
FILES = "files"
MARKER = ".fieldbot-demo"  # written in every folder the demo makes: --reset touches no other folder
# What --reset removes: only what the demo itself creates, whatever folder it was pointed at.
DEMO_ENTRIES = (DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm", f"{DATABASE}-journal", KEY_FILE, LOG_FILE, FILES)
PNG_MAGIC = b"\x89PNG"


@dataclass(frozen=True, slots=True)
class DemoOptions:
    data: Path = DEFAULT_DATA
    role: Role = Role.ADMIN
    reset: bool = False
    messenger: Messenger = Messenger.TELEGRAM


@dataclass(frozen=True, slots=True)
class Button:
    message_id: int
    label: str
    data: str | None
    url: str | None
    web_app: str | None = None  # a Mini App button's URL: "pressing" it prints the link to open in a browser


# --------------------------------------------------------------------------------------------------
# The data folder
# --------------------------------------------------------------------------------------------------


def is_demo_folder(folder: Path) -> bool:
    """A folder the demo made: it carries the demo's marker (or, from before the marker, its key and its log,
    which a production data folder never has: its key is in the settings, its log on standard error)."""
    return (folder / MARKER).exists() or ((folder / KEY_FILE).exists() and (folder / LOG_FILE).exists())


def remove_demo_data(folder: Path) -> None:
    """--reset: the demo's own files, and only in a folder the demo made, and never while a bot uses it."""
    if not any((folder / name).exists() for name in DEMO_ENTRIES):
        return
    if not is_demo_folder(folder):
        raise DemoError(
            f"{folder}: not a demo data folder (no {MARKER}); --reset removes only what the demo made, "
            "so it refuses a folder that may hold a real database"
        )
    with WriterLock.acquire(folder / DATABASE, "demo --reset"):
        for name in DEMO_ENTRIES:
            path = folder / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()


def free_port() -> int:
    """A port of this machine no one listens on (the note form's pages; the demo's own choice, on loopback)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_key(path: Path) -> str:
    """The demo's encryption key, made on first run and readable by its owner only."""
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    key = generate_key()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(key + "\n")
    os.chmod(path, 0o600)  # whatever the umask
    return key


def log_to_file(path: Path) -> None:
    """Warnings and errors only, to the demo's log file: the terminal belongs to the chat."""
    logging.captureWarnings(True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for noisy in ("httpx", "httpcore", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def prepare_database(
    settings: Settings, taxonomy: Taxonomy, role: Role, write: TerminalWriter, *, lineworks: bool = False
) -> tuple[Staff, list[int]]:
    """Seed an empty database, give the demo user the chosen role (on LINE WORKS: the demo's LINE WORKS user);
    returns them and the Telegram ids of everyone else."""
    try:
        store = await Store.open(settings.database_path, settings.sealer())
    except StorageError as exc:
        raise DemoError(f"{exc} (start over with `fieldbot demo --reset`)") from None
    try:
        now = SystemClock().now()
        if not await is_seeded(store):
            if not await is_empty(store):
                raise DemoError(
                    f"{settings.database_path}: the demo data is incomplete (an interrupted first run?); "
                    "start over with `fieldbot demo --reset`"
                )
            write.line(t("demo.seeding"))
            summary = await seed(store, taxonomy, now.astimezone(settings.tz).date(), settings.tz)
            write.line(
                t(
                    "demo.seeded",
                    staff=summary.staff,
                    outings=summary.outings,
                    consultations=summary.consultations,
                    followups=summary.followups,
                    first=dates.long(summary.first),
                    last=dates.long(summary.last),
                )
            )
        if lineworks:
            staff = await ensure_lineworks_user(store, role, now)
        else:
            staff = await ensure_demo_user(store, role, now)
        everyone = [s.telegram_id for s in await store.staff.all() if s.telegram_id is not None]
        return staff, [n for n in everyone if n != staff.telegram_id and not is_lineworks(n)]
    finally:
        await store.close()


# --------------------------------------------------------------------------------------------------
# The terminal
# --------------------------------------------------------------------------------------------------


class TerminalChat(TerminalLoop):
    """The demo user's private Telegram chat with the bot, shown as text; numbers press buttons."""

    def __init__(self, api: LocalBotApi, user: SimUser, files: Path, write: TerminalWriter, *, echo: bool) -> None:
        super().__init__(write, echo=echo)
        self.api = api
        self.user = user
        self.files = files
        self._done: dict[int, asyncio.Event] = {}
        self._seen = 0  # how many of api.events were looked at
        self._printed: dict[int, tuple[str, list[list[str]]]] = {}
        self._saved: dict[int, Path] = {}
        self._buttons: list[Button] = []
        self._numbered: tuple[int, list[list[str]]] | None = None
        self._menu: list[list[str]] | None = None

    # ---- the per-update done signal
    def update_done(self, update_id: int) -> None:
        self._done.setdefault(update_id, asyncio.Event()).set()

    async def wait_done(self, update_id: int) -> None:
        try:
            await self._done.setdefault(update_id, asyncio.Event()).wait()
        finally:
            self._done.pop(update_id, None)

    # ---- showing the chat
    def render(self) -> bool:
        """Print what the bot sent or changed in this chat since the last call; True if anything was printed."""
        order, sent = self._changed_messages()
        target = self._newest_with_buttons()
        printed = False
        for message_id in order:
            msg = self.user.chat.message(message_id)
            if msg is None or msg.deleted:
                continue
            state = (msg.text, msg.buttons)
            before = self._printed.get(message_id)
            self._printed[message_id] = state
            # An edit that changed only the buttons is shown if they are the ones to press, else not worth a line.
            same_text = message_id not in sent and before is not None and before[0] == msg.text
            if same_text and not (msg is target and msg.buttons):
                continue
            self._show(msg, edited=message_id not in sent, numbered=msg is target)
            printed = True
        return self._render_controls(target) or printed

    def _changed_messages(self) -> tuple[list[int], set[int]]:
        """The messages of this chat sent or edited since the last call, in order, and which were sent."""
        events = self.api.events[self._seen :]
        self._seen += len(events)
        order: list[int] = []
        sent: set[int] = set()
        for event in events:
            if event.chat_id != self.user.id or event.message_id is None or event.kind not in ("send", "edit"):
                continue
            if event.kind == "send":
                sent.add(event.message_id)
            if event.message_id not in order:
                order.append(event.message_id)
        return order, sent

    def _render_controls(self, target: SimMessage | None) -> bool:
        printed = False
        if target is None:
            self._buttons, self._numbered = [], None
        elif self._numbered != (target.message_id, target.buttons):
            self.write.line(t("demo.earlier_buttons"))
            self._show_buttons(target, numbered=True)
            printed = True
        keyboard = self.user.keyboard
        if keyboard and keyboard != self._menu:
            self._show_menu(keyboard)
            printed = True
        return printed

    def show_controls(self) -> None:
        """Enter alone: the buttons to press now and the menu again."""
        target = self._newest_with_buttons()
        if target is not None:
            self.write.line(t("demo.earlier_buttons"))
            self._show_buttons(target, numbered=True)
        if self.user.keyboard:
            self._show_menu(self.user.keyboard)

    def _newest_with_buttons(self) -> SimMessage | None:
        return next((m for m in reversed(self.user.messages) if m.buttons), None)

    def _show(self, msg: SimMessage, *, edited: bool, numbered: bool) -> None:
        self.write.line()
        self.write.line(t("demo.from_bot_edited" if edited else "demo.from_bot"))
        for text in msg.text.splitlines():
            self.write.line(f"  {text}".rstrip())
        saved = self._save_media(msg)
        if saved is not None:
            key = "demo.photo" if msg.photo_file is not None else "demo.document"
            self.write.line("  " + t(key, path=saved))
        if msg.buttons:
            self._show_buttons(msg, numbered=numbered)

    def _show_buttons(self, msg: SimMessage, *, numbered: bool) -> None:
        if numbered:
            self._buttons = []
            self._numbered = (msg.message_id, msg.buttons)
        rows = zip(msg.buttons, msg.callback_data, msg.button_urls, msg.web_app_urls, strict=True)
        for labels, data, urls, web_apps in rows:
            shown: list[str] = []
            for label, callback, url, web_app in zip(labels, data, urls, web_apps, strict=True):
                if numbered:
                    self._buttons.append(Button(msg.message_id, label, callback, url, web_app))
                    shown.append(f"[{len(self._buttons)}] {label}")
                else:
                    shown.append(f"[-] {label}")
            self.write.line("  " + "   ".join(shown))

    def _show_menu(self, keyboard: list[list[str]]) -> None:
        self._menu = keyboard
        labels = [label for row in keyboard for label in row]
        self.write.line(t("demo.menu", buttons="   ".join(f"[m{i}] {label}" for i, label in enumerate(labels, 1))))

    def _save_media(self, msg: SimMessage) -> Path | None:
        """Documents and photos the bot sends are written under files/, once per message."""
        if msg.message_id in self._saved:
            return self._saved[msg.message_id]
        file = msg.photo_file or msg.document
        if file is None:
            return None
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        if file.kind == "photo":
            suffix = "png" if file.content.startswith(PNG_MAGIC) else "jpg"
            name = f"photo-{stamp}-{msg.message_id}.{suffix}"
        else:
            name = Path(file.filename or f"file-{stamp}-{msg.message_id}").name
        self.files.mkdir(parents=True, exist_ok=True)
        path = self.files / name
        if path.exists() and path.read_bytes() != file.content:
            path = path.with_name(f"{path.stem}-{stamp}-{msg.message_id}{path.suffix}")
        path.write_bytes(file.content)
        self._saved[msg.message_id] = path
        return path

    # ---- acting
    async def press(self, number: int) -> None:
        if not 1 <= number <= len(self._buttons):
            self.write.line(t("demo.no_button", number=number))
            return
        button = self._buttons[number - 1]
        if button.web_app is not None:
            self.open_web_app(number, button)
            return
        if button.data is None:
            if button.url:
                self.write.line(t("demo.link", url=button.url))
            return
        msg = self.user.chat.message(button.message_id)
        if msg is None or msg.deleted:
            self.write.line(t("demo.no_button", number=number))
            return
        try:
            toast = await self.user.press_data(button.message_id, button.data, timeout=ACTION_TIMEOUT)
        except AssertionError:
            log.warning("the bot did not finish a button press within %ss", ACTION_TIMEOUT)
            self.write.line(t("demo.slow"))
            return
        if toast:
            self.write.line(t("demo.toast", text=toast))

    def open_web_app(self, number: int, button: Button) -> None:
        """A Mini App button opens a page in the Telegram app: here, the link to open in a browser on this machine
        (the launch data signed for the demo user, as the app would add it)."""
        try:
            url = self.user.open_web_app(button.label, message_id=button.message_id)
        except AssertionError:  # the message was deleted or its buttons changed since they were shown
            self.write.line(t("demo.no_button", number=number))
            return
        self.write.line(t("demo.open_form"))
        self.write.line(f"  {url}")

    async def send(self, text: str) -> None:
        try:
            await self.user.send(text, timeout=ACTION_TIMEOUT)
        except AssertionError:
            log.warning("the bot did not finish a message within %ss", ACTION_TIMEOUT)
            self.write.line(t("demo.slow"))

    async def press_menu(self, number: int) -> None:
        """A button of the keyboard under the chat says its label."""
        labels = [label for row in self.user.keyboard or [] for label in row]
        if 1 <= number <= len(labels):
            await self.send(labels[number - 1])
        else:
            self.write.line(t("demo.no_menu", number=number))

    async def wait_for_news(self) -> None:
        with contextlib.suppress(AssertionError):  # a quiet hour: look again
            await self.api.wait_for(lambda: len(self.api.events) > self._seen, 3600.0)


# --------------------------------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------------------------------


def run(options: DemoOptions) -> None:
    asyncio.run(run_demo(options))


def open_data_folder(options: DemoOptions) -> str:
    """The demo's data folder, made (or emptied with --reset) and logged to; returns its encryption key."""
    folder = options.data
    if options.reset:
        remove_demo_data(folder)
    if folder.exists() and (folder / DATABASE).exists() and not is_demo_folder(folder):
        raise DemoError(f"{folder}: holds a database the demo did not make; give the demo a folder of its own")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    (folder / MARKER).touch()
    key = demo_key(folder / KEY_FILE)
    log_to_file(folder / LOG_FILE)
    return key


async def run_demo(options: DemoOptions, out: TextIO | None = None, stdin_fd: int | None = None) -> None:
    write = TerminalWriter.to(out or sys.stdout)
    folder = options.data
    key = open_data_folder(options)
    taxonomy = load_taxonomy()
    fd = sys.stdin.fileno() if stdin_fd is None else stdin_fd
    echo = not os.isatty(fd)
    async with contextlib.AsyncExitStack() as running:  # stopped in reverse: the bot, LINE WORKS, the Bot API
        # Update ids keep growing across runs: the bot remembers processed ids and would drop a repeated one.
        api = LocalBotApi(bot_username="fieldbot_demo_bot", first_update_id=int(time.time() * 1000))
        await running.enter_async_context(api)  # on LINE WORKS too: the bot runs a Telegram bot beside it
        # The note form's pages (and LINE WORKS's callbacks) on this machine: its links open in a browser here.
        port = free_port()
        values: dict[str, Any] = {
            "public_url": f"http://127.0.0.1:{port}",
            "serve_port": port,
            "telegram_bot_token": api.token,
            "telegram_api_base_url": api.base_url,
            "database_path": folder / DATABASE,
            "field_encryption_key": key,
            "admin_telegram_ids": [],
            "taxonomy_file": None,
            "digest_chat_id": None,
            "lineworks_bot_id": None,  # never a real LINE WORKS bot from the environment
            "admin_lineworks_ids": [],
        }
        sim: LineWorksSimulator | None = None
        if options.messenger is Messenger.LINEWORKS:
            sim, lineworks = await running.enter_async_context(lineworks_simulator(port))
            values.update(lineworks, admin_lineworks_ids=admin_ids(options.role))
        settings = load_settings(**values, _env_file=None)
        staff, others = await prepare_database(settings, taxonomy, options.role, write, lineworks=sim is not None)
        for telegram_id in others:
            api.user(telegram_id)  # reminders and digests to the synthetic staff are delivered, unseen
        bot = FieldBot(settings, taxonomy=taxonomy, base_file_url=api.base_file_url, rate_limiter=False)
        chat: TerminalLoop
        if sim is not None:
            chat = LineWorksChat(sim, DEMO_LINEWORKS_USER, write, echo=echo)
        else:
            user = api.user(DEMO_USER_ID, first_name=t("demo.user_first_name"), last_name=t("demo.user_last_name"))
            chat = telegram = TerminalChat(api, user, folder / FILES, write, echo=echo)
            api.update_waiter = telegram.wait_done
            bot.finished_listeners.append(telegram.update_done)
        running.push_async_callback(bot.stop)  # even after a failed start
        await bot.start()
        if isinstance(chat, LineWorksChat):
            if bot.lineworks_workers is None:
                raise DemoError("the bot started without its LINE WORKS workers")
            bot.lineworks_workers.handled.append(chat.update_done)
        listen_to_input(fd, chat.lines)
        role = t(f"role.{staff.role.value}")
        welcome = "demo.lineworks.welcome" if sim is not None else "demo.welcome"
        write.line(t(welcome, name=staff.name, role=role, data=folder))
        await chat.run()
        write.line(t("demo.bye", data=folder))
