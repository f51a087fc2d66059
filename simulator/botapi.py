"""Embedded local Telegram Bot API server with simulated human users, for end-to-end tests."""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import json
import mimetypes
import re
import string
import struct
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, NamedTuple

from aiohttp import web

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "ApiEvent",
    "CallbackAnswer",
    "CallbackQueryState",
    "Fault",
    "LocalBotApi",
    "SimChat",
    "SimFile",
    "SimMessage",
    "SimUser",
    "Upload",
    "image_size",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "png_bytes",
]

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "123456789:AAH-local-test-token-0123456789abcdef"
DEFAULT_WAIT = 10.0

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
DELETE_WINDOW_SECONDS = 48 * 3600

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
POLL_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)

# Update types that are not delivered unless explicitly listed in allowed_updates.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
MESSAGE_UPDATES = frozenset({"message", "edited_message", "channel_post", "edited_channel_post", "business_message"})
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
INLINE_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
# Parameters that are always strings, even when they look like JSON (e.g. text="123").
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "file_id",
        "url",
        "title",
        "description",
        "short_description",
        "name",
        "action",
        "language_code",
        "inline_message_id",
        "secret_token",
        "ip_address",
        "business_connection_id",
        "message_effect_id",
        "emoji",
        "question",
        "address",
        "first_name",
        "last_name",
        "phone_number",
        "vcard",
        "custom_title",
        "document",
        "photo",
        "audio",
        "video",
        "animation",
        "voice",
        "video_note",
        "sticker",
        "thumbnail",
    }
)
# Telegram's own names of entity types, as used in its MarkdownV2 error messages.
_MD2_TYPE_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}
_SPACES = " \t\r\n\v\f"
_KNOWN_URL_SCHEMES = frozenset({"http", "https", "tg", "ftp", "ton"})


# --------------------------------------------------------------------------------------------------
# Errors, small value types
# --------------------------------------------------------------------------------------------------


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status plus the description Telegram would give."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _forbidden(description: str) -> ApiError:
    return ApiError(403, f"Forbidden: {description}")


class ApiEvent(NamedTuple):
    """One observable server event.

    kind: send/edit/delete (bot messages), answer (callback answers), action (chat actions), pin,
    update (an update was enqueued), fetch (first delivery by getUpdates), fault (an injected fault fired).
    """

    kind: str
    chat_id: int | None
    message_id: int | None
    text: str | None
    seq: int


@dataclass(frozen=True)
class Upload:
    """A file uploaded by the client in a multipart request."""

    filename: str
    content: bytes
    content_type: str


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


@dataclass
class Fault:
    """A fault armed with LocalBotApi.inject(); `hits` counts how often it fired."""

    method: str
    status: int = 500
    times: int = 1
    retry_after: int | None = None
    delay: float = 0.0
    drop: bool = False
    after_effect: bool = False
    description: str | None = None
    hits: int = 0


@dataclass
class SimFile:
    """A stored file (uploaded by the bot or sent by a simulated user)."""

    file_id: str
    file_unique_id: str
    kind: str
    content: bytes
    file_path: str
    filename: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    photo_set: list[SimFile] = field(default_factory=list, repr=False)

    @property
    def size(self) -> int:
        return len(self.content)

    def to_json(self) -> JSONDict:
        data: JSONDict = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.kind == "photo":
            data.update(width=self.width, height=self.height, file_size=self.size)
            return data
        if self.kind == "sticker":
            data.update(
                type="regular",
                width=self.width or 512,
                height=self.height or 512,
                is_animated=False,
                is_video=False,
                file_size=self.size,
            )
            return data
        if self.filename is not None:
            data["file_name"] = self.filename
        if self.mime_type is not None:
            data["mime_type"] = self.mime_type
        data["file_size"] = self.size
        return data


@dataclass
class _PendingUpdate:
    update_id: int
    kind: str
    payload: JSONDict
    chat_id: int | None
    fetched_seq: int | None = None
    deliveries: int = 0


# --------------------------------------------------------------------------------------------------
# Text helpers: UTF-16 offsets, HTML / MarkdownV2 / Markdown parsing like Telegram
# --------------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _utf16_prefix(text: str) -> list[int]:
    prefix = [0]
    for ch in text:
        prefix.append(prefix[-1] + (2 if ord(ch) > 0xFFFF else 1))
    return prefix


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


class _Span(NamedTuple):
    type: str
    start: int  # code point index into the plain text
    end: int
    extra: JSONDict


def _parse_error(message: str) -> ApiError:
    return _bad(f"can't parse entities: {message}")


def _check_url(url: str) -> str | None:
    """Return the normalized URL of a text link, or None if Telegram would drop it."""
    url = url.strip()
    if not url:
        return None
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if match:
        return url if match.group(1).lower() in _KNOWN_URL_SCHEMES and len(url) > len(match.group(0)) else None
    if re.match(r"^[\w-]+(\.[\w-]+)*\.[A-Za-z]{2,}(?::\d+)?([/?#].*)?$", url):
        return "http://" + url
    return None


def _decode_html_entity(text: str, pos: int) -> tuple[str, int] | None:
    n = len(text)
    end = pos + 1
    if end < n and text[end] == "#":
        end += 1
        value = 0
        if end < n and text[end] == "x":
            end += 1
            start = end
            while end < n and text[end] in string.hexdigits:
                end += 1
            value = int(text[start:end], 16) if end > start else 0
        else:
            start = end
            while end < n and text[end] in string.digits:
                end += 1
            value = int(text[start:end]) if end > start else 0
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None
        if 0xD800 <= value <= 0xDFFF:
            raise _bad(
                "can't parse entities: Text contains invalid Unicode characters after decoding HTML "
                "entities, check for unmatched surrogate code units"
            )
        char = chr(value)
    else:
        start = end
        while end < n and text[end] in string.ascii_letters:
            end += 1
        named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}.get(text[start:end])
        if named is None:
            return None
        char = named
    if end < n and text[end] == ";":
        end += 1
    return char, end


_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "pre",
        "code",
        "tg-spoiler",
        "span",
        "tg-emoji",
        "blockquote",
    }
)
_HTML_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}


