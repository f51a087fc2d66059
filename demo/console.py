"""The terminal side of the demo's chat, whatever the messenger: output, lines of input, and the prompt loop.

A chat in the terminal (demo/terminal.py for Telegram, demo/lineworks.py for LINE WORKS) says how to show what the
bot sent and how to press a button, type, or press a menu button; this module reads what the person types, tells
those apart the same way for every messenger, and prints messages the bot sends on its own while it waits.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import re
import signal
import threading
import unicodedata
from abc import ABC, abstractmethod
from typing import TextIO

from core.i18n import t

ACTION_TIMEOUT = 120.0  # the first chart renders slowly (matplotlib builds its font cache)
QUIT = frozenset({"q", "/quit"})
MENU_INPUT = re.compile(r"m(\d+)")
AS_TEXT = ("'", "\u2019")  # as in a spreadsheet: what follows is text, even a number (also the IME's ’)


class TerminalWriter:
    """All output goes through here, from the event loop only, flushed at once (the terminal may be a pipe)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    @classmethod
    def to(cls, out: TextIO) -> TerminalWriter:
        """A writer to `out`; a terminal that cannot show Japanese gets "?" rather than a crash."""
        reconfigure = getattr(out, "reconfigure", None)
        if callable(reconfigure):
            reconfigure(errors="replace")
        return cls(out)

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def prompt(self) -> None:
        self.out.write(t("demo.prompt"))
        self.out.flush()


def read_lines(fd: int, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    """In a daemon thread: hand each line of input to the loop; None at the end of input.

    Raw os.read, not sys.stdin: a thread blocked inside the buffered stdin object holds its lock, which the
    interpreter then cannot take at exit. Works the same on a terminal, a pseudo-terminal, a pipe or a file.
    """

    def put(item: str | None) -> bool:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: the demo has ended
            return False
        return True

    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            pending += decoder.decode(b"", final=True)
            if pending.strip():
                put(pending)
            put(None)
            return
        pending += decoder.decode(chunk)
        while "\n" in pending:
            line, pending = pending.split("\n", 1)
            if not put(line.rstrip("\r")):
                return


def listen_to_input(fd: int, queue: asyncio.Queue[str | None]) -> None:
    """Lines typed at `fd` into `queue` (from a daemon thread); Ctrl-C and SIGTERM end the chat as `q` does."""
    loop = asyncio.get_running_loop()
    threading.Thread(target=read_lines, args=(fd, loop, queue), name="demo-stdin", daemon=True).start()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, queue.put_nowait, None)


class TerminalLoop(ABC):
    """The demo user's chat with the bot in this terminal: prompt, read a line, act on it, print what came back."""

    def __init__(self, write: TerminalWriter, *, echo: bool) -> None:
        self.write = write
        self.echo = echo  # input from a pipe is not shown by a terminal: show it, so the output reads as a chat
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._idle = asyncio.Event()

    # ---- what each messenger's chat does
    @abstractmethod
    def render(self) -> bool:
        """Print what the bot sent since the last call; True if anything was printed."""

    @abstractmethod
    def show_controls(self) -> None:
        """Enter alone: the buttons to press now and the menu again."""

    @abstractmethod
    async def press(self, number: int) -> None:
        """A number typed: press that button of the newest message that has buttons."""

    @abstractmethod
    async def press_menu(self, number: int) -> None:
        """m1, m2 …: press that button of the menu."""

    @abstractmethod
    async def send(self, text: str) -> None:
        """Anything else typed: say it to the bot, and wait until the bot has handled it."""

    @abstractmethod
    async def wait_for_news(self) -> None:
        """Until the bot may have sent something (returning early is harmless: nothing new is printed then)."""

    # ---- the loop
    async def handle(self, line: str) -> bool:
        """Act on one line of input; False to quit."""
        text = line.strip()
        key = unicodedata.normalize("NFKC", text).lower()  # full-width ｍ１ from a Japanese input method
        if key in QUIT:
            return False
        if not text:
            self.show_controls()
        elif key[:1] in AS_TEXT and len(text) > 1:
            await self.send(text[1:])  # '12: the number itself, e.g. a headcount, not button 12
        elif key.isdecimal():
            await self.press(int(key))
        elif (menu := MENU_INPUT.fullmatch(key)) is not None:
            await self.press_menu(int(menu.group(1)))
        else:
            await self.send(text)
        return True

    async def watch(self) -> None:
        """Messages the bot sends on its own (reminders, the weekly digest) are printed when they arrive."""
        while True:
            await self.wait_for_news()
            await self._idle.wait()
            if self.render():
                self.write.line()
                self.write.prompt()

    async def run(self) -> None:
        await self.send("/start")
        self.render()
        watcher = asyncio.create_task(self.watch(), name="demo-watch")
        try:
            while True:
                self.write.line()
                self.write.prompt()
                self._idle.set()
                line = await self.lines.get()
                self._idle.clear()
                if line is None:
                    self.write.line()
                    return
                if self.echo:
                    self.write.line(line)
                if not await self.handle(line):
                    return
                self.render()
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
