"""Mini App (`web_app`) buttons: the launch link a Telegram app opens, with initData signed as Telegram signs it.

Pressing a web_app inline button sends no update to the bot: the app opens the button's URL in a webview with
the launch parameters in the URL fragment, `#tgWebAppData=<initData>&tgWebAppVersion=…&tgWebAppPlatform=…`.
initData is a query string (`query_id`, `user` as JSON, `auth_date` in Unix seconds, `hash`); the hash is the hex
HMAC-SHA256, under the key HMAC-SHA256(key="WebAppData", msg=bot token), of the data-check string: every field but
`hash`, sorted by key, as `key=value` lines joined by a line feed.
(https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app)

This module signs on its own, from the specification, and does not use core/webapp.py: a test that the bot's
checker accepts what this signs proves that both follow the specification, not that one copies the other.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from simulator.protocol import JSONDict

WEB_APP_VERSION = "8.0"
WEB_APP_PLATFORM = "unknown"
# Hosts a web_app button may name with plain http (see is_allowed_web_app_url); urlsplit drops the [] of ::1.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


def is_allowed_web_app_url(url: str) -> bool:
    """Telegram accepts only https URLs for a Mini App.

    Deliberate deviation: the simulator also accepts http URLs whose host is 127.0.0.1, ::1 or localhost,
    because the tests and the demo serve the form page on this machine without a certificate.
    Any other http URL is refused as Telegram refuses it.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a port that is not a number
    except ValueError:
        return False
    if not host or any(c.isspace() for c in url):
        return False
    if parts.scheme.lower() == "https":
        return True
    if parts.scheme.lower() != "http":
        return False
    return host.lower() in LOOPBACK_HOSTS


def user_json(user: JSONDict) -> str:
    """The `user` field: the user's id, names, username and language, compact JSON as Telegram writes it."""
    keys = ("id", "first_name", "last_name", "username", "language_code")
    shown = {key: user[key] for key in keys if user.get(key) not in (None, "")}
    return json.dumps(shown, ensure_ascii=False, separators=(",", ":"))


def new_query_id() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, like Telegram's


def data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def sign(token: str, fields: dict[str, str]) -> str:
    """The hex `hash` of these fields for the bot with this token."""
    secret_key = hmac.new(b"WebAppData", token.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(secret_key, data_check_string(fields).encode("utf-8"), hashlib.sha256).hexdigest()


def init_data(token: str, user: JSONDict, *, auth_date: int, query_id: str | None = None) -> str:
    """initData for this user (a SimUser's to_json()), signed with the bot's token."""
    fields = {
        "query_id": query_id if query_id is not None else new_query_id(),
        "user": user_json(user),
        "auth_date": str(auth_date),
    }
    return urlencode({**fields, "hash": sign(token, fields)})


def launch_url(url: str, data: str) -> str:
    """The button's URL with the launch parameters in its fragment, as the Telegram app opens it."""
    params = (
        f"tgWebAppData={quote(data, safe='')}&tgWebAppVersion={WEB_APP_VERSION}&tgWebAppPlatform={WEB_APP_PLATFORM}"
    )
    base, hash_mark, fragment = url.partition("#")
    if hash_mark and fragment:
        return f"{base}#{fragment}&{params}"
    return f"{base}#{params}"


def launch_params(url: str) -> dict[str, str]:
    """The launch parameters of a launch URL (what telegram-web-app.js reads from location.hash), decoded:
    `tgWebAppData` is the initData string the page posts to the bot."""
    fragment = url.partition("#")[2]
    return dict(parse_qsl(fragment, keep_blank_values=True))