def _parse_html_spans(text: str) -> tuple[str, list[_Span]]:
    out: list[str] = []
    spans: list[_Span] = []
    stack: list[tuple[str, dict[str, str], int]] = []
    n = len(text)
    i = 0

    def offset(index: int) -> int:
        return _byte_offset(text, index)

    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_html_entity(text, i)
            if decoded is not None:
                out.append(decoded[0])
                i = decoded[1]
                continue
        if c != "<":
            out.append(c)
            i += 1
            continue
        begin = i
        i += 1
        if i >= n or text[i] != "/":
            while i < n and text[i] not in _SPACES and text[i] != ">":
                i += 1
            if i >= n:
                raise _parse_error(f"Unclosed start tag at byte offset {offset(begin)}")
            tag = text[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise _parse_error(f'Unsupported start tag "{tag}" at byte offset {offset(begin)}')
            attrs: dict[str, str] = {}
            while True:
                while i < n and text[i] in _SPACES:
                    i += 1
                if i >= n:
                    raise _parse_error(f"Unclosed start tag at byte offset {offset(begin)}")
                if text[i] == ">":
                    break
                attr_begin = i
                while i < n and text[i] not in _SPACES and text[i] not in "=>":
                    i += 1
                name = text[attr_begin:i]
                if not name:
                    raise _parse_error(f'Empty attribute name in the tag "{tag}" at byte offset {offset(begin)}')
                while i < n and text[i] in _SPACES:
                    i += 1
                if i < n and text[i] != "=" and name == "expandable" and tag == "blockquote":
                    attrs[name] = ""
                    continue
                if i >= n or text[i] != "=":
                    raise _parse_error(
                        f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                        f"at byte offset {offset(begin)}"
                    )
                i += 1
                while i < n and text[i] in _SPACES:
                    i += 1
                if i >= n:
                    raise _parse_error(f'Unclosed start tag "{tag}" at byte offset {offset(begin)}')
                if text[i] not in "'\"":
                    token_begin = i
                    while i < n and (text[i] in string.ascii_letters + string.digits or text[i] in ".-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if i < n and text[i] not in _SPACES and text[i] != ">":
                        raise _parse_error(f"Unexpected end of name token at byte offset {offset(token_begin)}")
                else:
                    quote = text[i]
                    i += 1
                    chars: list[str] = []
                    while i < n and text[i] != quote:
                        if text[i] == "&":
                            decoded = _decode_html_entity(text, i)
                            if decoded is not None:
                                chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        chars.append(text[i])
                        i += 1
                    if i < n:
                        i += 1
                    value = "".join(chars)
                if i >= n:
                    raise _parse_error(f"Unclosed start tag at byte offset {offset(begin)}")
                attrs[name] = value
            i += 1  # skip '>'
            if tag == "span" and attrs.get("class") != "tg-spoiler":
                raise _parse_error(f'Tag "span" must have class "tg-spoiler" at byte offset {offset(begin)}')
            stack.append((tag, attrs, len(out)))
            continue
        # An end tag.
        if not stack:
            raise _parse_error(f"Unexpected end tag at byte offset {offset(begin)}")
        while i < n and text[i] not in _SPACES and text[i] != ">":
            i += 1
        end_name = text[begin + 2 : i]
        while i < n and text[i] in _SPACES:
            i += 1
        if i >= n or text[i] != ">":
            raise _parse_error(f"Unclosed end tag at byte offset {offset(begin)}")
        i += 1
        tag, attrs, start = stack.pop()
        if end_name and end_name != tag:
            raise _parse_error(
                f'Unmatched end tag at byte offset {offset(begin)}, expected "</{tag}>", found "</{end_name}>"'
            )
        end = len(out)
        if end <= start:
            continue
        if tag in _HTML_SIMPLE:
            spans.append(_Span(_HTML_SIMPLE[tag], start, end, {}))
        elif tag == "a":
            url = attrs.get("href") or "".join(out[start:end])
            checked = _check_url(url)
            if checked is not None:
                spans.append(_Span("text_link", start, end, {"url": checked}))
        elif tag == "code":
            language = attrs.get("class", "")
            language = language[len("language-") :] if language.startswith("language-") else ""
            last = spans[-1] if spans else None
            if last and last.type == "pre" and (last.start, last.end) == (start, end) and language:
                spans[-1] = _Span("pre", start, end, {"language": language})
            else:
                spans.append(_Span("code", start, end, {"language": language} if language else {}))
        elif tag == "pre":
            last = spans[-1] if spans else None
            if last and last.type == "code" and (last.start, last.end) == (start, end) and last.extra:
                spans[-1] = _Span("pre", start, end, dict(last.extra))
            else:
                spans.append(_Span("pre", start, end, {}))
        elif tag == "tg-emoji":
            emoji_id = attrs.get("emoji-id")
            if emoji_id:
                spans.append(_Span("custom_emoji", start, end, {"custom_emoji_id": emoji_id}))
        elif tag == "blockquote":
            kind = "expandable_blockquote" if "expandable" in attrs else "blockquote"
            spans.append(_Span(kind, start, end, {}))
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    spans = [s if s.type != "code" else _Span("code", s.start, s.end, {}) for s in spans]
    return "".join(out), spans


def _parse_markdown_v2_spans(text: str) -> tuple[str, list[_Span]]:
    out: list[str] = []
    spans: list[_Span] = []
    stack: list[tuple[str, int, int, str]] = []  # type, start, byte offset, argument
    quote_start: int | None = None
    n = len(text)
    i = 0

    def at(index: int) -> str:
        return text[index] if index < n else ""

    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.append(text[i + 1])
            i += 2
            continue
        top = stack[-1][0] if stack else None
        in_code = top in ("code", "pre")
        if not in_code and c == ">" and (i == 0 or text[i - 1] == "\n"):
            if quote_start is None:
                quote_start = len(out)
            i += 1
            continue
        if c == "\n" and quote_start is not None and at(i + 1) != ">":
            if len(out) > quote_start:
                spans.append(_Span("blockquote", quote_start, len(out), {}))
            quote_start = None
        reserved = "`" if in_code else "_*[]()~`>#+-=|{}.!"
        if c not in reserved:
            out.append(c)
            i += 1
            continue
        is_end = False
        if top is not None:
            is_end = {
                "bold": c == "*",
                "italic": c == "_" and at(i + 1) != "_",
                "code": c == "`",
                "pre": c == "`" and at(i + 1) == "`" and at(i + 2) == "`",
                "text_link": c == "]",
                "custom_emoji": c == "]",
                "underline": c == "_" and at(i + 1) == "_",
                "strikethrough": c == "~",
                "spoiler": c == "|" and at(i + 1) == "|",
            }[top]
        if not is_end:
            byte_offset = _byte_offset(text, i)
            argument = ""
            if c == "_":
                if at(i + 1) == "_":
                    kind = "underline"
                    i += 1
                else:
                    kind = "italic"
            elif c == "*":
                kind = "bold"
            elif c == "~":
                kind = "strikethrough"
            elif c == "|" and at(i + 1) == "|":
                kind = "spoiler"
                i += 1
            elif c == "[":
                kind = "text_link"
            elif c == "!" and at(i + 1) == "[":
                kind = "custom_emoji"
                i += 1
            elif c == "`":
                if at(i + 1) == "`" and at(i + 2) == "`":
                    i += 3
                    language_end = i
                    while language_end < n and text[language_end] not in _SPACES and text[language_end] != "`":
                        language_end += 1
                    if i != language_end and language_end < n and text[language_end] != "`":
                        argument = text[i:language_end]
                        i = language_end
                    if at(i) in ("\n", "\r"):
                        i += 2 if at(i + 1) in ("\n", "\r") and at(i) != at(i + 1) else 1
                    stack.append(("pre", len(out), byte_offset, argument))
                    continue
                kind = "code"
            else:
                raise _parse_error(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
            stack.append((kind, len(out), byte_offset, argument))
            i += 1
            continue
        kind, start, byte_offset, argument = stack.pop()
        skip = len(out) == start
        extra: JSONDict = {}
        if kind in ("underline", "spoiler"):
            i += 2
        elif kind == "pre":
            i += 3
            if argument:
                extra = {"language": argument}
        elif kind in ("text_link", "custom_emoji"):
            if at(i + 1) == "(":
                i += 2
                url_begin = i
                url_chars: list[str] = []
                while i < n and text[i] != ")":
                    if text[i] == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
                        url_chars.append(text[i + 1])
                        i += 2
                        continue
                    url_chars.append(text[i])
                    i += 1
                if i >= n:
                    raise _parse_error(f"Can't find end of a URL at byte offset {_byte_offset(text, url_begin)}")
                url = "".join(url_chars)
            else:
                url = "".join(out[start:])
            i += 1
            if kind == "custom_emoji":
                match = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
                if not match:
                    raise _parse_error("Custom emoji entity must contain a tg://emoji URL")
                extra = {"custom_emoji_id": match.group(1)}
            else:
                checked = _check_url(url)
                if checked is None:
                    skip = True
                else:
                    extra = {"url": checked}
        else:
            i += 1
        if not skip:
            spans.append(_Span(kind, start, len(out), extra))
    if stack:
        kind, _, byte_offset, _ = stack[-1]
        raise _parse_error(f"Can't find end of {_MD2_TYPE_NAMES[kind]} entity at byte offset {byte_offset}")
    if quote_start is not None and len(out) > quote_start:
        spans.append(_Span("blockquote", quote_start, len(out), {}))
    return "".join(out), spans


def _parse_markdown_spans(text: str) -> tuple[str, list[_Span]]:
    """Legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    out: list[str] = []
    spans: list[_Span] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            i += 1
            continue
        begin_error = _parse_error(f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}")
        start = len(out)
        if c == "[":
            close = text.find("]", i + 1)
            if close < 0:
                raise begin_error
            out.extend(text[i + 1 : close])
            i = close + 1
            if i < n and text[i] == "(":
                url_end = text.find(")", i + 1)
                if url_end < 0:
                    raise begin_error
                checked = _check_url(text[i + 1 : url_end])
                i = url_end + 1
                if checked is not None and len(out) > start:
                    spans.append(_Span("text_link", start, len(out), {"url": checked}))
            continue
        if text.startswith("```", i):
            close = text.find("```", i + 3)
            if close < 0:
                raise begin_error
            body = text[i + 3 : close]
            language = ""
            first, newline, rest = body.partition("\n")
            if newline and first and not any(ch in _SPACES for ch in first):
                language, body = first, rest
            out.extend(body)
            if len(out) > start:
                spans.append(_Span("pre", start, len(out), {"language": language} if language else {}))
            i = close + 3
            continue
        close = text.find(c, i + 1)
        if close < 0:
            raise begin_error
        out.extend(text[i + 1 : close])
        if len(out) > start:
            spans.append(_Span({"*": "bold", "_": "italic", "`": "code"}[c], start, len(out), {}))
        i = close + 1
    return "".join(out), spans


def _finalize(text: str, spans: Iterable[_Span]) -> tuple[str, list[JSONDict]]:
    """Trim surrounding whitespace like Telegram and convert spans to UTF-16 based entities."""
    stripped = text.strip(_SPACES)
    lead = len(text) - len(text.lstrip(_SPACES))
    prefix = _utf16_prefix(stripped)
    entities: list[JSONDict] = []
    for span in spans:
        start = max(span.start - lead, 0)
        end = min(span.end - lead, len(stripped))
        if end <= start:
            continue
        entity: JSONDict = {"type": span.type, "offset": prefix[start], "length": prefix[end] - prefix[start]}
        entity.update(span.extra)
        entities.append(entity)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return stripped, entities


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML into plain text and entities; raises ApiError like Telegram."""
    plain, spans = _parse_html_spans(text)
    return _finalize(plain, spans)


def parse_markdown_v2(text: str) -> tuple[str, list[JSONDict]]:
    """Parse MarkdownV2 into plain text and entities; raises ApiError like Telegram."""
    plain, spans = _parse_markdown_v2_spans(text)
    return _finalize(plain, spans)


def parse_markdown(text: str) -> tuple[str, list[JSONDict]]:
    """Parse legacy Markdown into plain text and entities; raises ApiError like Telegram."""
    plain, spans = _parse_markdown_spans(text)
    return _finalize(plain, spans)


def _spans_from_entities(text: str, entities: Any) -> list[_Span]:
    if not isinstance(entities, list):
        raise _bad("can't parse entities JSON object")
    prefix = _utf16_prefix(text)
    spans: list[_Span] = []
    for entity in entities:
        if not isinstance(entity, dict):
            raise _bad("can't parse MessageEntity: Object expected as MessageEntity")
        kind, offset, length = entity.get("type"), entity.get("offset"), entity.get("length")
        if not isinstance(kind, str) or not isinstance(offset, int) or not isinstance(length, int):
            raise _bad('can\'t parse MessageEntity: Field "type", "offset" or "length" is invalid')
        if offset < 0 or length <= 0:
            continue
        start = bisect.bisect_left(prefix, offset)
        end = bisect.bisect_left(prefix, offset + length)
        extra = {k: v for k, v in entity.items() if k not in ("type", "offset", "length")}
        spans.append(_Span(kind, min(start, len(text)), min(end, len(text)), extra))
    return spans


# --------------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------------


def png_bytes(width: int = 1, height: int = 1, rgb: tuple[int, int, int] = (255, 255, 255)) -> bytes:
    """Return a valid PNG image of the given size (for sendPhoto tests)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, JPEG or WebP image, or None if it is not one."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker in (0xD8, 0x01, 0xFF) or 0xD0 <= marker <= 0xD7:
                i += 1 if marker == 0xFF else 2
                continue
            (segment_length,) = struct.unpack(">H", data[i + 2 : i + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + int(segment_length)
        return None
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8X":
            return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return int(width) & 0x3FFF, int(height) & 0x3FFF
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _photo_sizes(width: int, height: int) -> list[tuple[int, int]]:
    longest = max(width, height)
    boxes = [box for box in (90, 320, 800) if longest > box] + [min(longest, 1280)]
    return [(max(1, round(width * box / longest)), max(1, round(height * box / longest))) for box in boxes]


# --------------------------------------------------------------------------------------------------
# Request parameters
# --------------------------------------------------------------------------------------------------


def _normalize_param(name: str, value: Any) -> Any:
    """Decode JSON-encoded form values the way Telegram does (PTB JSON-encodes non-strings)."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "replace")
    if not isinstance(value, str) or name in STRING_PARAMS or not value:
        return value
    if value[0] not in '[{-0123456789tfn"':
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return value if isinstance(decoded, str) else decoded


class _Params:
    def __init__(self, data: JSONDict) -> None:
        self.data = data

    def has(self, name: str) -> bool:
        return self.data.get(name) not in (None, "")

    def get_str(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        raise _bad(f'field "{name}" must be of type String')

    def get_int(self, name: str, default: int | None = None) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise _bad(f'field "{name}" must be of type Integer')

    def need_int(self, name: str, missing: str) -> int:
        value = self.get_int(name)
        if value is None:
            raise _bad(missing)
        return value

    def get_float(self, name: str, default: float) -> float:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad(f'field "{name}" must be of type Float') from None

    def get_bool(self, name: str) -> bool:
        value = self.data.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def get_json(self, name: str, what: str) -> Any:
        value = self.data.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {what} JSON object") from None
        return value


@dataclass
class _Markup:
    inline: JSONDict | None = None
    keyboard: list[list[str]] | None = None
    remove: bool = False
    force_reply: bool = False
    raw: JSONDict | None = None


# --------------------------------------------------------------------------------------------------
# Simulated chats, messages and users
# --------------------------------------------------------------------------------------------------


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
        self.raw_text: str | None = None
        self.parse_mode: str | None = None
        self.inline_markup: JSONDict | None = None
        self.reply_markup_sent: JSONDict | None = None
        self.reply_keyboard: list[list[str]] | None = None
        self.remove_keyboard = False
        self.force_reply = False
        self.reply_to: SimMessage | None = None
        self.forward_origin: JSONDict | None = None
        self.disable_notification = False
        self.protect_content = False
        self.link_preview_options: JSONDict | None = None
        self.message_thread_id: int | None = None
        self.extra: JSONDict = {}

    @property
    def chat_id(self) -> int:
        return self.chat.id

    @property
    def text(self) -> str:
        """Plain text (or caption) as a Telegram client shows it (markup parsed, entities separate)."""
        value = self.content.get("text", self.content.get("caption"))
        return value if isinstance(value, str) else ""

    @property
    def caption(self) -> str | None:
        value = self.content.get("caption")
        return value if isinstance(value, str) else None

    @property
    def entities(self) -> list[JSONDict]:
        value = self.content.get("entities", self.content.get("caption_entities", []))
        return list(value) if isinstance(value, list) else []

    @property
    def edited(self) -> bool:
        return self.edit_date is not None

    @property
    def kind(self) -> str:
        for key in (
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
        ):
            if key in self.content:
                return key
        return "unknown"

    @property
    def buttons(self) -> list[list[str]]:
        """Rows of button texts of the inline keyboard ([] if none)."""
        return [[str(b.get("text", "")) for b in row] for row in self._inline_rows()]

    @property
    def callback_data(self) -> list[list[str | None]]:
        return [[b.get("callback_data") for b in row] for row in self._inline_rows()]

    @property
    def button_urls(self) -> list[list[str | None]]:
        return [[b.get("url") for b in row] for row in self._inline_rows()]

    def _inline_rows(self) -> list[list[JSONDict]]:
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
        sizes = self.content.get("photo")
        if isinstance(sizes, list) and sizes:
            return self.api.files.get(str(sizes[-1].get("file_id")))
        return None

    @property
    def photo(self) -> bytes | None:
        file = self.photo_file
        return file.content if file is not None else None

    def to_json(self, *, with_reply: bool = True) -> JSONDict:
        data: JSONDict = {"message_id": self.message_id}
        if self.sender:
            data["from"] = dict(self.sender)
        data["chat"] = self.chat.to_json()
        data["date"] = self.date
        if self.message_thread_id is not None:
            data["message_thread_id"] = self.message_thread_id
        if self.forward_origin is not None:
            data["forward_origin"] = dict(self.forward_origin)
        if with_reply and self.reply_to is not None:
            data["reply_to_message"] = self.reply_to.to_json(with_reply=False)
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if self.protect_content:
            data["has_protected_content"] = True
        data.update(json.loads(json.dumps(self.content)))
        if self.inline_markup:
            data["reply_markup"] = json.loads(json.dumps(self.inline_markup))
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
        self.bot_status = "member"
        self.reply_keyboard: list[list[str]] | None = None
        self.pinned_message_id: int | None = None
        self._messages: dict[int, SimMessage] = {}
        self._next_message_id = 1

    # --- reading ---
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

    # --- setup ---
    def add(self, *users: SimUser, status: str = "member") -> SimChat:
        """Add users as members with the given status (member/administrator/creator/restricted/...)."""
        for user in users:
            self.members[user.id] = status
        return self

    def remove(self, *users: SimUser, status: str = "left") -> SimChat:
        for user in users:
            self.members[user.id] = status
        return self

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

    def full_info(self) -> JSONDict:
        data = self.to_json()
        data.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        )
        if self.pinned_message_id is not None:
            pinned = self._messages.get(self.pinned_message_id)
            if pinned is not None and not pinned.deleted:
                data["pinned_message"] = pinned.to_json(with_reply=False)
        return data

    def _new_message_id(self) -> int:
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    def __repr__(self) -> str:
        return f"<SimChat {self.id} {self.type} {self.title or (self.user and self.user.first_name)!r}>"


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
        self.deactivated = False
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

    # --- reading (private chat) ---
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

    # --- blocking ---
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

    # --- acting ---
    async def send(
        self,
        text: str,
        *,
        chat: SimChat | int | None = None,
        reply_to: int | None = None,
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
        entities = _client_entities(text)
        if entities:
            content["entities"] = entities
        return await self._post_message(target, content, reply_to=reply_to, wait=wait, timeout=timeout)

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
        sizes = self.api._register_photo(data, size)
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
        file = self.api._register_file("document", content, filename=filename, mime_type=mime)
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
        file = self.api._register_file("sticker", b"RIFF\x00\x00\x00\x00WEBPVP8 ", width=512, height=512)
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
        entities = _client_entities(new_text)
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
        body = json.loads(json.dumps(payload[kind]))
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
            if kind in ("callback_query", "inline_query", "chosen_inline_result", "shipping_query"):
                body.setdefault("from", self.to_json())
            if kind == "callback_query":
                body.setdefault("id", self.api._new_query_id())
                body.setdefault("chat_instance", _chat_instance(target.id))
                message = body.get("message")
                if not isinstance(message, dict):
                    message = {}
                query = CallbackQueryState(
                    str(body["id"]), self.id, target.id, int(message.get("message_id", 0)), str(body.get("data", ""))
                )
                self.api.callback_queries[query.id] = query
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
        msg, button = _find_button(target, label, message_id)
        data = button.get("callback_data")
        if not isinstance(data, str):
            raise AssertionError(f"button {button.get('text')!r} in {msg!r} has no callback_data: {button}")
        return await self._press(target, msg, data, wait=wait, timeout=timeout)

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
            "chat_instance": _chat_instance(chat.id),
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
        reply_to: int | None = None,
        forward_origin: JSONDict | None = None,
        wait: bool,
        timeout: float,  # noqa: ASYNC109
    ) -> int:
        msg = self.api._new_message(chat, self.to_json(), from_bot=False, content=content)
        if reply_to is not None:
            target = chat.message(reply_to)
            if target is None or target.deleted:
                raise AssertionError(f"no message {reply_to} in chat {chat.id} to reply to")
            msg.reply_to = target
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
            return [m for m in target._messages.values() if m.from_bot and m.seq > base]

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


_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


def _client_entities(text: str) -> list[JSONDict]:
    """Entities a Telegram client/server adds to user text: a bot_command at offset 0."""
    match = _COMMAND_RE.match(text)
    if not match:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))}]


