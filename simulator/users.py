"""Simulated people: a SimUser sends messages, files, forwards and edits, and presses buttons, like a Telegram app."""

from __future__ import annotations

import mimetypes
import re
from typing import TYPE_CHECKING

from simulator.media import image_size, png_bytes
from simulator.model import (
    CallbackAnswer,
    CallbackQueryState,
    SimChat,
    SimMessage,
    button_action,
    find_button,
    web_app_url,
)
from simulator.protocol import DEFAULT_WAIT, MESSAGE_UPDATES, JSONDict, deep_copy, utf16_len
from simulator.webapp import init_data, launch_url

if TYPE_CHECKING:
    from simulator.botapi import LocalBotApi

COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
# Update kinds whose body names the user who caused them.
FROM_USER_UPDATES = ("callback_query", "inline_query", "chosen_inline_result", "shipping_query")


class SimUser:
    """A simulated human Telegram user who talks to the bot."""

    def __init__(
        self,
        api: LocalBotApi,
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> None:
        self.api = api
        self.id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.username = username
        self.language_code = language_code
        self.blocked = False
        self.chat = SimChat(api, user_id, "private", user=self)
        self._marks: dict[int, int] = {}

    def to_json(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    # ---------------------------------------------------------------- reading (the private chat)
    @property
    def messages(self) -> list[SimMessage]:
        """The bot's live messages in this user's private chat."""
        return self.chat.messages

    @property
    def last(self) -> SimMessage | None:
        return self.chat.last

    @property
    def keyboard(self) -> list[list[str]] | None:
        """The reply keyboard currently shown in the private chat (None if none)."""
        return self.chat.reply_keyboard

    @property
    def answers(self) -> list[CallbackAnswer]:
        """Answers to this user's callback queries, oldest first."""
        queries = self.api.callback_queries.values()
        return [q.answer for q in queries if q.user_id == self.id and q.answer is not None]

    def _target(self, chat: SimChat | int | None) -> SimChat:
        if chat is None:
            return self.chat
        target = self.api.chat(chat) if isinstance(chat, int) else chat
        if target.type != "private" and target.members.get(self.id) in (None, "left"):
            target.members[self.id] = "member"
        return target

    def _mark(self, chat: SimChat) -> None:
        self._marks[chat.id] = self.api.seq

    # ---------------------------------------------------------------- blocking
    def block(self, *, notify: bool = True) -> None:
        """Block the bot; further sends to this user fail with 403. Emits a my_chat_member update."""
        self.blocked = True
        if notify:
            self._my_chat_member("member", "kicked")

    def unblock(self, *, notify: bool = True) -> None:
        self.blocked = False
        if notify:
            self._my_chat_member("kicked", "member")

    def _my_chat_member(self, old: str, new: str) -> None:
        bot = self.api.bot_user_json(short=True)
        now = self.api.now()
        new_member: JSONDict = {"status": new, "user": bot}
        if new == "kicked":
            new_member["until_date"] = 0
        payload = {
            "chat": self.chat.to_json(),
            "from": self.to_json(),
            "date": now,
            "old_chat_member": {"status": old, "user": bot},
            "new_chat_member": new_member,
        }
        self.api._enqueue("my_chat_member", payload, self.chat.id)

    # ---------------------------------------------------------------- acting
    async def send(
        self,
        text: str,
        *,
        chat: SimChat | int | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109
    ) -> int:
        """Send a text message to the bot and return its update_id.

        With wait, returns after api.update_waiter(update_id) if set, else after the bot's first
        send/edit/delete in this chat once it fetched the update (use wait=False plus api.wait_for
        when the bot reacts elsewhere or not at all).
        """
        if not text.strip():
            raise ValueError("a Telegram client cannot send an empty message")
        target = self._target(chat)
        content: JSONDict = {"text": text}
        entities = client_entities(text)
        if entities:
            content["entities"] = entities
        return await self._post_message(target, content, wait=wait, timeout=timeout)

    async def send_photo(
        self,
        content: bytes | None = None,
        *,
        caption: str | None = None,
        chat: SimChat | int | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109
    ) -> int:
        data = content if content is not None else png_bytes(64, 48)
        size = image_size(data) or (64, 48)
        sizes = self.api.files.add_photo(data, size)
        body: JSONDict = {"photo": [f.to_json() for f in sizes]}
        if caption:
            body["caption"] = caption
        return await self._post_message(self._target(chat), body, wait=wait, timeout=timeout)

    async def send_document(
        self,
        filename: str,
        content: bytes,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        chat: SimChat | int | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109
    ) -> int:
        mime = mime_type or mimetypes.guess_type(filename, strict=False)[0] or "application/octet-stream"
        file = self.api.files.add("document", content, filename=filename, mime_type=mime)
        body: JSONDict = {"document": file.to_json()}
        if caption:
            body["caption"] = caption
        return await self._post_message(self._target(chat), body, wait=wait, timeout=timeout)

    async def send_sticker(
        self,
        emoji: str = "👍",
        *,
        chat: SimChat | int | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109
    ) -> int:
        file = self.api.files.add("sticker", b"RIFF\x00\x00\x00\x00WEBPVP8 ", width=512, height=512)
        sticker = file.to_json()
        sticker["emoji"] = emoji
        return await self._post_message(self._target(chat), {"sticker": sticker}, wait=wait, timeout=timeout)

    async def send_location(
        self,
        latitude: float,
        longitude: float,
        *,
        chat: SimChat | int | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109
    ) -> int:
        body = {"location": {"latitude": latitude, "longitude": longitude}}
        return await self._post_message(self._target(chat), body, wait=wait, timeout=timeout)

    async def send_contact(
        self,
        phone_number: str,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        user_id: int | None = None,
        chat: SimChat | int | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109
    ) -> int:
        """Share a contact; without first_name/user_id it is the user's own contact."""
        contact: JSONDict = {"phone_number": phone_number, "first_name": first_name or self.first_name}
        if last_name or (first_name is None and self.last_name):
            contact["last_name"] = last_name or self.last_name
        contact_user = user_id if user_id is not None else (self.id if first_name is None else None)
        if contact_user is not None:
            contact["user_id"] = contact_user
        return await self._post_message(self._target(chat), {"contact": contact}, wait=wait, timeout=timeout)

    async def forward(
        self,
        text: str,
        *,
        from_user: SimUser | None = None,
        sender_name: str | None = None,
        from_chat: SimChat | None = None,
        date: int | None = None,
        chat: SimChat | int | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109
    ) -> int:
        """Forward a (text) message from someone else (a user, a hidden user or a channel)."""
        origin_date = date if date is not None else self.api.now() - 3600
        origin: JSONDict
        if from_chat is not None:
            origin = {"type": "channel", "chat": from_chat.to_json(), "message_id": 1, "date": origin_date}
        elif sender_name is not None:
            origin = {"type": "hidden_user", "sender_user_name": sender_name, "date": origin_date}
        else:
            who = from_user or self
            origin = {"type": "user", "sender_user": who.to_json(), "date": origin_date}
        return await self._post_message(
            self._target(chat), {"text": text}, forward_origin=origin, wait=wait, timeout=timeout
        )

    async def edit(
        self,
        message_id: int,
        new_text: str,
        *,
        chat: SimChat | int | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109
    ) -> int:
        """Edit one of this user's earlier text messages (an edited_message update)."""
        target = self._target(chat)
        msg = target.message(message_id)
        if msg is None or msg.deleted or msg.from_bot or msg.sender.get("id") != self.id:
            raise AssertionError(f"user {self.id} has no message {message_id} in chat {target.id} to edit")
        msg.content["text"] = new_text
        entities = client_entities(new_text)
        if entities:
            msg.content["entities"] = entities
        else:
            msg.content.pop("entities", None)
        msg.edit_date = self.api.now()
        update = self.api._enqueue("edited_message", msg.to_json(), target.id)
        self._mark(target)
        if wait:
            await self.api._await_reaction(update, "reply", timeout)
        return update.update_id

    async def send_update(
        self,
        payload: JSONDict,
        *,
        chat: SimChat | int | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109
    ) -> int:
        """Enqueue a raw update such as {"message": {...}}; missing ids, dates, chat and from are filled in."""
        kinds = [key for key in payload if key != "update_id"]
        if len(kinds) != 1:
            raise ValueError(f"an update needs exactly one update type key, got {kinds}")
        kind = kinds[0]
        body = deep_copy(payload[kind])
        chat_id: int | None = None
        chat_info = body.get("chat") if isinstance(body, dict) else None
        if chat is None and isinstance(chat_info, dict) and isinstance(chat_info.get("id"), int):
            chat = self.api.chat(chat_info["id"])
        target = self._target(chat)
        query: CallbackQueryState | None = None
        if kind in MESSAGE_UPDATES and isinstance(body, dict):
            msg = self.api._store_raw_message(self, target, body, channel=kind.endswith("channel_post"))
            body = msg.to_json()
            chat_id = target.id
        elif isinstance(body, dict):
            query = self._complete_raw_update(kind, body, target)
            info = body.get("chat") or (body.get("message") or {}).get("chat")
            if isinstance(info, dict) and isinstance(info.get("id"), int):
                chat_id = info["id"]
        update = self.api._enqueue(kind, body, chat_id)
        if chat_id is not None:
            self._mark(self.api.chats.get(chat_id, target))
        if wait:
            mode = "answer" if query is not None else "reply" if chat_id is not None else "fetch"
            await self.api._await_reaction(update, mode, timeout, query=query)
        return update.update_id

    def _complete_raw_update(self, kind: str, body: JSONDict, chat: SimChat) -> CallbackQueryState | None:
        """Add what Telegram adds to such an update (its sender, a query id); a callback query is registered."""
        if kind in FROM_USER_UPDATES:
            body.setdefault("from", self.to_json())
        if kind != "callback_query":
            return None
        body.setdefault("id", self.api._new_query_id())
        body.setdefault("chat_instance", chat_instance(chat.id))
        message = body.get("message")
        message_id = int(message.get("message_id", 0)) if isinstance(message, dict) else 0
        query = CallbackQueryState(str(body["id"]), self.id, chat.id, message_id, str(body.get("data", "")))
        self.api.callback_queries[query.id] = query
        return query

    async def press(
        self,
        label: str,
        *,
        message_id: int | None = None,
        chat: SimChat | int | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109
    ) -> str | None:
        """Press an inline button by its text; returns the text of the bot's callback answer."""
        target = self._target(chat)
        msg, button = find_button(target, label, message_id)
        if button_action(button) == "web_app":
            raise AssertionError(
                f"button {button.get('text')!r} in {msg!r} is a web_app (Mini App) button: pressing it sends the bot "
                "nothing and opens a page; use open_web_app()"
            )
        data = button.get("callback_data")
        if not isinstance(data, str):
            raise AssertionError(f"button {button.get('text')!r} in {msg!r} has no callback_data: {button}")
        return await self._press(target, msg, data, wait=wait, timeout=timeout)

    def open_web_app(self, label: str, *, message_id: int | None = None, auth_date: int | None = None) -> str:
        """Press a Mini App (web_app) button of the private chat, as a Telegram app does: no update reaches the
        bot; returns the URL the app opens, the button's URL with the launch parameters in its fragment
        (`#tgWebAppData=<initData>&tgWebAppVersion=…&tgWebAppPlatform=…`; simulator.webapp.launch_params reads
        them back). initData is this user's, signed with the bot's token, dated auth_date (default: api.now())."""
        url = self._web_app_button(label, message_id)
        return launch_url(url, self.web_app_init_data(label, message_id=message_id, auth_date=auth_date))

    def web_app_init_data(self, label: str, *, message_id: int | None = None, auth_date: int | None = None) -> str:
        """Just the initData string open_web_app would put in the URL (a fresh query_id each time)."""
        self._web_app_button(label, message_id)
        when = auth_date if auth_date is not None else self.api.now()
        return init_data(self.api.token, self.to_json(), auth_date=when)

    def _web_app_button(self, label: str, message_id: int | None) -> str:
        msg, button = find_button(self.chat, label, message_id)
        url = web_app_url(button)
        if url is None:
            raise AssertionError(
                f"button {button.get('text')!r} in {msg!r} is not a web_app (Mini App) button: "
                f"it is a {button_action(button)} button"
            )
        return url

    async def press_data(
        self,
        message_id: int,
        data: str,
        *,
        chat: SimChat | int | None = None,
        wait: bool = True,
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109
    ) -> str | None:
        """Send a callback query with arbitrary (possibly forged) data for a message."""
        target = self._target(chat)
        msg = target.message(message_id)
        if msg is None or msg.deleted:
            raise AssertionError(f"no live message {message_id} in chat {target.id}")
        return await self._press(target, msg, data, wait=wait, timeout=timeout)

    async def _press(
        self,
        chat: SimChat,
        msg: SimMessage,
        data: str,
        *,
        wait: bool,
        timeout: float,  # noqa: ASYNC109
    ) -> str | None:
        query = CallbackQueryState(self.api._new_query_id(), self.id, chat.id, msg.message_id, data)
        self.api.callback_queries[query.id] = query
        body = {
            "id": query.id,
            "from": self.to_json(),
            "message": msg.to_json(),
            "chat_instance": chat_instance(chat.id),
            "data": data,
        }
        update = self.api._enqueue("callback_query", body, chat.id)
        self._mark(chat)
        if wait:
            await self.api._await_reaction(update, "answer", timeout, query=query)
        return query.answer.text if query.answer is not None else None

    async def _post_message(
        self,
        chat: SimChat,
        content: JSONDict,
        *,
        forward_origin: JSONDict | None = None,
        wait: bool,
        timeout: float,  # noqa: ASYNC109
    ) -> int:
        msg = self.api._new_message(chat, self.to_json(), from_bot=False, content=content)
        msg.forward_origin = forward_origin
        update = self.api._enqueue("message", msg.to_json(), chat.id)
        self._mark(chat)
        if wait:
            await self.api._await_reaction(update, "reply", timeout)
        return update.update_id

    async def wait_message(
        self,
        count: int = 1,
        *,
        chat: SimChat | int | None = None,
        timeout: float = DEFAULT_WAIT,  # noqa: ASYNC109
    ) -> list[SimMessage]:
        """Wait until `count` bot messages arrived in the chat since this user's last action
        (send/press/...) or the previous wait_message; returns them."""
        target = self._target(chat)
        base = self._marks.get(target.id, 0)

        def fresh() -> list[SimMessage]:
            return target.bot_messages_after(base)

        await self.api.wait_for(
            lambda: len(fresh()) >= count,
            timeout,
            what=f"{count} new bot message(s) in chat {target.id}",
        )
        got = fresh()[:count]
        self._marks[target.id] = got[-1].seq
        return got

    def __repr__(self) -> str:
        return f"<SimUser {self.id} {self.first_name!r}>"


def client_entities(text: str) -> list[JSONDict]:
    """Entities a Telegram client/server adds to user text: a bot_command at offset 0."""
    match = COMMAND.match(text)
    if not match:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))}]


def chat_instance(chat_id: int) -> str:
    return str((chat_id * 2654435761) % (2**62))
