"""A thin client of the LINE WORKS Bot API 2.0 over aiohttp: service-account auth, sends, a per-minute budget,
back-off on 429, and the callback signature check. No SDK: the `lineworks` package speaks API 1.0 (shut down in
2023) and `line-works-sdk` logs in as a user with a password.

What each rule rests on (developers.worksmobile.com, /jp/docs/… and /en/docs/…; lineworks/works-api-code-samples):

- auth-jwt: a JWT with header {"alg": "RS256", "typ": "JWT"} and claims iss = client id, sub = service account,
  iat, exp (unix seconds; the official samples use exp = iat + 3600; a Qiita guide, not the docs, says 60 minutes
  at most), signed with the app's private key, is exchanged at https://auth.worksmobile.com/oauth2/v2.0/token
  (form-encoded: assertion, grant_type = urn:ietf:params:oauth:grant-type:jwt-bearer, client_id, client_secret,
  scope). The access token lives 1 hour or 24 hours (a console setting); the answer carries access_token,
  refresh_token, token_type, expires_in (a string in the official Java sample's model: we take a string or a
  number) and scope.
- The official samples (Python, Node.js, Java) renew the token when a send answers 403 with code UNAUTHORIZED; a
  LINE WORKS forum thread shows 401 {"code": "UNAUTHORIZED", "description": "Authentication failed."} for a token
  an API does not take. We renew once on either, then report the refusal.
- bot-user-message-send: POST https://www.worksapis.com/v1.0/bots/{botId}/users/{userId}/messages with body
  {"content": …}, userId URL-encoded; it answers 201 with no message id. The channel variant is
  /bots/{botId}/channels/{channelId}/messages.
- rate-limits: limits apply per API and per LINE WORKS domain (60 requests a minute on the free plan, 240 on paid
  plans); beyond, 429 {"code": "TOO_MANY_REQUESTS", "description": "API rate limit exceeded"}. Rate-limited APIs
  answer with the headers rateLimit-used (misspelt "rateLimit-ssed" on the English page), rateLimit-limit,
  rateLimit-remaining and rateLimit-reset (seconds until the window resets). Retry-After is not mentioned; we
  honour it if it ever comes. The page also advises half the limit for calls sustained over 30 minutes: that is
  the budget's setting, not this module's. Whether the window is fixed or sliding is not said: our budget is a
  sliding window, which keeps any fixed window under the limit too.
- bot-persistentmenu-create (https://developers.worksmobile.com/jp/docs/bot-persistentmenu-create, /en/ and /kr/
  alike): POST https://www.worksapis.com/v1.0/bots/{botId}/persistentmenu with body {"content": {"actions": […]}},
  at most 4 actions of type message, uri or copy; scope bot or bot.message. The success status is not on the pages
  we could read: any 2xx is success. One menu for every member of the bot's rooms; a rich menu replaces it.
  bot-persistentmenu-delete (https://developers.worksmobile.com/kr/docs/bot-persistentmenu-delete): DELETE on the
  same path, answered 204 No Content. (bot-persistentmenu-get, GET on the same path, is not used here.)
- Files and images (bot-attachment-create, file-upload, bot-send-file, bot-send-image; the pages and what they
  leave unsaid: bot/lineworks/files.py): create an attachment (a file id and a one-use upload URL), upload the
  bytes to that URL as multipart "Filedata" with the same Authorization header, then send a file or image content
  naming the file id. Each step goes through the machinery below (token renewal, budget, retries).
- bot-callback: X-WORKS-Signature = base64(HMAC-SHA256(key = bot secret, message = the raw body)), X-WORKS-BotId
  names the bot; header names are to be read case-insensitively.

Sending, and what an error means (`LineWorksError.outcome`; the menu calls go through the same machinery):

- REFUSED: nothing was delivered: LINE WORKS answered an error (400, 403, 404, a 429 after the retries), or the
  message never left (no token, the connection could not be opened). The caller may send again.
- UNKNOWN: the request went out and its answer was lost (the connection closed or timed out after sending), or
  LINE WORKS answered 5xx. The message may have been delivered. LINE WORKS has no idempotency key and a send
  answers with no message id, so a retry could show the message twice: it is NOT retried here, and the caller
  records the send as unknown (the user may or may not have the message; a later screen resends the state).
- Retried here, a bounded number of times (`max_retries`): 429 (after the wait the rateLimit-reset header gives,
  else Retry-After, else 1, 2, 4… seconds as the official samples do) and a connection that could not be opened.
  One token renewal per send on UNAUTHORIZED. Never an endless loop.
- A file or an image (`send_file`, `send_image`): any failure at the attachment or upload step is REFUSED, even a
  lost answer or a 5xx there, because nothing was shown to the user (an orphan upload expires in 24 hours); the
  final send keeps the rules above, so its lost answer is UNKNOWN and not retried. Sending again makes a new
  attachment: an upload URL serves once.

The token endpoint is a different API from the sends and does not draw on the send budget.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bot.lineworks.files import (
    Attachment,
    attachment_path,
    attachment_request,
    check_png,
    parse_attachment,
    upload_form,
    upload_url_allowed,
)
from handlers.lineworks.content import file_content, image_content, menu_content, validate_content

log = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://www.worksapis.com/v1.0"  # bot-user-message-send, api-call
DEFAULT_AUTH_URL = "https://auth.worksmobile.com/oauth2/v2.0/token"  # auth-jwt, the official samples
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME = 3600  # exp = iat + 1 hour, as the samples; LINE WORKS takes at most 60 minutes
DEFAULT_TOKEN_LIFETIME = 3600  # when expires_in is missing or unreadable: the shorter of the two lifetimes
WINDOW = 60.0  # seconds: the limits are per minute

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Outcome(Enum):
    REFUSED = "refused"  # nothing delivered; sending again is safe
    UNKNOWN = "unknown"  # the answer was lost: the message may have been delivered


class LineWorksError(Exception):
    """A send (or the token it needed) that did not succeed; `outcome` says whether the message may be out."""

    def __init__(self, message: str, *, outcome: Outcome, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.status = status
        self.code = code

    @property
    def may_have_sent(self) -> bool:
        return self.outcome is Outcome.UNKNOWN


class LineWorksAuthError(LineWorksError):
    """The token endpoint refused the service account's JWT, or could not be reached: nothing was sent."""


