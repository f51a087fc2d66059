"""Telegram Mini App launch data (`initData`), checked as Telegram specifies, and one-time link tokens.

initData is a query string signed by Telegram with the bot's token: the secret key is HMAC-SHA256 of the token
with the key "WebAppData"; the hash is HMAC-SHA256, with that secret key, of the data-check string: every
received field but `hash`, sorted by key, as `key=value` lines joined by a line feed. `auth_date` (Unix seconds)
tells how old the launch is. (https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app)

A one-time link is a random token of 192 bits; only its SHA-256 is stored, so a copy of the database opens
no form. The page's CSRF token is an HMAC of the link's hash under a per-process secret: a form posted from
anywhere but the page fetched with the link is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

INIT_DATA_MAX_AGE = timedelta(minutes=10)
LINK_TOKEN_BYTES = 24  # 192 bits, URL-safe base64: 32 characters
_SECRET_KEY_KEY = b"WebAppData"


class InitDataError(ValueError):
    """initData that does not prove who opened the page: `reason` is one word for the log (never the data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LaunchData:
    """What a checked initData says: who opened the Mini App, and when Telegram signed it."""

    user_id: int
    auth_date: datetime
    query_id: str | None
    start_param: str | None


def _secret_key(token: str) -> bytes:
    return hmac.new(_SECRET_KEY_KEY, token.encode("utf-8"), hashlib.sha256).digest()


def _data_check_string(fields: dict[str, str]) -> bytes:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash").encode("utf-8")


def init_data_hash(token: str, fields: dict[str, str]) -> str:
    return hmac.new(_secret_key(token), _data_check_string(fields), hashlib.sha256).hexdigest()


def sign_init_data(token: str, fields: dict[str, str]) -> str:
    """initData as Telegram makes it (the simulator's Mini App buttons; tests)."""
    return urlencode({**fields, "hash": init_data_hash(token, fields)})


def check_init_data(token: str, init_data: str, now: datetime, max_age: timedelta = INIT_DATA_MAX_AGE) -> LaunchData:
    """The launch data when initData is Telegram's for this bot and fresh; else InitDataError."""
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise InitDataError("malformed") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise InitDataError("malformed")  # a key twice: which one was signed is ambiguous
    received = fields.get("hash", "")
    if not received:
        raise InitDataError("unsigned")
    if not hmac.compare_digest(init_data_hash(token, fields), received.lower()):
        raise InitDataError("forged")
    try:
        signed_at = datetime.fromtimestamp(int(fields["auth_date"]), UTC)
        user_id = int(json.loads(fields["user"])["id"])
    except (KeyError, ValueError, TypeError):
        raise InitDataError("malformed") from None
    if not timedelta(seconds=-60) <= now - signed_at <= max_age:
        raise InitDataError("expired")  # a minute of clock skew ahead is forgiven, never more
    return LaunchData(user_id, signed_at, fields.get("query_id"), fields.get("start_param"))


def new_link_token() -> str:
    return secrets.token_urlsafe(LINK_TOKEN_BYTES)


def link_token_hash(token: str) -> str:
    """What is stored of a link token (and logged of it: nothing, not even this)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(secret: bytes, token_hash: str) -> str:
    return hmac.new(secret, token_hash.encode("ascii"), hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, token_hash: str, received: str) -> bool:
    return hmac.compare_digest(csrf_token(secret, token_hash), received)
