"""Telegram Mini App launch data (`initData`), checked as Telegram specifies, and one-time link tokens.

initData is a query string signed by Telegram with the bot's token: the secret key is HMAC-SHA256 of the token
with the key "WebAppData"; the hash is HMAC-SHA256, with that secret key, of the data-check string: every
received field but `hash`, sorted by key, as `key=value` lines joined by a line feed. `auth_date` (Unix seconds)
tells how old the launch is. (https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app)

The note form's link (`FormLinks`) is a sealed token: AES-GCM, under a key derived from the council's own, of
what it opens (a draft's question at a version, a follow-up's note or details), for which messenger user, and
when it was made. It has a fresh random 96-bit nonce and a 128-bit tag: it cannot be guessed, forged, or moved to
another council, and showing one writes nothing. What makes it usable once is the record of its use (only the
SHA-256 of the token, `link_token_hash`), written in the transaction that stores what its form posted. The
page's CSRF token is an HMAC of that hash under a secret derived from the same key: a form posted from anywhere
but the page fetched with the link is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import parse_qsl, urlencode

from core.crypto import Sealer, SealError

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


# ---------------------------------------------------------------------------------------------------------------
# The note form's links: /note/{bot_id}/{token}. The token is sealed (AES-GCM under a key derived from the
# council's) and names what it opens, for whom, and when it was made, so showing a link writes nothing; a link is
# usable once because its use is recorded (storage: used_form_links) in the transaction that stores what it posted.

Purpose = Literal["draft", "note", "read"]
PURPOSES: tuple[Purpose, ...] = ("draft", "note", "read")
LINK_TTL = timedelta(minutes=10)  # a link opened without Telegram's launch data (any messenger, the demo)
# A Mini App button proves who opens it each time (initData, at most INIT_DATA_MAX_AGE old), so its link may stay
# on a screen longer: a day, after which the screen must be shown again.
LAUNCHED_LINK_TTL = timedelta(days=1)
USED_KEPT = LAUNCHED_LINK_TTL + timedelta(hours=1)  # a use is remembered longer than any link lives
_WHERE = "form_link"


class LinkError(ValueError):
    """A link that opens nothing: `reason` is one word (malformed, forged, expired)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a link opens: a draft's question (`subject` the draft, at `version`, on `step`), a follow-up's new
    note or its details (`subject` the follow-up), for the messenger user `user_id`."""

    purpose: Purpose
    user_id: int
    subject: int
    issued_at: int  # Unix seconds
    version: int = 0
    step: str = ""

    def issued(self) -> datetime:
        return datetime.fromtimestamp(self.issued_at, UTC)


class FormLinks:
    """Makes and reads the note form's links of one bot (one council)."""

    def __init__(self, sealer: Sealer, base_url: str, bot_id: int) -> None:
        self._sealer = sealer.derived("fieldbot form links")
        self.base_url = base_url.rstrip("/")
        self.bot_id = bot_id
        # Bound to the bot too: a link is refused on another bot's path, even under the same key.
        self._where = f"{_WHERE}:{bot_id}"
        self.csrf_secret = hmac.new(b"fieldbot form csrf", self._sealer.key_id, hashlib.sha256).digest()

    def token(self, claims: LinkClaims) -> str:
        fields = (claims.purpose, claims.user_id, claims.subject, claims.version, claims.step, claims.issued_at)
        sealed = self._sealer.seal("|".join(str(f) for f in fields), self._where)
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def url(self, claims: LinkClaims) -> str:
        return f"{self.base_url}{note_path(self.bot_id, self.token(claims))}"

    def read(self, token: str, now: datetime, *, launched: bool) -> LinkClaims:
        """The claims of a link made by this bot and still alive (`launched`: opened as a Mini App, whose launch
        data was checked); else LinkError."""
        if not _TOKEN.fullmatch(token):
            raise LinkError("malformed")
        try:
            blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            purpose, user, subject, version, step, issued = self._sealer.open(blob, self._where).split("|")
            claims = LinkClaims(_purpose(purpose), int(user), int(subject), int(issued), int(version), step)
        except SealError:
            raise LinkError("forged") from None
        except ValueError:
            raise LinkError("malformed") from None
        age = now - claims.issued()
        if not timedelta(seconds=-60) <= age <= (LAUNCHED_LINK_TTL if launched else LINK_TTL):
            raise LinkError("expired")
        return claims


_TOKEN = re.compile(r"[A-Za-z0-9_-]{40,200}")
NOTE_ROUTE = "/note/{bot_id}/{token}"


def note_path(bot_id: int, token: str) -> str:
    return NOTE_ROUTE.format(bot_id=bot_id, token=token)


def _purpose(text: str) -> Purpose:
    for purpose in PURPOSES:
        if purpose == text:
            return purpose
    raise ValueError(text)