# ---------------------------------------------------------------- signatures
def sign_body(bot_secret: str | bytes, raw_body: bytes) -> str:
    """The X-WORKS-Signature LINE WORKS puts on a callback (bot-callback)."""
    key = bot_secret.encode() if isinstance(bot_secret, str) else bot_secret
    return base64.b64encode(hmac.new(key, raw_body, hashlib.sha256).digest()).decode("ascii")


def verify_signature(bot_secret: str | bytes, raw_body: bytes, header_value: str | None) -> bool:
    """Whether X-WORKS-Signature matches the raw body, compared in constant time. A missing header is False."""
    if not header_value:
        return False
    try:
        given = header_value.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(given, sign_body(bot_secret, raw_body).encode("ascii"))


# ---------------------------------------------------------------- the service-account JWT
def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact(part: Mapping[str, object]) -> bytes:
    return json.dumps(part, separators=(",", ":")).encode()


def service_account_jwt(client_id: str, service_account: str, private_key: rsa.RSAPrivateKey, now: float) -> str:
    """The assertion for the token endpoint (auth-jwt): RS256 over base64url(header).base64url(claims), no padding
    (RFC 7515), iat and exp as numbers."""
    iat = int(now)
    header = {"alg": "RS256", "typ": "JWT"}
    claims = {"iss": client_id, "sub": service_account, "iat": iat, "exp": iat + JWT_LIFETIME}
    signing_input = f"{_b64url(_compact(header))}.{_b64url(_compact(claims))}"
    signature = private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def load_private_key(pem: bytes | str | Path) -> rsa.RSAPrivateKey:
    """The app's private key, from PEM bytes or a PEM file (LINEWORKS_PRIVATE_KEY_FILE)."""
    data = Path(pem).read_bytes() if isinstance(pem, str | Path) else pem
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the LINE WORKS private key must be an RSA key (RS256)")
    return key


