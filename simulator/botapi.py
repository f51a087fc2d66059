"""LocalBotApi: an in-process Telegram Bot API server with simulated users, the entry point of the package."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from simulator.faults import Fault
from simulator.media import FileStore, SimFile, image_size, png_bytes
from simulator.methods import BotApiMethods, scope_key
from simulator.model import ApiEvent, CallbackAnswer, CallbackQueryState, SimChat, SimMessage
from simulator.protocol import DEFAULT_TOKEN, DEFAULT_WAIT, MESSAGE_UPDATES, ApiError, JSONDict, Upload
from simulator.server import ApiServer
from simulator.updates import PendingUpdate, UpdateQueue
from simulator.users import SimUser
from simulator.webapp import launch_params
from simulator.webhook import Delivery, Webhook, WebhookDeliverer

# Everything tests, benchmarks and the demo import from here, wherever it is defined.
__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "ApiEvent",
    "CallbackAnswer",
    "CallbackQueryState",
    "Delivery",
    "Fault",
    "LocalBotApi",
    "SimChat",
    "SimFile",
    "SimMessage",
    "SimUser",
    "Upload",
    "Webhook",
    "image_size",
    "launch_params",
    "png_bytes",
]


class LocalBotApi:
    """An in-process Telegram Bot API server on 127.0.0.1 plus simulated users for tests.

    Point PTB at it with ``base_url=api.base_url`` and ``base_file_url=api.base_file_url``.
    ``stop()`` keeps all state; ``start(port=api.port)`` brings the same server back (outage tests).
    Only the methods fieldbot and python-telegram-bot call are answered (simulator/methods.py).
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "fieldbot_test_bot",
        bot_first_name: str = "fieldbot",
        bot_id: int | None = None,
        *,
        now: Callable[[], float] | None = None,
        first_update_id: int = 100_000_001,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.bot_id = bot_id if bot_id is not None else int(token.split(":", 1)[0])
        self._clock: Callable[[], float] = now or time.time
        self.update_waiter: Callable[[int], Awaitable[None]] | None = None
        self.calls: list[tuple[str, JSONDict]] = []
        self.events: list[ApiEvent] = []
        # Called with every event as it happens (benchmarks time them without polling the event list).
        self.listeners: list[Callable[[ApiEvent], None]] = []
        self.faults: list[Fault] = []
        self.users: dict[int, SimUser] = {}
        self.chats: dict[int, SimChat] = {}
        self.files = FileStore(token)
        self.callback_queries: dict[str, CallbackQueryState] = {}
        self.commands_by_scope: dict[tuple[str, str], list[JSONDict]] = {}
        self.updates = UpdateQueue(first_update_id)
        self.seq = 0
        self._next_query = 1
        self._last_reaction: dict[int, int] = {}  # chat id -> seq of the bot's last send/edit/delete there
        self._changed: asyncio.Event | None = None
        self._server = ApiServer(self)
        self._methods = BotApiMethods(self)
        # setWebhook: updates are POSTed to the bot instead of fetched (simulator/webhook.py).
        self.webhook = WebhookDeliverer(self)

    # ---------------------------------------------------------------- lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        await self._server.start(host, port)
        self.webhook.start()

    async def stop(self) -> None:
        await self.webhook.stop()
        await self._server.stop()

    async def __aenter__(self) -> LocalBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._server.port is None:
            raise RuntimeError("LocalBotApi has not been started")
        return self._server.port

    @property
    def base_url(self) -> str:
        return f"http://{self._server.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self._server.host}:{self.port}/file/bot"

    @property
    def running(self) -> bool:
        return self._server.running

    def now(self) -> int:
        return int(self._clock())

    # ---------------------------------------------------------------- test API: people and chats
    def user(
        self,
        user_id: int,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "ja",
    ) -> SimUser:
        """The simulated user with this id (created on first use; its private chat id is user_id)."""
        existing = self.users.get(user_id)
        if existing is not None:
            return existing
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = SimUser(self, user_id, first_name or f"user{user_id}", last_name, username, language_code)
        self.users[user_id] = user
        self.chats[user_id] = user.chat
        return user

    def group(
        self,
        chat_id: int,
        title: str = "group",
        *,
        chat_type: str | None = None,
        username: str | None = None,
    ) -> SimChat:
        """A group (negative id; ids <= -1000000000000 are supergroups) or, with chat_type, a channel."""
        existing = self.chats.get(chat_id)
        if existing is not None:
            return existing
        if chat_id >= 0:
            raise ValueError("group and channel ids are negative")
        kind = chat_type or ("supergroup" if chat_id <= -1_000_000_000_000 else "group")
        chat = SimChat(self, chat_id, kind, title=title, username=username)
        self.chats[chat_id] = chat
        return chat

    def chat(self, chat_id: int) -> SimChat:
        try:
            return self.chats[chat_id]
        except KeyError:
            raise KeyError(f"no simulated chat {chat_id}") from None

    # ---------------------------------------------------------------- test API: faults and calls
    def inject(
        self,
        method: str,
        *,
        status: int = 500,
        times: int = 1,
        retry_after: int | None = None,
        delay: float = 0.0,
        drop: bool = False,
        after_effect: bool = False,
        description: str | None = None,
    ) -> Fault:
        """Make the next `times` calls of `method` fail (times < 0: until clear_faults()).

        retry_after answers 429 with parameters.retry_after; status < 300 with delay makes a slow
        but successful call; drop closes the connection without an answer; after_effect performs
        the call first and still answers with the fault. Method "download" targets file downloads.
        """
        known = self._methods.names | {"download"}
        canonical = next((name for name in known if name.lower() == method.lower()), None)
        if canonical is None:
            raise ValueError(f"unknown Bot API method {method!r} (or one the simulator does not answer)")
        if times == 0:
            raise ValueError("times must be positive (or negative for an unlimited fault)")
        fault = Fault(canonical, status, times, retry_after, delay, drop, after_effect, description)
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def calls_to(self, method: str) -> list[JSONDict]:
        """Parameters of every call of `method` (case-insensitive), oldest first."""
        return [params for name, params in self.calls if name.lower() == method.lower()]

    def count(self, method: str) -> int:
        return len(self.calls_to(method))

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """The commands setMyCommands stored for this scope and language."""
        return list(self.commands_by_scope.get((scope_key(scope), language_code), []))

    def expire_callback_queries(self) -> None:
        """Make all unanswered callback queries too old to answer."""
        for query in self.callback_queries.values():
            query.expired = True

    # ---------------------------------------------------------------- test API: updates
    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by an offset (delivered or not)."""
        return [dict(u.payload) for u in self.updates.pending]

    @property
    def polls_waiting(self) -> int:
        """How many getUpdates requests are currently held open (long polling)."""
        return self.updates.polls_waiting

    @property
    def _updates(self) -> dict[int, PendingUpdate]:
        """Every update ever enqueued, by id (tests read the newest id from it)."""
        return self.updates.by_id

    def redeliver(self, *update_ids: int) -> None:
        """Put already-confirmed updates back in the queue, as Telegram does for a bot that restarted
        before confirming them. Only a poller asking without an offset (a fresh start) receives them."""
        self.updates.redeliver(update_ids)
        self._notify()

    def deliveries(self, update_id: int) -> int:
        """How many getUpdates answers contained this update."""
        update = self.updates.by_id.get(update_id)
        return update.deliveries if update is not None else 0

    # ---------------------------------------------------------------- test API: waiting and reporting
    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109
        *,
        what: str | None = None,
    ) -> None:
        """Wait until predicate() is true, re-checking on every server event; AssertionError on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(self.report(f"Timed out after {timeout}s waiting for {what or 'condition'}"))
            changed = self._event()
            try:
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                pass

    def report(self, headline: str = "LocalBotApi state") -> str:
        """A human readable summary of recent events, calls and pending updates."""
        lines = [headline, "Recent events:"]
        for event in self.events[-20:]:
            text = (event.text or "")[:80]
            lines.append(f"  #{event.seq} {event.kind} chat={event.chat_id} msg={event.message_id} {text!r}")
        if not self.events:
            lines.append("  (none)")
        recent_calls = [name for name, _ in self.calls[-15:]]
        lines.append(f"Recent calls: {recent_calls}")
        if self.webhook.config is not None:
            recent = [(d.update_id, d.status) for d in self.webhook.deliveries[-10:]]
            lines.append(f"Webhook {self.webhook.config.url}: recent deliveries (update, status) {recent}")
        elif not any(name == "getUpdates" for name, _ in self.calls):
            lines.append("getUpdates was never called: is the bot polling this server?")
        pending = [(u.update_id, u.kind, "fetched" if u.fetched_seq else "new") for u in self.updates.pending]
        lines.append(f"Unconfirmed updates: {pending}")
        if self.faults:
            lines.append(f"Armed faults: {self.faults}")
        return "\n".join(lines)

    def bot_user_json(self, *, short: bool = False) -> JSONDict:
        data: JSONDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }
        if not short:
            data.update(
                can_join_groups=True,
                can_read_all_group_messages=True,
                supports_inline_queries=False,
                can_connect_to_business=False,
                has_main_web_app=False,
            )
        return data

    # ---------------------------------------------------------------- internal, for the rest of the package
    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def _notify(self) -> None:
        """Wake every waiter (wait_for, held-open polls); each re-checks what it waits for."""
        old = self._changed
        self._changed = asyncio.Event()
        if old is not None:
            old.set()

    def _emit(self, kind: str, chat_id: int | None, message_id: int | None, text: str | None) -> int:
        self.seq += 1
        event = ApiEvent(kind, chat_id, message_id, text, self.seq)
        self.events.append(event)
        for listener in self.listeners:
            listener(event)
        if kind in ("send", "edit", "delete") and chat_id is not None:
            self._last_reaction[chat_id] = self.seq
        self._notify()
        return self.seq

    def _enqueue(self, kind: str, body: JSONDict, chat_id: int | None) -> PendingUpdate:
        update = self.updates.add(kind, body, chat_id)
        summary = body.get("text") or body.get("data") or kind if isinstance(body, dict) else kind
        message_id = body.get("message_id") if kind in MESSAGE_UPDATES else None
        self._emit("update", chat_id, message_id, f"{update.update_id} {kind}: {summary}")
        return update

    async def _await_reaction(
        self,
        update: PendingUpdate,
        mode: str,
        timeout: float,  # noqa: ASYNC109
        *,
        query: CallbackQueryState | None = None,
    ) -> None:
        """Wait for the bot to be done with an update: update_waiter if set, else by `mode` (answer/reply/fetch)."""
        waiter = self.update_waiter
        if waiter is not None:
            try:
                async with asyncio.timeout(timeout):
                    await waiter(update.update_id)
            except TimeoutError:
                raise AssertionError(
                    self.report(f"Timed out after {timeout}s in update_waiter({update.update_id})")
                ) from None
            return
        if mode == "answer" and query is not None:
            what = f"the bot to answer callback query {query.id} (data {query.data!r})"
            await self.wait_for(lambda: query.answered, timeout, what=what)
        elif mode == "reply" and update.chat_id is not None:
            chat_id = update.chat_id

            def reacted() -> bool:
                fetched = update.fetched_seq
                return fetched is not None and self._last_reaction.get(chat_id, 0) > fetched

            what = f"the bot to react in chat {chat_id} to update {update.update_id}"
            await self.wait_for(reacted, timeout, what=what)
        else:
            what = f"update {update.update_id} to be fetched"
            await self.wait_for(lambda: update.fetched_seq is not None, timeout, what=what)

    def _new_message(
        self,
        chat: SimChat,
        sender: JSONDict,
        *,
        from_bot: bool,
        content: JSONDict,
        inline_markup: JSONDict | None = None,
        reply_keyboard: list[list[str]] | None = None,
    ) -> SimMessage:
        msg = SimMessage(
            self,
            chat,
            chat.new_message_id(),
            sender,
            from_bot=from_bot,
            date=self.now(),
            content=content,
            seq=self.seq + 1 if from_bot else self.seq,  # a bot message's seq is that of its "send" event
        )
        msg.inline_markup = inline_markup
        msg.reply_keyboard = reply_keyboard
        chat.store(msg)
        if from_bot:
            self._emit("send", chat.id, msg.message_id, msg.text or msg.kind)
        return msg

    def _store_raw_message(self, user: SimUser, chat: SimChat, body: JSONDict, *, channel: bool) -> SimMessage:
        """A message from a raw update (SimUser.send_update); one with a known message_id replaces that one."""
        base = {"message_id", "from", "chat", "date", "edit_date", "forward_origin", "reply_to_message"}
        content = {k: v for k, v in body.items() if k not in base}
        sender: JSONDict = {} if channel else dict(body.get("from") or user.to_json())
        existing_id = body.get("message_id")
        existing = chat.message(existing_id) if isinstance(existing_id, int) else None
        if existing is not None:
            existing.content = content
            existing.edit_date = body.get("edit_date", existing.edit_date)
            return existing
        msg = self._new_message(chat, sender, from_bot=False, content=content)
        if isinstance(body.get("date"), int):
            msg.date = body["date"]
        if isinstance(body.get("edit_date"), int):
            msg.edit_date = body["edit_date"]
        if isinstance(body.get("forward_origin"), dict):
            msg.forward_origin = body["forward_origin"]
        if channel:
            msg.extra["sender_chat"] = chat.to_json()
        return msg

    def _new_query_id(self) -> str:
        query_id = str(4_000_000_000_000_000_000 + self._next_query)
        self._next_query += 1
        return query_id
