"""The Bot API wire protocol as the simulator speaks it: limits, error answers, request parameters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

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

# Update types that are not delivered unless explicitly listed in allowed_updates.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
MESSAGE_UPDATES = frozenset({"message", "edited_message", "channel_post", "edited_channel_post", "business_message"})
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
        "callback_query_id",
        "file_id",
        "url",
        "language_code",
        "inline_message_id",
        "document",
        "photo",
    }
)
# Parameters that would change what a message looks like or where it goes, and that fieldbot never sends
# (it sends plain text, unquoted). They are refused, not ignored, so that a first use fails loudly here
# instead of passing tests with a message Telegram would show differently.
UNSUPPORTED_PARAMS = (
    "parse_mode",
    "entities",
    "caption_entities",
    "reply_parameters",
    "reply_to_message_id",
    "message_thread_id",
)


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


def bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def forbidden(description: str) -> ApiError:
    return ApiError(403, f"Forbidden: {description}")


def unsupported(what: str) -> ApiError:
    """What Telegram supports but this simulator does not (nothing fieldbot does needs it)."""
    return bad(f"{what} is not supported by the simulator")


def json_error(error: ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.status)


def utf16_len(text: str) -> int:
    """Telegram measures text in UTF-16 code units (an emoji outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def deep_copy(data: Any) -> Any:
    """A JSON-only copy: what a client receives can never alias the server's state."""
    return json.loads(json.dumps(data))


@dataclass(frozen=True)
class Upload:
    """A file uploaded by the client in a multipart request."""

    filename: str
    content: bytes
    content_type: str


def normalize_param(name: str, value: Any) -> Any:
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


async def read_params(request: web.Request) -> JSONDict:
    """Parameters from the query string and a JSON, urlencoded or multipart body, like the Bot API reads them."""
    raw: JSONDict = dict(request.query)
    if request.body_exists:
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = json.loads(await request.text())
            except ValueError:
                raise bad("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise bad("request body must be a JSON object")
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
    return {key: normalize_param(key, value) for key, value in raw.items()}


class Params:
    """Typed access to one request's parameters, failing with Telegram's own error texts."""

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
        raise bad(f'field "{name}" must be of type String')

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
        raise bad(f'field "{name}" must be of type Integer')

    def need_int(self, name: str, missing: str) -> int:
        value = self.get_int(name)
        if value is None:
            raise bad(missing)
        return value

    def get_float(self, name: str, default: float) -> float:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad(f'field "{name}" must be of type Float') from None

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
                raise bad(f"can't parse {what} JSON object") from None
        return value

    def refuse_unsupported(self) -> None:
        for name in UNSUPPORTED_PARAMS:
            if self.has(name):
                raise unsupported(name)
