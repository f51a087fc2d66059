"""Webhook intake (`fieldbot serve`, a real process): how many updates a second it accepts, each committed to the
inbox before its 200 (a load generator posting with 32 connections, as Telegram uses up to 40), and the time from
a webhook's 200 to the worker's reply over the outing flow (the simulator posting each update as Telegram does),
with the workers inside `fieldbot serve` and with one `fieldbot work` process beside it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.pg import Database, Server
from bench.run import FIELDBOT_STEPS, STAFF_BASE, Figure, Results
from core.crypto import generate_key
from simulator.botapi import ApiEvent, Delivery, LocalBotApi, SimUser

SECRET = "bench-webhook-secret-0123456789"
CONNECTIONS = 32


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


class Deployment:
    """`fieldbot serve` (and `fieldbot work` processes) on a fresh database, against one simulator: SQLite, or a
    new database of the bench's PostgreSQL `server` when given."""

    def __init__(self, api: LocalBotApi, work: Path, name: str, server: Server | None = None) -> None:
        self.api = api
        self.port = free_port()
        self.database = Database("postgresql" if server is not None else "sqlite", work, name, server)
        self.key = generate_key()
        self.log = work / f"{name}.log"
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/telegram/{self.api.bot_id}"

    async def start(self, users: int, serve_workers: int, work_processes: int = 0) -> None:
        env = {
            **os.environ,
            **await self.database.create(self.key, users),
            "TELEGRAM_BOT_TOKEN": self.api.token,
            "TELEGRAM_API_BASE_URL": self.api.base_url,
            "TELEGRAM_RATE_LIMIT": "false",
            "LOG_LEVEL": "WARNING",
            "DIGEST_SCHEDULE": "off",
            "PUBLIC_URL": f"http://127.0.0.1:{self.port}",
            "SERVE_PORT": str(self.port),
            "WEBHOOK_SECRET": SECRET,
            "WORKER_POLL_SECONDS": "0.05",
        }
        self._spawn(["serve", "--workers", str(serve_workers)], env)
        await self.api.wait_for(lambda: self.api.webhook.config is not None, timeout=60, what="the webhook set")
        for _ in range(work_processes):
            self._spawn(["work", "--workers", "4"], env)
        await asyncio.sleep(1.0 + work_processes)  # let start-up settle (the workers announce themselves nowhere)

    def _spawn(self, argv: list[str], env: dict[str, str]) -> None:
        with self.log.open("ab") as log:
            self.processes.append(
                subprocess.Popen([sys.executable, "-m", "cli", *argv], env=env, stdout=log, stderr=log)
            )

    async def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)
        await self.database.drop()


async def intake(url: str, count: int, users: int) -> tuple[float, list[float]]:
    """POST `count` message updates, CONNECTIONS at a time: (updates per second, each 200's latency)."""
    latencies: list[float] = []
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def connection(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            user = STAFF_BASE + i % users
            update = {
                "update_id": 500_000_000 + i,
                "message": {
                    "message_id": i + 1,
                    "date": 1_764_000_000,
                    "chat": {"id": user, "type": "private", "first_name": "職員"},
                    "from": {"id": user, "is_bot": False, "first_name": "職員", "language_code": "ja"},
                    "text": f"参加人数 {i % 50}",
                },
            }
            started = time.perf_counter()
            async with session.post(url, data=json.dumps(update, ensure_ascii=False), headers=headers) as answer:
                await answer.read()
                if answer.status != 200:
                    raise RuntimeError(f"intake answered {answer.status}")
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(connection(session) for _ in range(CONNECTIONS)))
        elapsed = time.perf_counter() - started
    return count / elapsed, latencies


class Stopwatch:
    """Per chat, the time from its pending update's 200 (as the simulator read it) to the bot's first reaction
    there; a step is over once the bot's last reaction to it came (a message sent, or a press answered). The
    reaction may come first: the worker is woken by the commit, the simulator reads the 200 a moment later;
    that counts as 0."""

    def __init__(self, api: LocalBotApi) -> None:
        self.api = api
        self.answered: dict[int, float] = {}  # chat -> monotonic time of the 200
        self.reaction: dict[int, float] = {}  # chat -> monotonic time of the first reaction since
        self.finished: set[int] = set()
        self.waiting: dict[int, tuple[str, asyncio.Future[float]]] = {}

    def begin(self, chat: int, last_kind: str) -> asyncio.Future[float]:
        self.answered.pop(chat, None)
        self.reaction.pop(chat, None)
        self.finished.discard(chat)
        done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[chat] = (last_kind, done)
        return done

    def delivered(self, delivery: Delivery) -> None:
        update = self.api._updates.get(delivery.update_id)
        if delivery.status == 200 and update is not None and update.chat_id is not None:
            self.answered.setdefault(update.chat_id, delivery.started + delivery.seconds)
            self._settle(update.chat_id)

    def reacted(self, event: ApiEvent) -> None:
        chat = event.chat_id or 0
        if event.kind in ("send", "edit", "answer") and chat in self.waiting:
            self.reaction.setdefault(chat, time.monotonic())
            if event.kind == self.waiting[chat][0]:
                self.finished.add(chat)
            self._settle(chat)

    def _settle(self, chat: int) -> None:
        _, done = self.waiting.get(chat, ("", None))
        if done is not None and not done.done() and chat in self.finished and chat in self.answered:
            done.set_result(max(0.0, self.reaction[chat] - self.answered[chat]))


