"""What the simulated Telegram holds: chats, their messages in their current state, callback queries, events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from simulator.media import SimFile
from simulator.protocol import INLINE_BUTTON_ACTIONS, JSONDict, deep_copy

if TYPE_CHECKING:
    from simulator.botapi import LocalBotApi
    from simulator.users import SimUser

# What a message holds, in the order SimMessage.kind looks for it.
MESSAGE_KINDS = (
    "text",
    "photo",
    "document",
    "sticker",
    "location",
    "contact",
    "voice",
    "audio",
    "video",
    "animation",
    "venue",
    "poll",
)


class ApiEvent(NamedTuple):
    """One observable server event.

    kind: send/edit/delete (bot messages), answer (callback answers), update (an update was enqueued),
    fetch (first delivery by getUpdates), fault (an injected fault fired).
    """

    kind: str
    chat_id: int | None
    message_id: int | None
    text: str | None
    seq: int


@dataclass(frozen=True)
class CallbackAnswer:
    text: str | None
    show_alert: bool
    url: str | None


@dataclass
class CallbackQueryState:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answer: CallbackAnswer | None = None
    expired: bool = False

    @property
    def answered(self) -> bool:
        return self.answer is not None


class SimMessage:
    """A message in a simulated chat, always showing its current state (edits applied)."""

    def __init__(
        self,
        api: LocalBotApi,
        chat: SimChat,
        message_id: int,
        sender: JSONDict,
        *,
        from_bot: bool,
        date: int,
        content: JSONDict,
        seq: int,
    ) -> None:
        self.api = api
        self.chat = chat
        self.message_id = message_id
        self.sender = sender
        self.from_bot = from_bot
        self.date = date
        self.content = content
        self.seq = seq
        self.edit_date: int | None = None
        self.deleted = False
        self.inline_markup: JSONDict | None = None
        self.reply_keyboard: list[list[str]] | None = None
        self.forward_origin: JSONDict | None = None
        self.extra: JSONDict = {}

    @property
    def chat_id(self) -> int:
        return self.chat.id

    @property
    def text(self) -> str:
        """The text, or the caption of a photo or document ("" if neither)."""
        value = self.content.get("text", self.content.get("caption"))
        return value if isinstance(value, str) else ""

    @property
    def edited(self) -> bool:
        return self.edit_date is not None

    @property
    def kind(self) -> str:
        return next((key for key in MESSAGE_KINDS if key in self.content), "unknown")

    @property
    def buttons(self) -> list[list[str]]:
        """Rows of button texts of the inline keyboard ([] if none)."""
        return [[str(b.get("text", "")) for b in row] for row in self.inline_rows()]

    @property
    def callback_data(self) -> list[list[str | None]]:
        return [[b.get("callback_data") for b in row] for row in self.inline_rows()]

    @property
    def button_urls(self) -> list[list[str | None]]:
        return [[b.get("url") for b in row] for row in self.inline_rows()]

    @property
    def web_app_urls(self) -> list[list[str | None]]:
        """The URLs of the Mini App (web_app) buttons (None for other buttons)."""
        return [[web_app_url(b) for b in row] for row in self.inline_rows()]

    def inline_rows(self) -> list[list[JSONDict]]:
        if not self.inline_markup:
            return []
        rows = self.inline_markup.get("inline_keyboard", [])
        return [list(row) for row in rows]

    @property
    def document(self) -> SimFile | None:
        doc = self.content.get("document")
        if isinstance(doc, dict):
            return self.api.files.get(str(doc.get("file_id")))
        return None

    @property
    def photo_file(self) -> SimFile | None:
        """The largest size of the photo."""
        sizes = self.content.get("photo")
        if isinstance(sizes, list) and sizes:
            return self.api.files.get(str(sizes[-1].get("file_id")))
        return None

    @property
    def photo(self) -> bytes | None:
        file = self.photo_file
        return file.content if file is not None else None

    def to_json(self) -> JSONDict:
        data: JSONDict = {"message_id": self.message_id}
        if self.sender:
            data["from"] = dict(self.sender)
        data["chat"] = self.chat.to_json()
        data["date"] = self.date
        if self.forward_origin is not None:
            data["forward_origin"] = dict(self.forward_origin)
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        data.update(deep_copy(self.content))
        if self.inline_markup:
            data["reply_markup"] = deep_copy(self.inline_markup)
        data.update(self.extra)
        return data

    def __repr__(self) -> str:
        who = "bot" if self.from_bot else f"user {self.sender.get('id')}"
        flags = " edited" if self.edited else ""
        flags += " deleted" if self.deleted else ""
        buttons = f" buttons={self.buttons}" if self.inline_markup else ""
        return f"<SimMessage {self.chat_id}/{self.message_id} from {who}{flags} {self.text[:60]!r}{buttons}>"


class SimChat:
    """A simulated chat: a private chat of a SimUser, a group, a supergroup or a channel."""

    def __init__(
        self,
        api: LocalBotApi,
        chat_id: int,
        chat_type: str,
        *,
        title: str | None = None,
        username: str | None = None,
        user: SimUser | None = None,
    ) -> None:
        self.api = api
        self.id = chat_id
        self.type = chat_type
        self.title = title
        self.username = username
        self.user = user
        self.members: dict[int, str] = {}
        # "member", "administrator" (may delete what users wrote), "kicked" or "left" (sending is forbidden).
        self.bot_status = "member"
        self.reply_keyboard: list[list[str]] | None = None
        self._messages: dict[int, SimMessage] = {}
        self._next_message_id = 1

    @property
    def history(self) -> list[SimMessage]:
        """All live messages (bot and users), oldest first."""
        return [m for m in self._messages.values() if not m.deleted]

    @property
    def messages(self) -> list[SimMessage]:
        """The bot's live messages in this chat, oldest first, in their current state."""
        return [m for m in self._messages.values() if m.from_bot and not m.deleted]

    @property
    def last(self) -> SimMessage | None:
        messages = self.messages
        return messages[-1] if messages else None

    def message(self, message_id: int) -> SimMessage | None:
        """Any message (bot or user) by id, including deleted ones (check `.deleted`)."""
        return self._messages.get(message_id)

    def bot_messages_after(self, seq: int) -> list[SimMessage]:
        """The bot's messages (deleted ones too) sent after the server event `seq`, oldest first."""
        return [m for m in self._messages.values() if m.from_bot and m.seq > seq]

    def add(self, *users: SimUser, status: str = "member") -> SimChat:
        """Add users as members with the given status (member/administrator/creator/restricted/...)."""
        for user in users:
            self.members[user.id] = status
        return self

    def store(self, message: SimMessage) -> None:
        self._messages[message.message_id] = message

    def new_message_id(self) -> int:
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    def to_json(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "type": self.type}
        if self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
        else:
            data["title"] = self.title or ""
            if self.username:
                data["username"] = self.username
        return data

    def __repr__(self) -> str:
        return f"<SimChat {self.id} {self.type} {self.title or (self.user and self.user.first_name)!r}>"


