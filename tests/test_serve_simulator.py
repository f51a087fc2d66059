"""The simulator's webhooks behave as Telegram's: set, reported, exclusive with getUpdates, and delivered one chat's
updates at a time in order, with the secret header, retried until answered 2xx."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

from simulator.botapi import LocalBotApi
from simulator.protocol import JSONDict
from simulator.webhook import SECRET_HEADER


async def call(api: LocalBotApi, method: str, **params: object) -> tuple[int, JSONDict]:
    data = {k: json.dumps(v) if isinstance(v, list) else v for k, v in params.items()}
    async with aiohttp.ClientSession() as session, session.post(f"{api.base_url}{api.token}/{method}", data=data) as r:
        return r.status, await r.json()


@asynccontextmanager
async def receiver(
    fail_first: int, held_until_chat: int
) -> AsyncIterator[tuple[str, list[tuple[int, int | None, str | None]]]]:
    """A webhook endpoint that holds the first delivery of update `fail_first` until an update of chat
    `held_until_chat` has arrived, then answers it 500; records (update id, chat id, secret header) of every POST,
    in arrival order."""
    arrivals: list[tuple[int, int | None, str | None]] = []
    failed: set[int] = set()
    other_chat_arrived = asyncio.Event()

    async def take(request: web.Request) -> web.Response:
        update = await request.json()
        update_id = update["update_id"]
        chat = (update.get("message") or {}).get("chat", {}).get("id")
        arrivals.append((update_id, chat, request.headers.get(SECRET_HEADER)))
        if chat == held_until_chat:
            other_chat_arrived.set()
        if update_id == fail_first and update_id not in failed:
            failed.add(update_id)
            await other_chat_arrived.wait()  # the other chat is not held back by this one
            return web.Response(status=500)
        await asyncio.sleep(0.01)
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", take)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", arrivals
    finally:
        await runner.cleanup()


async def test_set_webhook_is_reported_refuses_getupdates_and_delete_gives_polling_back() -> None:
    async with LocalBotApi() as api:
        status, answer = await call(api, "setWebhook", url="http://127.0.0.1:9/hook", secret_token="s3cret_-X")
        assert (status, answer["result"]) == (200, True)
        status, answer = await call(api, "getWebhookInfo")
        assert answer["result"]["url"] == "http://127.0.0.1:9/hook" and answer["result"]["max_connections"] == 40
        status, answer = await call(api, "getUpdates")
        assert status == 409 and "webhook is active" in answer["description"]
        status, answer = await call(api, "setWebhook", url="http://127.0.0.1:9/hook", secret_token="no spaces")
        assert status == 400 and "unallowed characters" in answer["description"]
        assert (await call(api, "deleteWebhook"))[1]["result"] is True
        assert (await call(api, "getWebhookInfo"))[1]["result"]["url"] == ""
        assert (await call(api, "getUpdates"))[0] == 200


async def test_each_chat_gets_its_updates_in_order_a_refused_one_is_retried_and_holds_back_only_its_chat() -> None:
    async with LocalBotApi() as api:
        api.webhook.retry_delay = 0.05
        alice, bob = api.user(11), api.user(22)
        first = await alice.send("1", wait=False)
        async with receiver(fail_first=first, held_until_chat=22) as (url, arrivals):
            await call(api, "setWebhook", url=url, secret_token="the-secret", allowed_updates=["message"])
            for text in ("2", "3"):
                await alice.send(text, wait=False)
            await bob.send("b", wait=False)
            await api.wait_for(lambda: not api.pending_updates, what="every update confirmed")
        ids_of_alice = [u for u, chat, _ in arrivals if chat == 11]
        assert ids_of_alice == [first, first, first + 1, first + 2]  # refused, retried, then the next ones
        assert [u for u, chat, _ in arrivals if chat == 22] == [first + 3]
        assert {secret for _, _, secret in arrivals} == {"the-secret"}
        assert [d.status for d in api.webhook.deliveries if d.update_id == first] == [500, 200]
        assert api.deliveries(first) == 2
        info = (await call(api, "getWebhookInfo"))[1]["result"]
        assert info["pending_update_count"] == 0 and "500" in info["last_error_message"]