@dataclass
class Replies:
    """The 200-to-reply time of every step; the steps finished before the deadline, while every user was still at
    it (throughput at the stated concurrency, as bench/run.py `drive` counts it), and that window's seconds; the
    seconds until the last user finished the flow under way at the deadline."""

    latencies: list[float]
    in_window: int
    window: float
    seconds: float

    @property
    def rate(self) -> float:
        return self.in_window / self.window


async def replies_after_200(api: LocalBotApi, users: list[SimUser], seconds: float) -> Replies:
    """Each user repeats the outing flow until time is up (then finishes the flow under way)."""
    watch = Stopwatch(api)
    api.webhook.listeners.append(watch.delivered)
    api.listeners.append(watch.reacted)
    latencies: list[float] = []
    finished: list[float] = []
    started = time.perf_counter()
    deadline = started + seconds

    async def person(user: SimUser) -> None:
        while time.perf_counter() < deadline:
            for kind, what in FIELDBOT_STEPS:
                done = watch.begin(user.id, "send" if kind == "send" else "answer")
                if kind == "send":
                    await user.send(what, wait=False)
                else:
                    await user.press(what, wait=False)
                latencies.append(await asyncio.wait_for(done, timeout=60))
                finished.append(time.perf_counter())

    try:
        await asyncio.gather(*(person(u) for u in users))
    finally:
        api.webhook.listeners.remove(watch.delivered)
        api.listeners.remove(watch.reacted)
    in_window = sum(1 for moment in finished if moment <= deadline)
    return Replies(latencies, in_window, seconds, time.perf_counter() - started)


async def serve_runs(work: Path, users: int, seconds: float, results: Results, server: Server | None = None) -> None:
    """On SQLite, or with the inbox and everything else on PostgreSQL when `server` is given."""
    engine = "" if server is None else ", PostgreSQL"
    print(f"webhook intake{engine}", flush=True)
    prefix = "serve" if server is None else "serve-pg"
    count = 2_000 if users < 100 else 10_000
    async with LocalBotApi() as api:
        deployment = Deployment(api, work, f"{prefix}-intake", server)
        await deployment.start(users, serve_workers=0)
        try:
            await intake(deployment.url, 200, users)  # warm-up
            rate, latencies = await intake(deployment.url, count, users)
        finally:
            await deployment.close()
    note = f"{count} updates, {CONNECTIONS} connections, each committed before its 200"
    results.add(Figure(f"webhook intake{engine}", rate, "updates/s", note=note))
    results.add(Figure(f"webhook 200 latency median{engine}", statistics.median(latencies) * 1000, "ms"))
    results.add(Figure(f"webhook 200 latency p99{engine}", percentile(latencies, 0.99) * 1000, "ms"))
    for label, serve_workers, work_processes in (
        ("workers in fieldbot serve", 4, 0),
        ("one fieldbot work process, WORKER_POLL_SECONDS=0.05", 0, 1),
    ):
        async with LocalBotApi() as api:
            api.webhook.retry_delay = 0.5
            deployment = Deployment(api, work, f"{prefix}-latency", server)
            await deployment.start(users, serve_workers, work_processes)
            try:
                people = [api.user(STAFF_BASE + i, first_name=f"u{i}") for i in range(users)]
                await replies_after_200(api, people[:1], 2.0)  # warm-up
                one = await replies_after_200(api, people[:1], max(3.0, seconds / 3))
                many = await replies_after_200(api, people, seconds)
            finally:
                await deployment.close()
        for n, run in ((1, one.latencies), (users, many.latencies)):
            for name, value in (("median", statistics.median(run)), ("p99", percentile(run, 0.99))):
                what = f"200 to reply {name}, {n} staff, {label}{engine}"
                results.add(Figure(what, value * 1000, "ms", note=f"{len(run)} steps"))
        note = f"{many.in_window} steps in the {many.window:.0f} s window"
        results.add(Figure(f"throughput, {users} staff, {label}{engine}", many.rate, "steps/s", note=note))
