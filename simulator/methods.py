"""The Bot API methods the simulator answers (those fieldbot and PTB call), checked the way Telegram checks them."""

from __future__ import annotations

import asyncio
import json
import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.media import SimFile, image_size, is_other_image
from simulator.model import CallbackAnswer, SimChat, SimMessage
from simulator.protocol import (
    DELETE_WINDOW_SECONDS,
    INLINE_BUTTON_ACTIONS,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_DOWNLOAD_BYTES,
    MAX_PHOTO_BYTES,
    MAX_TEXT_LENGTH,
    NOT_MODIFIED,
    POLL_CONFLICT,
    QUERY_TOO_OLD,
    ApiError,
    JSONDict,
    Params,
    Upload,
    bad,
    deep_copy,
    forbidden,
    unsupported,
    utf16_len,
)
from simulator.updates import PendingUpdate
from simulator.webapp import is_allowed_web_app_url

if TYPE_CHECKING:
    from simulator.botapi import LocalBotApi

Handler = Callable[[Params], Awaitable[Any]]

# Telegram trims these from both ends of a text or caption.
SPACES = " \t\r\n\v\f"
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


@dataclass
class Markup:
    inline: JSONDict | None = None
    keyboard: list[list[str]] | None = None


def scope_key(scope: Any) -> str:
    if not isinstance(scope, dict) or not scope:
        scope = {"type": "default"}
    return json.dumps(scope, sort_keys=True)


