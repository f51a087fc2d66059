"""A simulated LINE WORKS (Bot API 2.0) on 127.0.0.1 for tests and the demo: the token endpoint, the message
endpoints with LINE WORKS's limits and rate limit, a log of accepted messages, signed callbacks to the bot, and
faults. It never imports the bot; the client in bot/lineworks is pointed at it through its base URLs.

What it copies, and from where (developers.worksmobile.com, /jp/docs/… and /en/docs/…):

- auth-jwt: POST {auth_url} (form: assertion, grant_type = urn:ietf:params:oauth:grant-type:jwt-bearer,
  client_id, client_secret, scope). The assertion is an RS256 JWT, iss = client id, sub = service account, iat,
  exp (at most 60 minutes after iat: a Qiita guide says so; not found in the docs), checked against the
  configured public key.
  Tokens live `token_lifetime` seconds (LINE WORKS: 1 hour or 24 hours); the answer carries expires_in as a
  string, as the official Java sample's model reads it. The error answers are OAuth 2.0's (RFC 6749 §5.2:
  {"error", "error_description"}): LINE WORKS's own wording for them was not found in the pages we could read.
- bot-user-message-send / channel send: POST /v1.0/bots/{botId}/users/{userId}/messages and …/channels/{channelId}/
  messages, body {"content": …}, answered 201 with an empty body.
- Errors are {"code", "description"} (the official samples' ErrorResponse). An expired token: 403 UNAUTHORIZED
  (what the official samples renew on); a token never issued: 401 UNAUTHORIZED "Authentication failed." (a
  LINE WORKS forum thread). A content breaking a limit: 400 INVALID_PARAMETER (the code LINE WORKS's error tables
  use for invalid parameters; the exact description text is ours).
- Limits (bot-send-text, bot-quickreply, bot-actionobject, bot-send-button): text ≤ 2,000 characters; ≤ 13
  quick-reply items; action labels ≤ 20 characters; postback data ≤ 300; displayText required in a quick reply;
  ≤ 10 buttons in a button template, and no postback action there.
- bot-persistentmenu-create / -delete: POST and DELETE /v1.0/bots/{botId}/persistentmenu, each its own API in the
  rate limit; what they refuse and what a press sends: simulator/lineworks_menu.py.
- bot-attachment-create, the upload URL, and file / image contents naming a fileId: simulator/lineworks_files.py
  (`attachments`; what was uploaded is in `files`: file id -> (fileName, bytes)).
- rate-limits: per API and per domain (this simulator is one domain), `per_minute` calls a minute, then 429
  {"code": "TOO_MANY_REQUESTS", "description": "API rate limit exceeded"}; every answer of a rate-limited API
  carries rateLimit-used / -limit / -remaining / -reset (seconds to the reset). The docs do not say whether the
  minute is fixed or sliding: here it is a fixed minute of the simulator's clock.
- bot-callback, bot-callback-message, bot-callback-postback: each event is POSTed once to the callback URL with
  X-WORKS-BotId and X-WORKS-Signature = base64(HMAC-SHA256(bot secret, raw body)); a failed POST is never resent.
  Events carry issuedTime (YYYY-MM-DDThh:mm:ss.SSSZ) and source.userId, source.domainId, source.channelId in a
  room; no event id. A message action's press is a message event with content.text and content.postback; a
  postback action's press is a postback event with data. Ambiguous: the postback-event page lists carousels and
  rich menus as its sources, not quick replies, though a quick reply may carry postback actions; we send a
  postback event for those too (as LINE's Messaging API does) and no message event for their displayText.

Faults: `drop_callbacks` (the next n events are never POSTed), `callback_delay` (seconds before each POST, slept
with the injectable `sleep`), `hold_callbacks()` / `release_callbacks(order)` (reordering), `lose_answers` (the
next n sends are stored, then the connection is closed before the answer), `reject_tokens` (every token answered
as expired), `expire_tokens()`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from simulator.faults import drop_connection
from simulator.lineworks_files import SimulatedAttachments
from simulator.lineworks_menu import MAX_MENU_LABEL, menu_press, menu_problem

JSONDict = dict[str, Any]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_JWT_LIFETIME = 3600
CLOCK_SKEW = 60  # seconds an iat may lie ahead of our clock
MAX_TEXT, MAX_QUICK_REPLY_ITEMS, MAX_LABEL, MAX_DATA, MAX_DISPLAY_TEXT, MAX_BUTTONS = 2000, 13, 20, 300, 300, 10
QUICK_REPLY_ACTIONS = frozenset({"postback", "message", "uri", "camera", "cameraRoll", "location", "copy"})
BUTTON_ACTIONS = frozenset({"message", "uri", "copy"})
TOO_MANY = {"code": "TOO_MANY_REQUESTS", "description": "API rate limit exceeded"}


def sign(bot_secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(bot_secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


def make_key_pair() -> tuple[bytes, bytes]:
    """A fresh RSA key pair as PEM (private PKCS#8, public SubjectPublicKeyInfo), as the Developer Console issues."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def issued_time(now: float) -> str:
    moment = datetime.fromtimestamp(now, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _unb64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _length_problem(name: str, value: object, limit: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        return f"{name} is required"
    return f"{name} exceeds {limit} characters" if len(value) > limit else None


def action_problem(action: object, *, quick_reply: bool) -> str | None:
    if not isinstance(action, Mapping):
        return "action must be an object"
    kind = action.get("type")
    if kind == "postback":
        return (
            _length_problem("label", action.get("label"), MAX_LABEL)
            or _length_problem("data", action.get("data"), MAX_DATA)
            or _length_problem("displayText", action.get("displayText"), MAX_DISPLAY_TEXT, required=quick_reply)
        )
    if kind == "message":
        return _length_problem("label", action.get("label"), MAX_LABEL)
    if kind in QUICK_REPLY_ACTIONS:
        return _length_problem("label", action.get("label"), MAX_LABEL, required=False)
    return f"unknown action type: {kind}"


def _buttons_problem(content: Mapping[str, Any]) -> str | None:
    actions = content.get("actions")
    if not isinstance(actions, list) or not 1 <= len(actions) <= MAX_BUTTONS:
        return f"actions must hold 1 to {MAX_BUTTONS} buttons"
    for action in actions:
        kind = action.get("type") if isinstance(action, Mapping) else None
        if kind not in BUTTON_ACTIONS:
            return f"{kind} action is not allowed in button_template"
        problem = action_problem(action, quick_reply=False)
        if problem:
            return problem
    return _length_problem("contentText", content.get("contentText"), 1000)


def _quick_reply_problem(quick: object) -> str | None:
    items = quick.get("items") if isinstance(quick, Mapping) else None
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_QUICK_REPLY_ITEMS:
        return f"quickReply.items must hold 1 to {MAX_QUICK_REPLY_ITEMS} items"
    for item in items:
        action = item.get("action") if isinstance(item, Mapping) else None
        if not isinstance(action, Mapping) or action.get("type") not in QUICK_REPLY_ACTIONS:
            return "quickReply.items[].action is invalid"
        problem = action_problem(action, quick_reply=True)
        if problem:
            return problem
    return None


def content_problem(content: object) -> str | None:
    """Why LINE WORKS would answer 400 to this content (the limits above), or None. Types we do not model pass."""
    if not isinstance(content, Mapping) or not isinstance(content.get("type"), str):
        return "content.type is required"
    problem: str | None = None
    if content["type"] == "text":
        problem = _length_problem("text", content.get("text"), MAX_TEXT)
    elif content["type"] == "button_template":
        problem = _buttons_problem(content)
    if problem is None and content.get("quickReply") is not None:
        problem = _quick_reply_problem(content["quickReply"])
    return problem


def _error(status: int, code: str, description: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"code": code, "description": description}, status=status, headers=headers)


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


async def _content(request: web.Request) -> object:
    """The request body's "content", or None when the body is not JSON or has none."""
    try:
        body = json.loads(await request.read())
    except ValueError:
        return None
    return body.get("content") if isinstance(body, dict) else None


@dataclass
class CallbackDelivery:
    """One event for the bot: `status` is the HTTP status of its one POST (None: no answer, or not POSTed)."""

    event: JSONDict
    body: bytes
    status: int | None = None
    dropped: bool = False
    pending: bool = False
    error: str | None = None


@dataclass
class SentMessage:
    """A message the simulated LINE WORKS accepted (a lost answer's message included)."""

    to: str
    channel: bool
    content: JSONDict
    answer_lost: bool = False


@dataclass
class LineWorksSimulator:
    """The simulated LINE WORKS. With no `public_key`, it makes a key pair and keeps the private half in
    `private_key_pem` for the client. `clock` is unix seconds (JWTs, tokens, the rate-limit minute, issuedTime)."""

    public_key: bytes | rsa.RSAPublicKey | None = None
    bot_id: str = "2000001"
    bot_secret: str = "sim-bot-secret"
    client_id: str = "sim-client-id"
    client_secret: str = "sim-client-secret"
    service_account: str = "sim.serviceaccount@example.com"
    domain_id: int = 40029600
    per_minute: int = 60
    menu_label_limit: int = MAX_MENU_LABEL  # the create page says 1,000: see simulator/lineworks_menu.py
    token_lifetime: int = 86400
    callback_url: str | None = None
    callback_timeout: float = 10.0
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # faults (set them directly)
    reject_tokens: bool = False
    lose_answers: int = 0
    drop_callbacks: int = 0
    callback_delay: float = 0.0
    # state, for tests and the demo
    private_key_pem: bytes | None = field(default=None, init=False)
    sent: list[SentMessage] = field(default_factory=list, init=False)
    tokens: dict[str, float] = field(default_factory=dict, init=False)  # access token -> expiry (clock)
    token_requests: int = field(default=0, init=False)
    requests: list[tuple[str, int | None]] = field(default_factory=list, init=False)  # status None: answer lost
    callbacks: list[CallbackDelivery] = field(default_factory=list, init=False)
    persistent_menu: list[JSONDict] | None = field(default=None, init=False)  # the registered actions
    attachments: SimulatedAttachments = field(init=False, repr=False)  # uploads, their limits and faults
    host: str = field(default="127.0.0.1", init=False)
    port: int | None = field(default=None, init=False)
    _key: rsa.RSAPublicKey | None = field(default=None, init=False, repr=False)
    _held: list[CallbackDelivery] | None = field(default=None, init=False, repr=False)
    _windows: dict[str, tuple[int, int]] = field(default_factory=dict, init=False, repr=False)  # op -> (minute, n)
    _runner: web.AppRunner | None = field(default=None, init=False, repr=False)
    _session: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        public = self.public_key
        if public is None:
            self.private_key_pem, public = make_key_pair()
        key = serialization.load_pem_public_key(public) if isinstance(public, bytes) else public
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("the service account's key must be RSA (RS256)")
        self._key = key
        self.attachments = SimulatedAttachments(self)

    # ------------------------------------------------------------ running
    async def __aenter__(self) -> LineWorksSimulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("the LINE WORKS simulator is already running")
        app = web.Application()
        app.router.add_post("/oauth2/v2.0/token", self._handle_token)
        app.router.add_post("/v1.0/bots/{bot_id}/users/{target}/messages", self._handle_user_send)
        app.router.add_post("/v1.0/bots/{bot_id}/channels/{target}/messages", self._handle_channel_send)
        app.router.add_post("/v1.0/bots/{bot_id}/persistentmenu", self._handle_menu_create)
        app.router.add_delete("/v1.0/bots/{bot_id}/persistentmenu", self._handle_menu_delete)
        self.attachments.add_routes(app)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner, self.host, self.port = runner, host, int(runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the LINE WORKS simulator is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def api_base_url(self) -> str:
        """What LINEWORKS_API_BASE_URL points at."""
        return self.base_url + "/v1.0"

    @property
    def auth_url(self) -> str:
        """What LINEWORKS_AUTH_URL points at."""
        return self.base_url + "/oauth2/v2.0/token"

    def bot_settings(self, private_key_file: Path | str) -> dict[str, str]:
        """The LINEWORKS_* settings of a bot pointed at this simulator (environment names: lower-case them for
        Settings(**…)), its private key being the file the caller wrote `private_key_pem` to."""
        return {
            "LINEWORKS_BOT_ID": self.bot_id,
            "LINEWORKS_BOT_SECRET": self.bot_secret,
            "LINEWORKS_CLIENT_ID": self.client_id,
            "LINEWORKS_CLIENT_SECRET": self.client_secret,
            "LINEWORKS_SERVICE_ACCOUNT": self.service_account,
            "LINEWORKS_PRIVATE_KEY_FILE": str(private_key_file),
            "LINEWORKS_API_BASE_URL": self.api_base_url,
            "LINEWORKS_AUTH_URL": self.auth_url,
        }

    @property
    def files(self) -> dict[str, tuple[str, bytes]]:
        """What was uploaded: file id -> (fileName, bytes)."""
        return self.attachments.files

    def messages(self, to: str, *, channel: bool = False) -> list[JSONDict]:
        """The contents accepted for one user (or room), oldest first."""
        return [m.content for m in self.sent if m.to == to and m.channel == channel]

    def expire_tokens(self) -> None:
        now = self.clock()
        for token in self.tokens:
            self.tokens[token] = now

    # ------------------------------------------------------------ the token endpoint
    async def _handle_token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        form = await request.post()
        if form.get("grant_type") != JWT_BEARER:
            return _oauth_error(400, "unsupported_grant_type", "grant_type must be " + JWT_BEARER)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return _oauth_error(401, "invalid_client", "client authentication failed")
        scope = str(form.get("scope") or "")
        if not {"bot", "bot.message"} & set(re.split(r"[\s,]+", scope)):
            return _oauth_error(400, "invalid_scope", "the bot scope is required")
        problem = self._assertion_problem(str(form.get("assertion") or ""))
        if problem is not None:
            return _oauth_error(400, "invalid_grant", problem)
        token = "sim-" + secrets.token_urlsafe(24)
        self.tokens[token] = self.clock() + self.token_lifetime
        answer = {
            "access_token": token,
            "refresh_token": "sim-refresh-" + secrets.token_urlsafe(12),
            "scope": scope,
            "token_type": "Bearer",
            "expires_in": str(self.token_lifetime),
        }
        return web.json_response(answer)

    def _assertion_problem(self, assertion: str) -> str | None:
        """Why the token endpoint refuses this JWT (auth-jwt), or None."""
        parts = assertion.split(".")
        try:
            header, claims = json.loads(_unb64url(parts[0])), json.loads(_unb64url(parts[1]))
            signature = _unb64url(parts[2])
        except (ValueError, IndexError, binascii.Error):
            return "the assertion is not a JWT"
        if len(parts) != 3 or not isinstance(header, dict) or not isinstance(claims, dict):
            return "the assertion is not a JWT"
        if header.get("alg") != "RS256":
            return "the assertion must be signed with RS256"
        assert self._key is not None
        try:
            self._key.verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return "the assertion's signature does not verify"
        return self._claims_problem(claims)

    def _claims_problem(self, claims: JSONDict) -> str | None:
        if claims.get("iss") != self.client_id or claims.get("sub") != self.service_account:
            return "iss or sub does not name this app's client id and service account"
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int | float) or not isinstance(exp, int | float) or isinstance(iat, bool):
            return "iat and exp must be numbers"
        now = self.clock()
        if exp <= now:
            return "the assertion has expired"
        if iat > now + CLOCK_SKEW or exp - iat > MAX_JWT_LIFETIME:
            return "iat is in the future or the assertion lives over 60 minutes"
        return None

    # ------------------------------------------------------------ the message endpoints
    async def _handle_user_send(self, request: web.Request) -> web.StreamResponse:
        return await self._handle_send(request, "user-message-send", channel=False)

    async def _handle_channel_send(self, request: web.Request) -> web.StreamResponse:
        return await self._handle_send(request, "channel-message-send", channel=True)

    async def _handle_send(self, request: web.Request, operation: str, *, channel: bool) -> web.StreamResponse:
        refused, headers = self._admit(request, operation)
        if refused is not None:
            return refused
        content = await _content(request)
        problem = content_problem(content) or self.attachments.content_problem(content)
        if problem is not None:
            self.requests.append((operation, 400))
            return _error(400, "INVALID_PARAMETER", problem, headers)
        assert isinstance(content, dict)
        message = SentMessage(request.match_info["target"], channel, content)
        self.sent.append(message)
        if self.lose_answers > 0:
            self.lose_answers -= 1
            message.answer_lost = True
            self.requests.append((operation, None))
            return drop_connection(request)
        self.requests.append((operation, 201))
        return web.Response(status=201, headers=headers)

    async def _handle_menu_create(self, request: web.Request) -> web.Response:
        operation = "persistentmenu-create"
        refused, headers = self._admit(request, operation)
        if refused is not None:
            return refused
        content = await _content(request)
        problem = menu_problem(content, self.menu_label_limit)
        if problem is not None:
            self.requests.append((operation, 400))
            return _error(400, "INVALID_PARAMETER", problem, headers)
        assert isinstance(content, dict)
        self.persistent_menu = [dict(action) for action in content["actions"]]  # the new menu replaces the old
        self.requests.append((operation, 201))
        return web.Response(status=201, headers=headers)

    async def _handle_menu_delete(self, request: web.Request) -> web.Response:
        operation = "persistentmenu-delete"
        refused, headers = self._admit(request, operation)
        if refused is not None:
            return refused
        self.persistent_menu = None  # 204 with no menu too: what LINE WORKS answers then is not documented
        self.requests.append((operation, 204))
        return web.Response(status=204, headers=headers)

    def _admit(self, request: web.Request, operation: str) -> tuple[web.Response | None, dict[str, str]]:
        """The refusal a call gets before its body is read (401/403 token, 404 bot, 429), with the rateLimit
        headers of a call that counted; a refusal is logged in `requests`."""
        refused = self._auth_refusal(request)
        if refused is None and request.match_info["bot_id"] != self.bot_id:
            refused = _error(404, "NOT_FOUND", "bot not found")
        if refused is not None:
            self.requests.append((operation, refused.status))
            return refused, {}
        allowed, headers = self._take_call(operation)
        if not allowed:
            self.requests.append((operation, 429))
            return web.json_response(TOO_MANY, status=429, headers=headers), headers
        return None, headers

    def _auth_refusal(self, request: web.Request) -> web.Response | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        expiry = self.tokens.get(token) if scheme == "Bearer" else None
        if expiry is None:
            return _error(401, "UNAUTHORIZED", "Authentication failed.")
        if self.reject_tokens or expiry <= self.clock():
            return _error(403, "UNAUTHORIZED", "The access token has expired.")  # the wording is ours
        return None

    def _take_call(self, operation: str) -> tuple[bool, dict[str, str]]:
        """Count a call in its minute: whether it is within the limit, and the rateLimit-* headers."""
        now = self.clock()
        minute = int(now // 60)
        seen, calls = self._windows.get(operation, (minute, 0))
        calls = calls if seen == minute else 0
        allowed = calls < self.per_minute
        if allowed:
            calls += 1
        self._windows[operation] = (minute, calls)
        headers = {
            "rateLimit-used": str(calls),
            "rateLimit-limit": str(self.per_minute),
            "rateLimit-remaining": str(max(self.per_minute - calls, 0)),
            "rateLimit-reset": str(max(math.ceil((minute + 1) * 60 - now), 1)),
        }
        return allowed, headers

    # ------------------------------------------------------------ callbacks to the bot
    def event(self, kind: str, user_id: str, *, channel_id: str | None = None, **fields: Any) -> JSONDict:
        source: JSONDict = {"userId": user_id, "domainId": self.domain_id}
        if channel_id is not None:
            source["channelId"] = channel_id
        return {"type": kind, "source": source, "issuedTime": issued_time(self.clock()), **fields}

    async def send_text(
        self, user_id: str, text: str, *, postback: str | None = None, channel_id: str | None = None
    ) -> CallbackDelivery:
        """The user types `text` (with `postback`: the user pressed a message action)."""
        content: JSONDict = {"type": "text", "text": text}
        if postback is not None:
            content["postback"] = postback
        return await self.deliver(self.event("message", user_id, channel_id=channel_id, content=content))

    async def send_postback(self, user_id: str, data: str, *, channel_id: str | None = None) -> CallbackDelivery:
        return await self.deliver(self.event("postback", user_id, channel_id=channel_id, data=data))

    async def press(self, user_id: str, label: str, *, channel_id: str | None = None) -> CallbackDelivery:
        """The user presses the button labelled `label` in the latest message that has one, old ones included."""
        to, channel = (channel_id, True) if channel_id is not None else (user_id, False)
        for content in reversed(self.messages(to, channel=channel)):
            actions = [item.get("action", {}) for item in content.get("quickReply", {}).get("items", [])]
            actions += content.get("actions", []) if content.get("type") == "button_template" else []
            for action in actions:
                if action.get("label") != label:
                    continue
                if action.get("type") == "postback":
                    return await self.send_postback(user_id, action["data"], channel_id=channel_id)
                if action.get("type") == "message":
                    said = action.get("text") or label
                    return await self.send_text(user_id, said, postback=action.get("postback"), channel_id=channel_id)
                raise ValueError(f"pressing a {action.get('type')} action sends no callback")
        raise LookupError(f"no button labelled {label!r} was sent to {to}")

    async def press_menu(self, user_id: str, label: str, *, channel_id: str | None = None) -> CallbackDelivery:
        """The user presses the persistent-menu button labelled `label` (a message action: a message event)."""
        said, postback = menu_press(self.persistent_menu, label)
        return await self.send_text(user_id, said, postback=postback, channel_id=channel_id)

    async def deliver(self, event: JSONDict) -> CallbackDelivery:
        """POST one event to the callback URL, once (unless a fault drops or holds it)."""
        delivery = CallbackDelivery(event, json.dumps(event, ensure_ascii=False).encode())
        self.callbacks.append(delivery)
        if self.drop_callbacks > 0:
            self.drop_callbacks -= 1
            delivery.dropped = True
        elif self._held is not None:
            delivery.pending = True
            self._held.append(delivery)
        else:
            await self._post(delivery)
        return delivery

    def hold_callbacks(self) -> None:
        """Keep the next events back until `release_callbacks` (their issuedTime is still when they happened)."""
        if self._held is None:
            self._held = []

    async def release_callbacks(self, order: Sequence[int] | None = None) -> list[CallbackDelivery]:
        """POST the held events, in `order` (indexes into the held list; by default as they happened)."""
        held, self._held = self._held or [], None
        chosen = [held[i] for i in order] if order is not None else held
        if sorted(map(id, chosen)) != sorted(map(id, held)):
            raise ValueError("order must name every held event once")
        for delivery in chosen:
            delivery.pending = False
            await self._post(delivery)
        return chosen

    async def _post(self, delivery: CallbackDelivery) -> None:
        if self.callback_delay > 0:
            await self.sleep(self.callback_delay)
        if self.callback_url is None:
            delivery.error = "no callback URL"
            return
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "X-WORKS-BotId": self.bot_id,
            "X-WORKS-Signature": sign(self.bot_secret, delivery.body),
        }
        timeout = aiohttp.ClientTimeout(total=self.callback_timeout)
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
            async with self._session.post(self.callback_url, data=delivery.body, headers=headers, timeout=timeout) as a:
                await a.read()
                delivery.status = a.status
        if delivery.status is None:
            delivery.error = "no answer"