# ---------------------------------------------------------------- the per-minute budget
class MinuteBudget:
    """At most `per_minute` requests in any 60 seconds (a sliding window), for one LINE WORKS domain. Clients of
    the same domain share one; callers wait in turn. A 429 or rateLimit-remaining: 0 pauses it for everyone."""

    def __init__(self, per_minute: int = 60, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    def pause_for(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                while self._sent and self._sent[0] <= now - WINDOW:
                    self._sent.popleft()
                wait = self._paused_until - now
                if len(self._sent) >= self.per_minute:
                    wait = max(wait, self._sent[0] + WINDOW - now)
                if wait <= 0:
                    self._sent.append(now)
                    return
                await self._sleep(wait)


# ---------------------------------------------------------------- the client
@dataclass(frozen=True)
class _Token:
    value: str
    renew_at: float  # clock() after which it is renewed before use


def _header_seconds(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


class LineWorksClient:
    """One bot's sends. Use as `async with LineWorksClient(...) as client:` or call `close()`.

    `clock` and `sleep` drive the token cache, the budget and the back-off (tests inject fakes); `wall_clock` gives
    the JWT's iat. `budget` is shared by the clients of one LINE WORKS domain; without one, a budget of
    `per_minute` is made for this client alone.
    """

    def __init__(
        self,
        *,
        bot_id: str,
        client_id: str,
        client_secret: str,
        service_account: str,
        private_key: rsa.RSAPrivateKey | bytes | str | Path,
        api_base_url: str = DEFAULT_API_BASE_URL,
        auth_url: str = DEFAULT_AUTH_URL,
        scope: str = "bot",
        per_minute: int = 60,
        budget: MinuteBudget | None = None,
        max_retries: int = 3,
        renew_margin: float = 300.0,
        timeout: float = 30.0,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.bot_id = bot_id
        self.client_id = client_id
        self._client_secret = client_secret
        self.service_account = service_account
        self._private_key = private_key if isinstance(private_key, rsa.RSAPrivateKey) else load_private_key(private_key)
        self.api_base_url = api_base_url.rstrip("/")
        self.auth_url = auth_url
        self.scope = scope
        self.budget = budget if budget is not None else MinuteBudget(per_minute, clock=clock, sleep=sleep)
        self.max_retries = max_retries
        self.renew_margin = renew_margin
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._session = session
        self._owns_session = session is None
        self._token: _Token | None = None
        self._auth_lock = asyncio.Lock()
        self.token_fetches = 0  # how many times the token endpoint was asked (for tests and logs)

    async def __aenter__(self) -> LineWorksClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._owns_session = True
        return self._session

    # ------------------------------------------------------------ auth
    def _fresh(self) -> str | None:
        token = self._token
        return token.value if token is not None and self._clock() < token.renew_at else None

    async def access_token(self) -> str:
        """The cached access token, fetched or renewed first when it is missing or near its end; concurrent
        callers wait for one fetch."""
        value = self._fresh()
        if value is not None:
            return value
        async with self._auth_lock:
            value = self._fresh()
            return value if value is not None else await self._fetch_token()

    async def _renew(self, stale: str) -> None:
        """Renew after LINE WORKS refused `stale`, unless another caller already did."""
        async with self._auth_lock:
            if self._token is not None and self._token.value != stale:
                return
            self._token = None
            await self._fetch_token()

    async def _fetch_token(self) -> str:
        assertion = service_account_jwt(self.client_id, self.service_account, self._private_key, self._wall_clock())
        form = {
            "assertion": assertion,
            "grant_type": JWT_BEARER,
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "scope": self.scope,
        }
        self.token_fetches += 1
        try:
            async with self._http().post(self.auth_url, data=form) as answer:
                status = answer.status
                body = await answer.json(content_type=None) if answer.content_length != 0 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise LineWorksAuthError(f"token endpoint: {type(exc).__name__}", outcome=Outcome.REFUSED) from exc
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            code = body.get("error") if isinstance(body, dict) else None
            log.warning("LINE WORKS token request refused: status %s, error %s", status, code)
            raise LineWorksAuthError(f"token endpoint answered {status}", outcome=Outcome.REFUSED, status=status)
        try:
            lifetime = float(body.get("expires_in", DEFAULT_TOKEN_LIFETIME))
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME
        margin = min(self.renew_margin, lifetime / 2)
        self._token = _Token(body["access_token"], self._clock() + lifetime - margin)
        return self._token.value

    # ------------------------------------------------------------ sends
    async def send_message(self, user_id: str, content: Mapping[str, Any], *, validate: bool = True) -> None:
        """Send `content` to one user (1:1 with the bot). Raises ValueError on a limit (before sending) and
        LineWorksError when it did not go through."""
        path = f"/bots/{quote(self.bot_id, safe='')}/users/{quote(user_id, safe='')}/messages"
        await self._send(path, content, validate=validate)

    async def send_channel_message(self, channel_id: str, content: Mapping[str, Any], *, validate: bool = True) -> None:
        """Send `content` to a message room the bot is in."""
        path = f"/bots/{quote(self.bot_id, safe='')}/channels/{quote(channel_id, safe='')}/messages"
        await self._send(path, content, validate=validate)

    # ------------------------------------------------------------ the persistent menu
    async def set_persistent_menu(self, actions: Sequence[Mapping[str, Any]], *, validate: bool = True) -> None:
        """Register the bot's persistent menu (bot-persistentmenu-create), replacing any before it. Raises
        ValueError on a limit (before sending: at most 4 message, uri or copy actions, labels of at most 20
        characters) and LineWorksError when it did not go through; registering again is harmless."""
        content = menu_content(actions) if validate else {"actions": [dict(a) for a in actions]}
        await self._call("POST", self._menu_path(), {"content": content}, "persistent menu")

    async def delete_persistent_menu(self) -> None:
        """Remove the bot's persistent menu (bot-persistentmenu-delete)."""
        await self._call("DELETE", self._menu_path(), None, "persistent menu delete")

    def _menu_path(self) -> str:
        return f"/bots/{quote(self.bot_id, safe='')}/persistentmenu"

    # ------------------------------------------------------------ files and images
    async def send_file(self, user_id: str, filename: str, content: bytes) -> None:
        """Send `content` to one user as a file named `filename` (an XLSX or CSV export): create an attachment,
        upload the bytes, send a file message naming its file id (bot-attachment-create, file-upload,
        bot-send-file). Raises ValueError before anything goes out (an empty file; a name LINE WORKS would not
        take, such as .exe). LineWorksError: REFUSED when the attachment or upload step failed, whatever the
        cause (nothing was shown to the user; sending again is safe); the final send's own outcome otherwise
        (UNKNOWN when its answer was lost: not retried, the user may have the file)."""
        await self._send_attachment(user_id, filename, content, file_content)

    async def send_image(self, user_id: str, filename: str, png: bytes) -> None:
        """Send a PNG image (a report's chart) to one user, shown in the chat (bot-send-image); the steps and the
        errors are those of `send_file`. Raises ValueError unless `png` is a PNG."""
        check_png(png)
        await self._send_attachment(user_id, filename, png, image_content)

    async def _send_attachment(
        self, user_id: str, filename: str, content: bytes, build: Callable[[str], dict[str, Any]]
    ) -> None:
        request = attachment_request(filename, content)
        try:
            attachment = await self._upload(request, filename, content)
        except LineWorksError as exc:
            if exc.outcome is Outcome.REFUSED:
                raise
            log.warning("LINE WORKS attachment failed before the message (%s): refused, nothing was shown", exc)
            raise LineWorksError(
                f"attachment not uploaded: {exc}", outcome=Outcome.REFUSED, status=exc.status, code=exc.code
            ) from exc
        await self.send_message(user_id, build(attachment.file_id))

    async def _upload(self, request: Mapping[str, Any], filename: str, content: bytes) -> Attachment:
        answer = await self._call("POST", attachment_path(self.bot_id), request, "attachment create")
        try:
            attachment = parse_attachment(answer)
        except ValueError as exc:
            raise LineWorksError(f"attachment create: {exc}", outcome=Outcome.REFUSED) from exc
        if not upload_url_allowed(attachment.upload_url, self.api_base_url):
            # The access token goes with the upload: never over plain HTTP to a host that is not the API's.
            raise LineWorksError(
                "attachment create answered an upload URL we will not send the token to", outcome=Outcome.REFUSED
            )
        await self._exchange(
            "POST", attachment.upload_url, lambda: upload_form(filename, content), None, "attachment upload"
        )
        return attachment

    # ------------------------------------------------------------ one call, with its renewals and retries
    async def _send(self, path: str, content: Mapping[str, Any], *, validate: bool) -> None:
        if validate:
            validate_content(content)
        await self._call("POST", path, {"content": content}, "send")

    async def _call(self, method: str, path: str, payload: Mapping[str, Any] | None, operation: str) -> Any:
        """One API call with a JSON body (or none); the parsed JSON of its 2xx answer (None when it has no body)."""
        body = json.dumps(payload, ensure_ascii=False).encode() if payload is not None else None
        content_type = "application/json" if body is not None else None
        return await self._exchange(method, self.api_base_url + path, lambda: body, content_type, operation)

    async def _exchange(
        self, method: str, url: str, make_body: Callable[[], Any], content_type: str | None, operation: str
    ) -> Any:
        """One request to `url`: token (renewed once on UNAUTHORIZED), budget, bounded retries on 429 and on a
        connection never opened; `make_body` gives each attempt its body; `operation` names it in logs (never the
        URL: it may hold a user id or a file name). Returns the parsed JSON of the 2xx answer, or None."""
        renewed = False
        retries = 0
        while True:
            token = await self.access_token()
            await self.budget.acquire()
            try:
                status, headers, answer = await self._request(method, url, token, make_body(), content_type)
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
                # The connection was never opened: nothing left; safe to try again, a few times.
                if retries >= self.max_retries:
                    raise LineWorksError(f"cannot connect: {type(exc).__name__}", outcome=Outcome.REFUSED) from exc
                retries += 1
                await self._sleep(2.0 ** (retries - 1))
                continue
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning(
                    "LINE WORKS %s: answer lost (%s); reported as unknown, not retried", operation, type(exc).__name__
                )
                raise LineWorksError(f"answer lost: {type(exc).__name__}", outcome=Outcome.UNKNOWN) from exc
            self._note_rate_limit(headers)
            if 200 <= status < 300:
                return answer
            code = answer.get("code") if isinstance(answer, dict) else None
            if status in (401, 403) and code == "UNAUTHORIZED" and not renewed:
                log.info("LINE WORKS answered %s UNAUTHORIZED: renewing the access token once", status)
                renewed = True
                await self._renew(token)
                continue
            if status == 429 and retries < self.max_retries:
                retries += 1
                delay = self._retry_delay(headers, retries)
                log.warning("LINE WORKS 429: waiting %.1fs, retry %d of %d", delay, retries, self.max_retries)
                self.budget.pause_for(delay)
                continue
            outcome = Outcome.UNKNOWN if status >= 500 else Outcome.REFUSED
            log.warning("LINE WORKS %s failed: status %s, code %s, %s", operation, status, code, outcome.value)
            raise LineWorksError(f"LINE WORKS answered {status} {code}", outcome=outcome, status=status, code=code)

    async def _request(
        self, method: str, url: str, token: str, body: Any, content_type: str | None
    ) -> tuple[int, Mapping[str, str], Any]:
        headers = {"Authorization": f"Bearer {token}"}
        if content_type is not None:  # a FormData sets its own multipart type and boundary
            headers["Content-Type"] = content_type
        async with self._http().request(method, url, data=body, headers=headers) as answer:
            raw = await answer.read()
            try:
                parsed: Any = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            return answer.status, answer.headers, parsed

    def _note_rate_limit(self, headers: Mapping[str, str]) -> None:
        """rateLimit-remaining: 0 means the next call would be refused: pause the budget until the reset."""
        if headers.get("rateLimit-remaining", "").strip() == "0":
            reset = _header_seconds(headers, "rateLimit-reset")
            if reset is not None:
                self.budget.pause_for(reset)

    @staticmethod
    def _retry_delay(headers: Mapping[str, str], retry: int) -> float:
        for name in ("rateLimit-reset", "Retry-After"):
            seconds = _header_seconds(headers, name)
            if seconds is not None:
                return max(seconds, 1.0)
        return 2.0 ** (retry - 1)