class BotApiMethods:
    """One handler per supported method; any other method is answered 404 like an unknown one."""

    def __init__(self, api: LocalBotApi) -> None:
        self.api = api
        table: list[tuple[str, Handler]] = [
            ("getMe", self.get_me),
            ("getUpdates", self.get_updates),
            ("deleteWebhook", self.delete_webhook),
            ("setWebhook", self.set_webhook),
            ("getWebhookInfo", self.get_webhook_info),
            ("setMyCommands", self.set_my_commands),
            ("sendMessage", self.send_message),
            ("editMessageText", self.edit_message_text),
            ("editMessageReplyMarkup", self.edit_message_reply_markup),
            ("deleteMessage", self.delete_message),
            ("answerCallbackQuery", self.answer_callback_query),
            ("sendDocument", self.send_document),
            ("sendPhoto", self.send_photo),
            ("getFile", self.get_file),
        ]
        # Telegram matches method names case-insensitively.
        self._handlers = {name.lower(): (name, handler) for name, handler in table}

    @property
    def names(self) -> set[str]:
        return {name for name, _ in self._handlers.values()}

    def canonical(self, method: str) -> str | None:
        entry = self._handlers.get(method.lower())
        return entry[0] if entry is not None else None

    async def call(self, name: str, params: JSONDict) -> Any:
        p = Params(params)
        p.refuse_unsupported()
        return await self._handlers[name.lower()][1](p)

    # ---------------------------------------------------------------- bot and updates
    async def get_me(self, p: Params) -> JSONDict:
        return self.api.bot_user_json()

    async def get_updates(self, p: Params) -> list[JSONDict]:
        self.api.webhook.refuse_polling()
        queue = self.api.updates
        offset = p.get_int("offset", 0) or 0
        limit = min(max(p.get_int("limit", 100) or 100, 1), 100)
        timeout = max(p.get_float("timeout", 0.0), 0.0)
        if p.data.get("allowed_updates") is not None:
            queue.allow(p.get_json("allowed_updates", "allowed updates"))
        queue.confirm(offset)
        queue.poll_generation += 1
        self.api._notify()
        ready = await self._wait_for_updates(queue.poll_generation, offset, limit, timeout)
        for update in ready:
            update.deliveries += 1
            if update.fetched_seq is None:
                update.fetched_seq = self.api._emit("fetch", update.chat_id, None, f"{update.update_id} {update.kind}")
        return [deep_copy(u.payload) for u in ready]

    async def _wait_for_updates(
        self,
        generation: int,
        offset: int,
        limit: int,
        timeout: float,  # noqa: ASYNC109
    ) -> list[PendingUpdate]:
        """Long polling: hold the request until updates arrive, the timeout passes or the server stops."""
        queue = self.api.updates
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        closing = self.api._server.closing
        while True:
            if generation != queue.poll_generation:
                raise ApiError(409, POLL_CONFLICT)
            ready = queue.available(offset, limit)
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or (closing is not None and closing.is_set()):
                return ready
            changed = self.api._event()
            queue.polls_waiting += 1
            try:
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                pass
            finally:
                queue.polls_waiting -= 1

    async def delete_webhook(self, p: Params) -> bool:
        # python-telegram-bot's Updater calls this before it starts polling, webhook or not.
        return self.api.webhook.delete_webhook(p)

    async def set_webhook(self, p: Params) -> bool:
        return self.api.webhook.set_webhook(p)

    async def get_webhook_info(self, p: Params) -> JSONDict:
        return self.api.webhook.info()

    async def set_my_commands(self, p: Params) -> bool:
        commands = p.get_json("commands", "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad("can't parse commands JSON object")
        clean: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad("can't parse BotCommand JSON object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not COMMAND_NAME.fullmatch(name.lstrip("/")):
                raise bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name.lstrip("/"), "description": description})
        key = (scope_key(p.get_json("scope", "scope")), p.get_str("language_code") or "")
        if clean:
            self.api.commands_by_scope[key] = clean
        else:
            self.api.commands_by_scope.pop(key, None)
        return True

    # ---------------------------------------------------------------- messages
    async def send_message(self, p: Params) -> JSONDict:
        text = self._text(p, "text", caption=False)
        chat = self._writable_chat(p)
        msg = self._bot_message(chat, {"text": text}, self._markup(p, chat))
        return msg.to_json()

    async def edit_message_text(self, p: Params) -> JSONDict:
        text = self._text(p, "text", caption=False)
        msg = self._editable(p)
        if "text" not in msg.content:
            raise bad("there is no text in the message to edit")
        markup = self._markup(p, msg.chat, inline_only=True)
        content: JSONDict = {"text": text}
        if content == msg.content and markup.inline == msg.inline_markup:
            raise bad(NOT_MODIFIED)
        msg.content = content
        msg.inline_markup = markup.inline
        return self._mark_edited(msg)

    async def edit_message_reply_markup(self, p: Params) -> JSONDict:
        msg = self._editable(p)
        markup = self._markup(p, msg.chat, inline_only=True)
        if markup.inline == msg.inline_markup:
            raise bad(NOT_MODIFIED)
        msg.inline_markup = markup.inline
        return self._mark_edited(msg)

    async def delete_message(self, p: Params) -> bool:
        chat = self._chat_from(p)
        message_id = p.need_int("message_id", "message identifier is not specified")
        msg = chat.message(message_id)
        if msg is None or msg.deleted:
            raise bad("message to delete not found")
        if chat.user is None and not msg.from_bot and chat.bot_status not in ("administrator", "creator"):
            raise bad("message can't be deleted")
        # After 48 hours only the bot's own messages in groups can still be deleted.
        if self.api.now() - msg.date > DELETE_WINDOW_SECONDS and not (chat.user is None and msg.from_bot):
            raise bad("message can't be deleted for everyone")
        msg.deleted = True
        self.api._emit("delete", chat.id, message_id, msg.text or msg.kind)
        return True

    async def answer_callback_query(self, p: Params) -> bool:
        query = self.api.callback_queries.get(p.get_str("callback_query_id") or "")
        if query is None or query.answered or query.expired:
            raise bad(QUERY_TOO_OLD)
        text = p.get_str("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad("MESSAGE_TOO_LONG")
        query.answer = CallbackAnswer(text or None, p.get_bool("show_alert"), p.get_str("url"))
        self.api._emit("answer", query.chat_id, query.message_id, text)
        return True

    # ---------------------------------------------------------------- files
    async def send_document(self, p: Params) -> JSONDict:
        caption = self._text(p, "caption", caption=True)
        chat = self._writable_chat(p)
        markup = self._markup(p, chat)
        upload = self._upload(p, "document")
        mime = upload.content_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(upload.filename, strict=False)[0] or "application/octet-stream"
        file = self.api.files.add("document", upload.content, filename=upload.filename, mime_type=mime)
        return self._send_file(chat, {"document": file.to_json()}, caption, markup)

    async def send_photo(self, p: Params) -> JSONDict:
        caption = self._text(p, "caption", caption=True)
        chat = self._writable_chat(p)
        markup = self._markup(p, chat)
        upload = self._upload(p, "photo")
        if len(upload.content) > MAX_PHOTO_BYTES:
            raise bad("PHOTO_SAVE_FILE_INVALID")
        size = image_size(upload.content)
        if size is None:
            if is_other_image(upload.content):
                raise unsupported("a photo that is not a PNG")
            raise bad("IMAGE_PROCESS_FAILED")
        width, height = size
        if width + height > 10000 or max(width, height) > 20 * min(width, height):
            raise bad("PHOTO_INVALID_DIMENSIONS")
        sizes = self.api.files.add_photo(upload.content, size)
        return self._send_file(chat, {"photo": [f.to_json() for f in sizes]}, caption, markup)

    def _send_file(self, chat: SimChat, content: JSONDict, caption: str, markup: Markup) -> JSONDict:
        if caption:
            content["caption"] = caption
        return self._bot_message(chat, content, markup).to_json()

    async def get_file(self, p: Params) -> JSONDict:
        file: SimFile | None = self.api.files.get(p.get_str("file_id") or "")
        if file is None:
            raise bad("wrong file_id or the file is temporarily unavailable")
        if file.size > MAX_DOWNLOAD_BYTES:
            raise bad("file is too big")
        return {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": file.size,
            "file_path": file.file_path,
        }

    # ---------------------------------------------------------------- checks
    def _chat_from(self, p: Params) -> SimChat:
        raw = p.data.get("chat_id")
        if raw is None or raw == "":
            raise bad("chat_id is empty")
        chat: SimChat | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            chat = self.api.chats.get(raw)
        elif isinstance(raw, str) and raw.startswith("@"):
            chat = next((c for c in self.api.chats.values() if c.username and "@" + c.username == raw), None)
        elif isinstance(raw, str) and re.fullmatch(r"-?\d+", raw):
            chat = self.api.chats.get(int(raw))
        if chat is None:
            raise bad("chat not found")
        return chat

    def _writable_chat(self, p: Params) -> SimChat:
        chat = self._chat_from(p)
        if chat.user is not None:
            if chat.user.blocked:
                raise forbidden("bot was blocked by the user")
            return chat
        kind = {"supergroup": "supergroup chat", "group": "group chat"}.get(chat.type, "channel chat")
        if chat.bot_status == "kicked":
            raise forbidden(f"bot was kicked from the {kind}")
        if chat.bot_status == "left":
            raise forbidden(f"bot is not a member of the {kind}")
        return chat

    def _text(self, p: Params, name: str, *, caption: bool) -> str:
        """The text or caption as Telegram keeps it (trimmed), checked against its limits."""
        text = (p.get_str(name) or "").strip(SPACES)
        if caption:
            if utf16_len(text) > MAX_CAPTION_LENGTH:
                raise bad("message caption is too long")
        else:
            if not text:
                raise bad("message text is empty")
            if utf16_len(text) > MAX_TEXT_LENGTH:
                raise bad("message is too long")
        return text

    def _markup(self, p: Params, chat: SimChat, *, inline_only: bool = False) -> Markup:
        if not p.has("reply_markup"):
            return Markup()
        markup = p.get_json("reply_markup", "reply keyboard markup")
        if not isinstance(markup, dict):
            raise bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return Markup(inline=validate_inline_keyboard(markup, chat))
        if inline_only:
            raise bad("inline keyboard expected")
        for kind in ("remove_keyboard", "force_reply"):
            if kind in markup:
                raise unsupported(kind)
        rows = markup.get("keyboard")
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad("can't parse reply keyboard markup JSON object")
        keyboard = [
            [b if isinstance(b, str) else str(b.get("text", "")) for b in row if isinstance(b, str | dict)]
            for row in rows
        ]
        return Markup(keyboard=keyboard)

    def _bot_message(self, chat: SimChat, content: JSONDict, markup: Markup) -> SimMessage:
        if markup.keyboard is not None:
            chat.reply_keyboard = markup.keyboard
        return self.api._new_message(
            chat,
            self.api.bot_user_json(short=True),
            from_bot=True,
            content=content,
            inline_markup=markup.inline,
            reply_keyboard=markup.keyboard,
        )

    def _editable(self, p: Params) -> SimMessage:
        if p.has("inline_message_id"):
            raise bad("MESSAGE_ID_INVALID")
        chat = self._chat_from(p)
        message_id = p.need_int("message_id", "message identifier is not specified")
        msg = chat.message(message_id)
        if msg is None or msg.deleted:
            raise bad("message to edit not found")
        if not msg.from_bot:
            raise bad("message can't be edited")
        self._writable_chat(p)
        return msg

    def _mark_edited(self, msg: SimMessage) -> JSONDict:
        msg.edit_date = self.api.now()
        self.api._emit("edit", msg.chat_id, msg.message_id, msg.text or msg.kind)
        return msg.to_json()

    def _upload(self, p: Params, name: str) -> Upload:
        value = p.data.get(name)
        if value is None or value == "":
            raise bad(f"there is no {name} in the request")
        if not isinstance(value, Upload):
            raise unsupported("sending a file by file_id or URL")
        if not value.content:
            raise bad("file must be non-empty")
        return value


def validate_inline_keyboard(markup: JSONDict, chat: SimChat) -> JSONDict:
    """The keyboard as Telegram keeps it (empty rows dropped), or Telegram's error for a bad button in this chat."""
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad('can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of Arrays')
    clean_rows: list[list[JSONDict]] = []
    for row in rows:
        clean_row = [validate_inline_button(button, chat) for button in row]
        if clean_row:
            clean_rows.append(clean_row)
    return {"inline_keyboard": clean_rows}


def validate_inline_button(button: Any, chat: SimChat) -> JSONDict:
    if not isinstance(button, dict):
        raise bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad("BUTTON_TEXT_INVALID")
    actions = [key for key in INLINE_BUTTON_ACTIONS if key in button]
    if not actions:
        raise bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        # The Bot API documents "exactly one" action per button; Telegram may quietly keep one of them, which
        # would hide a bot's mistake (and leave the tests unsure what a press does): the simulator refuses.
        raise unsupported(f"an inline keyboard button with more than one action ({', '.join(actions)})")
    data = button.get("callback_data")
    if "callback_data" in button and (
        not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
    ):
        raise bad("BUTTON_DATA_INVALID")
    url = button.get("url")
    if "url" in button and not (isinstance(url, str) and re.match(r"(?i)(https?|tg)://\S", url)):
        raise bad("BUTTON_URL_INVALID")
    if "web_app" in button:
        validate_web_app(button["web_app"], chat)
    return dict(button)


def validate_web_app(web_app: Any, chat: SimChat) -> None:
    """A Mini App button: only in private chats, and only to an https URL.

    Deliberate deviation from Telegram: an http URL on 127.0.0.1, ::1 or localhost is accepted too, since the
    tests and the demo serve the form page on loopback without a certificate (simulator/webapp.py)."""
    if not isinstance(web_app, dict) or not isinstance(web_app.get("url"), str):
        raise bad('can\'t parse inline keyboard button: field "web_app" must be a WebAppInfo with a String "url"')
    if chat.type != "private":
        raise bad("BUTTON_TYPE_INVALID")
    if not is_allowed_web_app_url(web_app["url"]):
        raise bad("BUTTON_URL_INVALID")
