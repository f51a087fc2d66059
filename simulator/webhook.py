"""Webhooks as Telegram delivers them: once setWebhook names a URL, every update is POSTed there as JSON with the
secret header; one chat's updates one at a time and in order, chats side by side up to max_connections; an answer
other than 2xx, a timeout or a refused connection is retried later and holds that chat's next updates back.
getUpdates is refused (409) while a webhook is set."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp

from simulator.protocol import OPT_IN_UPDATES, ApiError, JSONDict, Params, bad, deep_copy
from simulator.updates import PendingUpdate

if TYPE_CHECKING:
    from simulator.botapi import LocalBotApi

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)


@dataclass
class Webhook:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None


@dataclass(frozen=True)
class Delivery:
    """One POST of an update: the HTTP status of the answer (None: no answer in time, or no connection)."""

    update_id: int
    status: int | None
    started: float  # time.monotonic() when the POST began
    seconds: float


@dataclass
class WebhookDeliverer:
    """Delivers the bot's pending updates to its webhook while one is set and the server runs."""

    api: LocalBotApi
    config: Webhook | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    # Telegram waits a while before retrying; tests want it short.
    retry_delay: float = 0.2
    timeout: float = 10.0
    last_error: tuple[int, str] | None = None  # (unix date, message), as getWebhookInfo reports it
    # Told of every POST as soon as its answer (or its failure) is in, before anything else runs.
    listeners: list[Callable[[Delivery], None]] = field(default_factory=list)
    _in_flight: dict[int, asyncio.Task[None]] = field(default_factory=dict)  # chat key -> its delivery
    _not_before: dict[int, float] = field(default_factory=dict)  # update id -> earliest retry (monotonic)
    _task: asyncio.Task[None] | None = None
    _session: aiohttp.ClientSession | None = None

    # ---------------------------------------------------------------- the Bot API methods
    def set_webhook(self, p: Params) -> bool:
        url = (p.get_str("url") or "").strip()
        if not url:
            return self.delete_webhook(p)
        if not re.match(r"^https?://[^\s/]+", url):
            raise bad("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.get_str("secret_token")
        if secret is not None and not SECRET_TOKEN.fullmatch(secret):
            raise bad("secret token contains unallowed characters")
        connections = p.get_int("max_connections", 40) or 40
        if not 1 <= connections <= 100:
            raise bad("bad webhook: max_connections must be between 1 and 100")
        allowed = p.get_json("allowed_updates", "allowed updates") if p.has("allowed_updates") else None
        if allowed is not None and not isinstance(allowed, list):
            raise bad("can't parse allowed updates")
        if p.get_bool("drop_pending_updates"):
            self.api.updates.drop_pending()
        previous = self.config
        kept_allowed = previous.allowed_updates if previous is not None else None
        chosen = [str(a) for a in allowed] if allowed is not None else kept_allowed
        self.config = Webhook(url, secret, connections, chosen or None)
        self.api.updates.poll_generation += 1  # a held-open getUpdates ends with a conflict
        self.api._notify()
        return True

    def delete_webhook(self, p: Params) -> bool:
        if p.get_bool("drop_pending_updates"):
            self.api.updates.drop_pending()
        self.config = None
        self.api._notify()
        return True

    def info(self) -> JSONDict:
        config = self.config
        info: JSONDict = {
            "url": config.url if config is not None else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.api.updates.pending),
        }
        if config is not None:
            info["max_connections"] = config.max_connections
            if config.allowed_updates is not None:
                info["allowed_updates"] = list(config.allowed_updates)
        if self.last_error is not None:
            info["last_error_date"], info["last_error_message"] = self.last_error
        return info

    def refuse_polling(self) -> None:
        if self.config is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)

    # ---------------------------------------------------------------- running
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="simulator-webhook")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for delivery in list(self._in_flight.values()):
            delivery.cancel()
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)
        self._in_flight.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _ready(self, config: Webhook) -> tuple[list[PendingUpdate], float | None]:
        """The updates to POST now (the first pending one of each chat that has none in flight and is not waiting
        for a retry), and when the next retry is due (monotonic), if one waits."""
        allowed = config.allowed_updates
        now = time.monotonic()
        busy = set(self._in_flight)
        ready: list[PendingUpdate] = []
        next_retry: float | None = None
        for update in self.api.updates.pending:
            if update.kind not in allowed if allowed is not None else update.kind in OPT_IN_UPDATES:
                continue  # never delivered (Telegram drops what the bot did not ask for)
            key = chat_key(update)
            if key in busy:
                continue
            busy.add(key)  # a chat's later updates wait for this one
            due = self._not_before.get(update.update_id, 0.0)
            if due > now:
                next_retry = due if next_retry is None else min(next_retry, due)
                continue
            ready.append(update)
        room = config.max_connections - len(self._in_flight)
        return ready[: max(room, 0)], next_retry

    async def _run(self) -> None:
        while True:
            changed = self.api._event()
            config = self.config
            wait: float | None = None
            if config is not None:
                ready, next_retry = self._ready(config)
                for update in ready:
                    key = chat_key(update)
                    task = asyncio.create_task(self._deliver(config, update, key), name=f"webhook-{update.update_id}")
                    self._in_flight[key] = task
                if next_retry is not None:
                    wait = max(next_retry - time.monotonic(), 0.001)
            try:
                async with asyncio.timeout(wait):
                    await changed.wait()
            except TimeoutError:
                pass

    async def _deliver(self, config: Webhook, update: PendingUpdate, key: int) -> None:
        try:
            status = await self._post(config, update)
            if status is not None and 200 <= status < 300:
                self._not_before.pop(update.update_id, None)
                if update in self.api.updates.pending:
                    self.api.updates.pending.remove(update)  # confirmed, as an offset past it would
            else:
                self._not_before[update.update_id] = time.monotonic() + self.retry_delay
                reason = f"Wrong response from the webhook: {status}" if status is not None else "Connection failed"
                self.last_error = (self.api.now(), reason)
        finally:
            self._in_flight.pop(key, None)
            self.api._notify()

    async def _post(self, config: Webhook, update: PendingUpdate) -> int | None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        update.deliveries += 1
        if update.fetched_seq is None:
            update.fetched_seq = self.api._emit("fetch", update.chat_id, None, f"{update.update_id} {update.kind}")
        headers = {"Content-Type": "application/json"}
        if config.secret_token is not None:
            headers[SECRET_HEADER] = config.secret_token
        body = json.dumps(deep_copy(update.payload), ensure_ascii=False).encode()
        started = time.monotonic()
        status: int | None = None
        try:
            async with self._session.post(
                config.url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as answer:
                await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            status = None
        delivery = Delivery(update.update_id, status, started, time.monotonic() - started)
        self.deliveries.append(delivery)
        for listener in self.listeners:
            listener(delivery)
        return status


def chat_key(update: PendingUpdate) -> int:
    """Telegram keeps one chat's updates in order; an update of no chat gets a key of its own (below every chat
    id, supergroups' included)."""
    return update.chat_id if update.chat_id is not None else -(10**15) - update.update_id