def _chat_instance(chat_id: int) -> str:
    return str((chat_id * 2654435761) % (2**62))


def _find_button(chat: SimChat, label: str, message_id: int | None) -> tuple[SimMessage, JSONDict]:
    if message_id is not None:
        msg = chat.message(message_id)
        if msg is None or msg.deleted:
            raise AssertionError(f"no live message {message_id} in chat {chat.id}")
        candidates = [msg]
    else:
        candidates = list(reversed(chat.messages))
    for exact in (True, False):
        for msg in candidates:
            rows = msg._inline_rows()
            found = [
                b for row in rows for b in row if (b.get("text") == label if exact else label in str(b.get("text", "")))
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


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------

_Handler = Callable[[_Params], Awaitable[Any]]


class LocalBotApi:
    """An in-process Telegram Bot API server on 127.0.0.1 plus simulated users for tests.

    Point PTB at it with ``base_url=api.base_url`` and ``base_file_url=api.base_file_url``.
    ``stop()`` keeps all state; ``start(port=api.port)`` brings the same server back (outage tests).
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
        self.files: dict[str, SimFile] = {}
        self.callback_queries: dict[str, CallbackQueryState] = {}
        self.commands_by_scope: dict[tuple[str, str], list[JSONDict]] = {}
        self.menu_buttons: dict[int | None, JSONDict] = {}
        self.bot_settings: dict[str, str] = {}
        self.webhook_url = ""
        self.allowed_updates: list[str] | None = None
        self.seq = 0
        self._pending: list[_PendingUpdate] = []
        self._updates: dict[int, _PendingUpdate] = {}
        self._next_update_id = first_update_id
        self._next_file = 1
        self._next_query = 1
        self._files_by_path: dict[str, SimFile] = {}
        self._last_reaction: dict[int, int] = {}
        self._poll_generation = 0
        self._polls_waiting = 0
        self._changed: asyncio.Event | None = None
        self._closing: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._host = "127.0.0.1"
        self._port: int | None = None
        self._methods: dict[str, tuple[str, _Handler]] = {}
        for name, handler in self._method_table():
            self._methods[name.lower()] = (name, handler)

    # ---------------------------------------------------------------- lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("LocalBotApi is already running")
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{file_path:.+}", self._handle_file)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._host = host
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is None:
            return
        if self._closing is not None:
            self._closing.set()
        self._notify()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> LocalBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LocalBotApi has not been started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self._host}:{self.port}/file/bot"

    @property
    def running(self) -> bool:
        return self._runner is not None

    def now(self) -> int:
        return int(self._clock())

    # ---------------------------------------------------------------- test API
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
        known = {name for name, _ in self._methods.values()} | {"download"}
        canonical = next((name for name in known if name.lower() == method.lower()), None)
        if canonical is None:
            raise ValueError(f"unknown Bot API method {method!r}")
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
        return list(self.commands_by_scope.get((_scope_key(scope), language_code), []))

    def expire_callback_queries(self) -> None:
        """Make all unanswered callback queries too old to answer."""
        for query in self.callback_queries.values():
            query.expired = True

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by an offset (delivered or not)."""
        return [dict(u.payload) for u in self._pending]

    @property
    def polls_waiting(self) -> int:
        """How many getUpdates requests are currently held open (long polling)."""
        return self._polls_waiting

    def redeliver(self, *update_ids: int) -> None:
        """Put already-confirmed updates back in the queue, as Telegram does for a bot that restarted
        before confirming them. Only a poller asking without an offset (a fresh start) receives them."""
        for update_id in update_ids:
            update = self._updates[update_id]
            if update not in self._pending:
                self._pending.append(update)
        self._pending.sort(key=lambda u: u.update_id)
        self._notify()

    def deliveries(self, update_id: int) -> int:
        """How many getUpdates answers contained this update."""
        update = self._updates.get(update_id)
        return update.deliveries if update is not None else 0

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
        if not any(name == "getUpdates" for name, _ in self.calls):
            lines.append("getUpdates was never called: is the bot polling this server?")
        pending = [(u.update_id, u.kind, "fetched" if u.fetched_seq else "new") for u in self._pending]
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

    # ---------------------------------------------------------------- internal state helpers
    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def _notify(self) -> None:
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

    def _enqueue(self, kind: str, body: JSONDict, chat_id: int | None) -> _PendingUpdate:
        update_id = self._next_update_id
        self._next_update_id += 1
        update = _PendingUpdate(update_id, kind, {"update_id": update_id, kind: body}, chat_id)
        self._pending.append(update)
        self._updates[update_id] = update
        summary = body.get("text") or body.get("data") or kind if isinstance(body, dict) else kind
        message_id = body.get("message_id") if kind in MESSAGE_UPDATES else None
        self._emit("update", chat_id, message_id, f"{update_id} {kind}: {summary}")
        return update

    async def _await_reaction(
        self,
        update: _PendingUpdate,
        mode: str,
        timeout: float,  # noqa: ASYNC109
        *,
        query: CallbackQueryState | None = None,
    ) -> None:
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
            await self.wait_for(
                lambda: query.answered,
                timeout,
                what=f"the bot to answer callback query {query.id} (data {query.data!r})",
            )
        elif mode == "reply" and update.chat_id is not None:
            chat_id = update.chat_id

            def reacted() -> bool:
                fetched = update.fetched_seq
                return fetched is not None and self._last_reaction.get(chat_id, 0) > fetched

            await self.wait_for(
                reacted, timeout, what=f"the bot to react in chat {chat_id} to update {update.update_id}"
            )
        else:
            await self.wait_for(
                lambda: update.fetched_seq is not None, timeout, what=f"update {update.update_id} to be fetched"
            )

    def _new_message(self, chat: SimChat, sender: JSONDict, *, from_bot: bool, content: JSONDict) -> SimMessage:
        msg = SimMessage(
            self,
            chat,
            chat._new_message_id(),
            sender,
            from_bot=from_bot,
            date=self.now(),
            content=content,
            seq=self.seq + 1 if from_bot else self.seq,
        )
        chat._messages[msg.message_id] = msg
        if from_bot:
            self._emit("send", chat.id, msg.message_id, msg.text or msg.kind)
        return msg

    def _store_raw_message(self, user: SimUser, chat: SimChat, body: JSONDict, *, channel: bool) -> SimMessage:
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

    def _register_file(
        self,
        kind: str,
        content: bytes,
        *,
        filename: str | None = None,
        mime_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> SimFile:
        number = self._next_file
        self._next_file += 1
        digest = hashlib.sha256(f"{self.token}:{kind}:{number}".encode()).hexdigest()
        prefix = {"document": "BQACAgUAAxkBAAI", "photo": "AgACAgUAAxkBAAI", "sticker": "CAACAgUAAxkBAAI"}.get(
            kind, "BAACAgUAAxkBAAI"
        )
        file_id = f"{prefix}{number:06d}{digest[:40]}"
        unique_id = f"AQAD{number:04d}{digest[40:48]}"
        folder = {"photo": "photos", "sticker": "stickers"}.get(kind, "documents")
        extension = ""
        if filename and "." in filename:
            extension = "." + filename.rsplit(".", 1)[1]
        elif kind == "photo":
            extension = ".jpg"
        elif kind == "sticker":
            extension = ".webp"
        file = SimFile(
            file_id=file_id,
            file_unique_id=unique_id,
            kind=kind,
            content=content,
            file_path=f"{folder}/file_{number}{extension}",
            filename=filename,
            mime_type=mime_type,
            width=width,
            height=height,
        )
        self.files[file_id] = file
        self._files_by_path[file.file_path] = file
        return file

    def _register_photo(self, content: bytes, size: tuple[int, int]) -> list[SimFile]:
        photo_set: list[SimFile] = []
        for width, height in _photo_sizes(*size):
            file = self._register_file("photo", content, width=width, height=height)
            file.photo_set = photo_set
            photo_set.append(file)
        return photo_set

    # ---------------------------------------------------------------- HTTP layer
    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        method = request.match_info["method"]
        if token != self.token:
            if re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
                return _json_error(ApiError(401, "Unauthorized"))
            return _json_error(ApiError(404, "Not Found"))
        try:
            params = await _read_params(request)
        except ApiError as exc:
            return _json_error(exc)
        entry = self._methods.get(method.lower())
        name = entry[0] if entry is not None else method
        self.calls.append((name, params))
        self._notify()
        if entry is None:
            return _json_error(ApiError(404, "Not Found"))
        handler = entry[1]
        fault = self._take_fault(name)
        if fault is None:
            return await self._run(handler, params)
        return await self._run_fault(request, fault, handler, params)

    async def _run(self, handler: _Handler, params: JSONDict) -> web.Response:
        try:
            result = await handler(_Params(params))
        except ApiError as exc:
            return _json_error(exc)
        return web.json_response({"ok": True, "result": result})

    def _take_fault(self, name: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == name and fault.times != 0:
                if fault.times > 0:
                    fault.times -= 1
                fault.hits += 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None

    async def _run_fault(
        self, request: web.Request, fault: Fault, handler: _Handler, params: JSONDict
    ) -> web.StreamResponse:
        self._emit("fault", None, None, f"{fault.method}: {_fault_label(fault)}")
        effect: web.Response | None = None
        if fault.after_effect:
            effect = await self._run(handler, params)
        if fault.delay > 0:
            await self._pause(fault.delay)
        if fault.drop:
            return _drop_connection(request)
        if fault.retry_after is None and fault.status < 300:
            return effect if effect is not None else await self._run(handler, params)
        return _fault_response(fault)

    async def _pause(self, delay: float) -> None:
        closing = self._closing
        if closing is None:
            await asyncio.sleep(delay)
            return
        try:
            async with asyncio.timeout(delay):
                await closing.wait()
        except TimeoutError:
            pass

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _json_error(ApiError(401, "Unauthorized"))
        self.calls.append(("download", {"file_path": request.match_info["file_path"]}))
        self._notify()
        fault = self._take_fault("download")
        if fault is not None:
            self._emit("fault", None, None, f"download: {_fault_label(fault)}")
            if fault.delay > 0:
                await self._pause(fault.delay)
            if fault.drop:
                return _drop_connection(request)
            if fault.retry_after is not None or fault.status >= 300:
                return _fault_response(fault)
        file = self._files_by_path.get(request.match_info["file_path"])
        if file is None:
            return _json_error(ApiError(404, "Not Found"))
        return web.Response(body=file.content, content_type=file.mime_type or "application/octet-stream")

    # ---------------------------------------------------------------- validation helpers
    def _chat_from(self, p: _Params, name: str = "chat_id") -> SimChat:
        raw = p.data.get(name)
        if raw is None or raw == "":
            raise _bad(f"{name} is empty")
        chat: SimChat | None = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            chat = self.chats.get(raw)
        elif isinstance(raw, str):
            if raw.startswith("@"):
                chat = next((c for c in self.chats.values() if c.username and "@" + c.username == raw), None)
            else:
                try:
                    chat = self.chats.get(int(raw))
                except ValueError:
                    chat = None
        if chat is None:
            raise _bad("chat not found")
        return chat

    def _check_writable(self, chat: SimChat) -> None:
        if chat.user is not None:
            if chat.user.deactivated:
                raise _forbidden("user is deactivated")
            if chat.user.blocked:
                raise _forbidden("bot was blocked by the user")
            return
        kind = {"supergroup": "supergroup chat", "group": "group chat"}.get(chat.type, "channel chat")
        if chat.bot_status == "kicked":
            raise _forbidden(f"bot was kicked from the {kind}")
        if chat.bot_status == "left":
            raise _forbidden(f"bot is not a member of the {kind}")

    def _formatted(
        self, p: _Params, text_name: str, entities_name: str, *, caption: bool
    ) -> tuple[str, list[JSONDict], str | None, str | None]:
        """Parse text/caption with parse_mode or explicit entities -> (plain, entities, raw, parse_mode)."""
        raw = p.get_str(text_name)
        if raw is None:
            raw = ""
        parse_mode = p.get_str("parse_mode") or None
        if p.has(entities_name):
            plain, entities = _finalize(raw, _spans_from_entities(raw, p.get_json(entities_name, "entities")))
        elif parse_mode is None:
            plain, entities = _finalize(raw, [])
        else:
            mode = parse_mode.lower()
            if mode == "html":
                plain, entities = parse_html(raw)
            elif mode == "markdownv2":
                plain, entities = parse_markdown_v2(raw)
            elif mode == "markdown":
                plain, entities = parse_markdown(raw)
            else:
                raise _bad("unsupported parse_mode")
        if caption:
            if utf16_len(plain) > MAX_CAPTION_LENGTH:
                raise _bad("message caption is too long")
        else:
            if not plain:
                raise _bad("message text is empty")
            if utf16_len(plain) > MAX_TEXT_LENGTH:
                raise _bad("message is too long")
        return plain, entities, raw, parse_mode

    def _markup(self, p: _Params, *, inline_only: bool = False) -> _Markup:
        if not p.has("reply_markup"):
            return _Markup()
        markup = p.get_json("reply_markup", "reply keyboard markup")
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        result = _Markup(raw=markup)
        if "inline_keyboard" in markup:
            result.inline = _validate_inline_keyboard(markup)
        elif inline_only:
            raise _bad("inline keyboard expected")
        elif "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad("can't parse reply keyboard markup JSON object")
            result.keyboard = [
                [b if isinstance(b, str) else str(b.get("text", "")) for b in row if isinstance(b, str | dict)]
                for row in rows
            ]
        elif markup.get("remove_keyboard"):
            result.remove = True
        elif markup.get("force_reply"):
            result.force_reply = True
        else:
            raise _bad("can't parse reply keyboard markup JSON object")
        return result

    def _reply_target(self, p: _Params, chat: SimChat) -> SimMessage | None:
        reply_id = p.get_int("reply_to_message_id")
        allow_missing = p.get_bool("allow_sending_without_reply")
        target_chat = chat
        if p.has("reply_parameters"):
            params = p.get_json("reply_parameters", "reply parameters")
            if not isinstance(params, dict) or not isinstance(params.get("message_id"), int):
                raise _bad("can't parse reply parameters JSON object")
            reply_id = params["message_id"]
            allow_missing = bool(params.get("allow_sending_without_reply", allow_missing))
            if params.get("chat_id") is not None:
                target_chat = self._chat_from(_Params({"chat_id": params["chat_id"]}))
        if reply_id is None:
            return None
        target = target_chat.message(reply_id)
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise _bad("message to be replied not found")
        return target

    def _bot_message(
        self,
        chat: SimChat,
        content: JSONDict,
        p: _Params,
        *,
        markup: _Markup,
        reply_to: SimMessage | None,
        raw_text: str | None = None,
        parse_mode: str | None = None,
    ) -> SimMessage:
        msg = SimMessage(
            self,
            chat,
            chat._new_message_id(),
            self.bot_user_json(short=True),
            from_bot=True,
            date=self.now(),
            content=content,
            seq=self.seq + 1,
        )
        msg.raw_text = raw_text
        msg.parse_mode = parse_mode
        msg.inline_markup = markup.inline
        msg.reply_markup_sent = markup.raw
        msg.reply_keyboard = markup.keyboard
        msg.remove_keyboard = markup.remove
        msg.force_reply = markup.force_reply
        msg.reply_to = reply_to
        msg.disable_notification = p.get_bool("disable_notification")
        msg.protect_content = p.get_bool("protect_content")
        msg.message_thread_id = p.get_int("message_thread_id")
        preview = p.get_json("link_preview_options", "link preview options") if p.has("link_preview_options") else None
        msg.link_preview_options = preview if isinstance(preview, dict) else None
        if markup.keyboard is not None:
            chat.reply_keyboard = markup.keyboard
        elif markup.remove:
            chat.reply_keyboard = None
        chat._messages[msg.message_id] = msg
        self._emit("send", chat.id, msg.message_id, msg.text or msg.kind)
        return msg

    def _editable(self, p: _Params) -> SimMessage:
        if p.has("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._chat_from(p)
        message_id = p.need_int("message_id", "message identifier is not specified")
        msg = chat.message(message_id)
        if msg is None or msg.deleted:
            raise _bad("message to edit not found")
        if not msg.from_bot:
            raise _bad("message can't be edited")
        self._check_writable(chat)
        return msg

    def _input_file(self, p: _Params, name: str, kind: str) -> SimFile | list[SimFile]:
        value = p.data.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.data.get(value[len("attach://") :])
        if value is None or value == "":
            raise _bad(f"there is no {name} in the request")
        if isinstance(value, Upload):
            if not value.content:
                raise _bad("file must be non-empty")
            if kind == "photo":
                if len(value.content) > MAX_PHOTO_BYTES:
                    raise _bad("PHOTO_SAVE_FILE_INVALID")
                size = image_size(value.content)
                if size is None:
                    raise _bad("IMAGE_PROCESS_FAILED")
                width, height = size
                if width + height > 10000 or max(width, height) > 20 * min(width, height):
                    raise _bad("PHOTO_INVALID_DIMENSIONS")
                return self._register_photo(value.content, size)
            mime = value.content_type
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(value.filename, strict=False)[0] or "application/octet-stream"
            return self._register_file(kind, value.content, filename=value.filename, mime_type=mime)
        if not isinstance(value, str):
            raise _bad("wrong file identifier/HTTP URL specified")
        if re.match(r"^https?://", value):
            raise _bad("failed to get HTTP URL content")
        existing = self.files.get(value)
        if existing is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if existing.kind != kind:
            raise _bad("type of file mismatch")
        return existing.photo_set if kind == "photo" else existing

    def _member_json(self, chat: SimChat, user_id: int) -> JSONDict:
        if user_id == self.bot_id:
            user_json = self.bot_user_json(short=True)
            status = "member" if chat.user is not None else chat.bot_status
        else:
            user = self.users.get(user_id)
            if user is None:
                raise _bad("user not found")
            user_json = user.to_json()
            if chat.user is not None:
                if user_id != chat.id:
                    raise _bad("user not found")
                status = "member"
            else:
                status = chat.members.get(user_id, "left")
        return _member(status, user_json)

    # ---------------------------------------------------------------- methods
    def _method_table(self) -> list[tuple[str, _Handler]]:
        return [
            ("getMe", self._get_me),
            ("logOut", self._true),
            ("close", self._true),
            ("getUpdates", self._get_updates),
            ("setWebhook", self._set_webhook),
            ("deleteWebhook", self._delete_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("setChatMenuButton", self._set_chat_menu_button),
            ("getChatMenuButton", self._get_chat_menu_button),
            ("setMyDescription", self._setting("description")),
            ("getMyDescription", self._get_setting("description")),
            ("setMyShortDescription", self._setting("short_description")),
            ("getMyShortDescription", self._get_setting("short_description")),
            ("setMyName", self._setting("name")),
            ("getMyName", self._get_setting("name")),
            ("sendMessage", self._send_message),
            ("editMessageText", self._edit_message_text),
            ("editMessageCaption", self._edit_message_caption),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("deleteMessage", self._delete_message),
            ("deleteMessages", self._delete_messages),
            ("answerCallbackQuery", self._answer_callback_query),
            ("sendDocument", self._send_document),
            ("sendPhoto", self._send_photo),
            ("getFile", self._get_file),
            ("sendChatAction", self._send_chat_action),
            ("getChat", self._get_chat),
            ("getChatMember", self._get_chat_member),
            ("getChatAdministrators", self._get_chat_administrators),
            ("getChatMemberCount", self._get_chat_member_count),
            ("copyMessage", self._copy_message),
            ("forwardMessage", self._forward_message),
            ("pinChatMessage", self._pin_chat_message),
            ("unpinChatMessage", self._unpin_chat_message),
            ("unpinAllChatMessages", self._unpin_all_chat_messages),
        ]

    async def _true(self, p: _Params) -> bool:
        return True

    async def _get_me(self, p: _Params) -> JSONDict:
        return self.bot_user_json()

    async def _get_updates(self, p: _Params) -> list[JSONDict]:
        if self.webhook_url:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset = p.get_int("offset", 0) or 0
        limit = min(max(p.get_int("limit", 100) or 100, 1), 100)
        timeout = max(p.get_float("timeout", 0.0), 0.0)
        if p.data.get("allowed_updates") is not None:
            allowed = p.get_json("allowed_updates", "allowed updates")
            if isinstance(allowed, list):
                self.allowed_updates = [str(a) for a in allowed] or None
        self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        closing = self._closing
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, POLL_CONFLICT)
            ready = self._available(offset, limit)
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or (closing is not None and closing.is_set()):
                break
            changed = self._event()
            self._polls_waiting += 1
            try:
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                pass
            finally:
                self._polls_waiting -= 1
        for update in ready:
            update.deliveries += 1
            if update.fetched_seq is None:
                update.fetched_seq = self._emit("fetch", update.chat_id, None, f"{update.update_id} {update.kind}")
        return [json.loads(json.dumps(u.payload)) for u in ready]

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [u for u in self._pending if u.update_id >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def _available(self, offset: int, limit: int) -> list[_PendingUpdate]:
        allowed = self.allowed_updates
        ready = [
            u
            for u in self._pending
            if u.update_id >= offset and (u.kind in allowed if allowed is not None else u.kind not in OPT_IN_UPDATES)
        ]
        return ready[:limit]

    async def _set_webhook(self, p: _Params) -> bool:
        url = p.get_str("url") or ""
        if url and not url.startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if p.get_bool("drop_pending_updates"):
            self._pending.clear()
        if p.data.get("allowed_updates") is not None:
            allowed = p.get_json("allowed_updates", "allowed updates")
            if isinstance(allowed, list):
                self.allowed_updates = [str(a) for a in allowed] or None
        self.webhook_url = url
        return True

    async def _delete_webhook(self, p: _Params) -> bool:
        self.webhook_url = ""
        if p.get_bool("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _get_webhook_info(self, p: _Params) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.allowed_updates is not None:
            info["allowed_updates"] = list(self.allowed_updates)
        return info

    async def _set_my_commands(self, p: _Params) -> bool:
        commands = p.get_json("commands", "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        clean: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name.lstrip("/")):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name.lstrip("/"), "description": description})
        key = (_scope_key(p.get_json("scope", "scope")), p.get_str("language_code") or "")
        if clean:
            self.commands_by_scope[key] = clean
        else:
            self.commands_by_scope.pop(key, None)
        return True

    async def _get_my_commands(self, p: _Params) -> list[JSONDict]:
        key = (_scope_key(p.get_json("scope", "scope")), p.get_str("language_code") or "")
        return list(self.commands_by_scope.get(key, []))

    async def _delete_my_commands(self, p: _Params) -> bool:
        key = (_scope_key(p.get_json("scope", "scope")), p.get_str("language_code") or "")
        self.commands_by_scope.pop(key, None)
        return True

    async def _set_chat_menu_button(self, p: _Params) -> bool:
        chat_id = self._chat_from(p).id if p.has("chat_id") else None
        button = p.get_json("menu_button", "menu button") if p.has("menu_button") else None
        if button is None:
            self.menu_buttons.pop(chat_id, None)
        elif not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
            raise _bad("can't parse menu button JSON object")
        else:
            self.menu_buttons[chat_id] = button
        return True

    async def _get_chat_menu_button(self, p: _Params) -> JSONDict:
        chat_id = self._chat_from(p).id if p.has("chat_id") else None
        return self.menu_buttons.get(chat_id, self.menu_buttons.get(None, {"type": "commands"}))

    def _setting(self, key: str) -> _Handler:
        async def handler(p: _Params) -> bool:
            language = p.get_str("language_code") or ""
            self.bot_settings[f"{key}:{language}"] = p.get_str(key) or ""
            return True

        return handler

    def _get_setting(self, key: str) -> _Handler:
        async def handler(p: _Params) -> JSONDict:
            language = p.get_str("language_code") or ""
            return {key: self.bot_settings.get(f"{key}:{language}", "")}

        return handler

    async def _send_message(self, p: _Params) -> JSONDict:
        plain, entities, raw, parse_mode = self._formatted(p, "text", "entities", caption=False)
        chat = self._chat_from(p)
        self._check_writable(chat)
        markup = self._markup(p)
        reply_to = self._reply_target(p, chat)
        content: JSONDict = {"text": plain}
        if entities:
            content["entities"] = entities
        msg = self._bot_message(chat, content, p, markup=markup, reply_to=reply_to, raw_text=raw, parse_mode=parse_mode)
        return msg.to_json()

    async def _edit_message_text(self, p: _Params) -> JSONDict:
        plain, entities, raw, parse_mode = self._formatted(p, "text", "entities", caption=False)
        msg = self._editable(p)
        if "text" not in msg.content:
            raise _bad("there is no text in the message to edit")
        markup = self._markup(p, inline_only=True)
        content: JSONDict = {"text": plain}
        if entities:
            content["entities"] = entities
        if content == msg.content and markup.inline == msg.inline_markup:
            raise _bad(NOT_MODIFIED)
        msg.content = content
        msg.raw_text, msg.parse_mode = raw, parse_mode
        msg.inline_markup = markup.inline
        if p.has("link_preview_options"):
            preview = p.get_json("link_preview_options", "link preview options")
            msg.link_preview_options = preview if isinstance(preview, dict) else None
        return self._mark_edited(msg)

    async def _edit_message_caption(self, p: _Params) -> JSONDict:
        plain, entities, raw, parse_mode = self._formatted(p, "caption", "caption_entities", caption=True)
        msg = self._editable(p)
        if "text" in msg.content:
            raise _bad("there is no caption in the message to edit")
        markup = self._markup(p, inline_only=True)
        content = {k: v for k, v in msg.content.items() if k not in ("caption", "caption_entities")}
        if plain:
            content["caption"] = plain
        if entities:
            content["caption_entities"] = entities
        if content == msg.content and markup.inline == msg.inline_markup:
            raise _bad(NOT_MODIFIED)
        msg.content = content
        msg.raw_text, msg.parse_mode = raw, parse_mode
        msg.inline_markup = markup.inline
        return self._mark_edited(msg)

    async def _edit_message_reply_markup(self, p: _Params) -> JSONDict:
        msg = self._editable(p)
        markup = self._markup(p, inline_only=True)
        if markup.inline == msg.inline_markup:
            raise _bad(NOT_MODIFIED)
        msg.inline_markup = markup.inline
        return self._mark_edited(msg)

    def _mark_edited(self, msg: SimMessage) -> JSONDict:
        msg.edit_date = self.now()
        self._emit("edit", msg.chat_id, msg.message_id, msg.text or msg.kind)
        return msg.to_json()

    async def _delete_message(self, p: _Params) -> bool:
        chat = self._chat_from(p)
        message_id = p.need_int("message_id", "message identifier is not specified")
        self._delete(chat, message_id, strict=True)
        return True

    async def _delete_messages(self, p: _Params) -> bool:
        chat = self._chat_from(p)
        ids = p.get_json("message_ids", "message identifiers")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad("message identifiers are invalid")
        deleted = [self._delete(chat, int(i), strict=False) for i in ids if isinstance(i, int)]
        if not any(deleted):
            raise _bad("message to delete not found")
        return True

    def _delete(self, chat: SimChat, message_id: int, *, strict: bool) -> bool:
        msg = chat.message(message_id)
        if msg is None or msg.deleted:
            if strict:
                raise _bad("message to delete not found")
            return False
        if chat.user is None and not msg.from_bot and chat.bot_status not in ("administrator", "creator"):
            if strict:
                raise _bad("message can't be deleted")
            return False
        if self.now() - msg.date > DELETE_WINDOW_SECONDS and not (chat.user is None and msg.from_bot):
            if strict:
                raise _bad("message can't be deleted for everyone")
            return False
        msg.deleted = True
        self._emit("delete", chat.id, message_id, msg.text or msg.kind)
        return True

    async def _answer_callback_query(self, p: _Params) -> bool:
        query = self.callback_queries.get(p.get_str("callback_query_id") or "")
        if query is None or query.answered or query.expired:
            raise _bad(QUERY_TOO_OLD)
        text = p.get_str("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad("MESSAGE_TOO_LONG")
        query.answer = CallbackAnswer(text or None, p.get_bool("show_alert"), p.get_str("url"))
        self._emit("answer", query.chat_id, query.message_id, text)
        return True

    async def _send_document(self, p: _Params) -> JSONDict:
        return await self._send_media(p, "document")

    async def _send_photo(self, p: _Params) -> JSONDict:
        return await self._send_media(p, "photo")

    async def _send_media(self, p: _Params, kind: str) -> JSONDict:
        plain, entities, raw, parse_mode = self._formatted(p, "caption", "caption_entities", caption=True)
        chat = self._chat_from(p)
        self._check_writable(chat)
        markup = self._markup(p)
        reply_to = self._reply_target(p, chat)
        files = self._input_file(p, kind, kind)
        content: JSONDict = {}
        if isinstance(files, list):
            content[kind] = [f.to_json() for f in files]
        else:
            content[kind] = files.to_json()
        if plain:
            content["caption"] = plain
        if entities:
            content["caption_entities"] = entities
        msg = self._bot_message(
            chat,
            content,
            p,
            markup=markup,
            reply_to=reply_to,
            raw_text=raw if plain else None,
            parse_mode=parse_mode,
        )
        return msg.to_json()

    async def _get_file(self, p: _Params) -> JSONDict:
        file = self.files.get(p.get_str("file_id") or "")
        if file is None:
            raise _bad("wrong file_id or the file is temporarily unavailable")
        if file.size > MAX_DOWNLOAD_BYTES:
            raise _bad("file is too big")
        return {
            "file_id": file.file_id,
            "file_unique_id": file.file_unique_id,
            "file_size": file.size,
            "file_path": file.file_path,
        }

    async def _send_chat_action(self, p: _Params) -> bool:
        chat = self._chat_from(p)
        action = p.get_str("action")
        if action not in CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        self._check_writable(chat)
        self._emit("action", chat.id, None, action)
        return True

    async def _get_chat(self, p: _Params) -> JSONDict:
        return self._chat_from(p).full_info()

    async def _get_chat_member(self, p: _Params) -> JSONDict:
        chat = self._chat_from(p)
        user_id = p.need_int("user_id", "user not found")
        return self._member_json(chat, user_id)

    async def _get_chat_administrators(self, p: _Params) -> list[JSONDict]:
        chat = self._chat_from(p)
        if chat.user is not None:
            raise _bad("there are no administrators in the private chat")
        staff = [uid for uid, status in chat.members.items() if status in ("creator", "administrator")]
        admins = [self._member_json(chat, uid) for uid in staff]
        if chat.bot_status in ("creator", "administrator"):
            admins.append(self._member_json(chat, self.bot_id))
        return admins

    async def _get_chat_member_count(self, p: _Params) -> int:
        chat = self._chat_from(p)
        if chat.user is not None:
            return 2
        present = ("member", "administrator", "creator", "restricted")
        return sum(1 for s in chat.members.values() if s in present) + (chat.bot_status in present)

    def _source_message(self, p: _Params, missing: str) -> SimMessage:
        source_chat = self._chat_from(p, "from_chat_id")
        message_id = p.need_int("message_id", "message identifier is not specified")
        source = source_chat.message(message_id)
        if source is None or source.deleted:
            raise _bad(missing)
        if source.protect_content:
            raise _bad("message has protected content and can't be forwarded")
        return source

    async def _copy_message(self, p: _Params) -> JSONDict:
        chat = self._chat_from(p)
        source = self._source_message(p, "message to copy not found")
        self._check_writable(chat)
        content = json.loads(json.dumps(source.content))
        raw_text = source.raw_text
        parse_mode = source.parse_mode
        if "text" not in content and p.data.get("caption") is not None:
            plain, entities, raw_text, parse_mode = self._formatted(p, "caption", "caption_entities", caption=True)
            content.pop("caption", None)
            content.pop("caption_entities", None)
            if plain:
                content["caption"] = plain
            if entities:
                content["caption_entities"] = entities
        msg = self._bot_message(
            chat,
            content,
            p,
            markup=self._markup(p),
            reply_to=self._reply_target(p, chat),
            raw_text=raw_text,
            parse_mode=parse_mode,
        )
        return {"message_id": msg.message_id}

    async def _forward_message(self, p: _Params) -> JSONDict:
        chat = self._chat_from(p)
        source = self._source_message(p, "message to forward not found")
        self._check_writable(chat)
        content = json.loads(json.dumps(source.content))
        msg = self._bot_message(chat, content, p, markup=_Markup(), reply_to=None)
        if source.forward_origin is not None:
            msg.forward_origin = dict(source.forward_origin)
        elif source.chat.type == "channel":
            msg.forward_origin = {
                "type": "channel",
                "chat": source.chat.to_json(),
                "message_id": source.message_id,
                "date": source.date,
            }
        else:
            msg.forward_origin = {"type": "user", "sender_user": dict(source.sender), "date": source.date}
        return msg.to_json()

    async def _pin_chat_message(self, p: _Params) -> bool:
        chat = self._chat_from(p)
        message_id = p.need_int("message_id", "message identifier is not specified")
        msg = chat.message(message_id)
        if msg is None or msg.deleted:
            raise _bad("message to pin not found")
        chat.pinned_message_id = message_id
        self._emit("pin", chat.id, message_id, msg.text)
        return True

    async def _unpin_chat_message(self, p: _Params) -> bool:
        chat = self._chat_from(p)
        chat.pinned_message_id = None
        return True

    async def _unpin_all_chat_messages(self, p: _Params) -> bool:
        return await self._unpin_chat_message(p)


# --------------------------------------------------------------------------------------------------
# Module helpers
# --------------------------------------------------------------------------------------------------


async def _read_params(request: web.Request) -> JSONDict:
    raw: JSONDict = dict(request.query)
    if request.body_exists:
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = json.loads(await request.text())
            except ValueError:
                raise _bad("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise _bad("request body must be a JSON object")
            raw.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            try:
                form = await request.post()
            except web.HTTPRequestEntityTooLarge:
                raise ApiError(413, "Request Entity Too Large") from None
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    raw[key] = Upload(value.filename, value.file.read(), value.content_type)
                else:
                    raw[key] = value
    return {key: _normalize_param(key, value) for key, value in raw.items()}


def _json_error(error: ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.status)


def _drop_connection(request: web.Request) -> web.Response:
    transport = request.transport
    if transport is not None:
        transport.close()
    # The handler is cancelled by aiohttp once the connection is gone; this answer is never sent.
    return web.Response(status=500)


def _fault_label(fault: Fault) -> str:
    if fault.drop:
        return "drop"
    if fault.retry_after is not None:
        return f"429 retry_after={fault.retry_after}"
    return f"status {fault.status}" + (f" after {fault.delay}s" if fault.delay else "")


_GATEWAY_HTML = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
)


def _fault_response(fault: Fault) -> web.Response:
    if fault.retry_after is not None:
        description = fault.description or f"Too Many Requests: retry after {fault.retry_after}"
        return _json_error(ApiError(429, description, {"retry_after": fault.retry_after}))
    status = fault.status
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    if status in (502, 503, 504) and fault.description is None:
        # What the reverse proxy in front of the Bot API answers: HTML, not JSON.
        body = _GATEWAY_HTML.format(status=status, phrase=phrase)
        return web.Response(status=status, text=body, content_type="text/html")
    defaults = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
    return _json_error(ApiError(status, fault.description or defaults.get(status, phrase)))


def _scope_key(scope: Any) -> str:
    if not isinstance(scope, dict) or not scope:
        scope = {"type": "default"}
    return json.dumps(scope, sort_keys=True)


def _validate_inline_keyboard(markup: JSONDict) -> JSONDict:
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad('can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of Arrays')
    clean_rows: list[list[JSONDict]] = []
    for row in rows:
        clean_row: list[JSONDict] = []
        for button in row:
            if not isinstance(button, dict):
                raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
            text = button.get("text")
            if not isinstance(text, str) or not text.strip():
                raise _bad("BUTTON_TEXT_INVALID")
            actions = [key for key in INLINE_BUTTON_ACTIONS if key in button]
            if not actions:
                raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if "callback_data" in button and (
                not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
            ):
                raise _bad("BUTTON_DATA_INVALID")
            url = button.get("url")
            if "url" in button and (not isinstance(url, str) or _check_url(url) is None):
                raise _bad("BUTTON_URL_INVALID")
            clean_row.append(dict(button))
        if clean_row:
            clean_rows.append(clean_row)
    return {"inline_keyboard": clean_rows}


def _member(status: str, user: JSONDict) -> JSONDict:
    data: JSONDict = {"status": status, "user": user}
    if status == "creator":
        data["is_anonymous"] = False
    elif status == "administrator":
        data.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
            can_pin_messages=True,
        )
    elif status == "restricted":
        data.update({name: False for name in _RESTRICTED_FLAGS})
        data.update(is_member=True, until_date=0)
    elif status == "kicked":
        data["until_date"] = 0
    return data


_RESTRICTED_FLAGS = (
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_send_messages",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_manage_topics",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_edit_tag",
    "can_react_to_messages",
)