def button_action(button: JSONDict) -> str:
    """What pressing the button does: its action field, e.g. "callback_data", "url" or "web_app"."""
    return next((key for key in INLINE_BUTTON_ACTIONS if key in button), "none")


def web_app_url(button: JSONDict) -> str | None:
    web_app = button.get("web_app")
    url = web_app.get("url") if isinstance(web_app, dict) else None
    return url if isinstance(url, str) else None


def find_button(chat: SimChat, label: str, message_id: int | None) -> tuple[SimMessage, JSONDict]:
    """The inline button with this label (exact, else a unique partial match), newest message first."""
    if message_id is not None:
        msg = chat.message(message_id)
        if msg is None or msg.deleted:
            raise AssertionError(f"no live message {message_id} in chat {chat.id}")
        candidates = [msg]
    else:
        candidates = list(reversed(chat.messages))
    for exact in (True, False):
        for msg in candidates:
            found = [
                b
                for row in msg.inline_rows()
                for b in row
                if (b.get("text") == label if exact else label in str(b.get("text", "")))
            ]
            if len(found) == 1 or (exact and found):
                return msg, found[0]
            if len(found) > 1:
                names = [b.get("text") for b in found]
                raise AssertionError(f"button label {label!r} is ambiguous in {msg!r}: {names}")
    available = [f"{m.message_id}: {m.buttons}" for m in candidates if m.inline_markup][:5]
    raise AssertionError(
        f"no inline button {label!r} in chat {chat.id}; available keyboards (newest first): {available or 'none'}"
    )
