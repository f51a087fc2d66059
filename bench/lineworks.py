"""The LINE WORKS front end under load: callback-to-reply latency against a bot that only answers, and callbacks a
second fully handled with the inbox on SQLite and on PostgreSQL.

`fieldbot run` (a real process, long polling for Telegram, with PUBLIC_URL and SERVE_PORT set: its own listener
takes the LINE WORKS callbacks and its LINE WORKS workers handle them) and the LINE WORKS simulator of the bench's
process (simulator/lineworks.py) posting signed callbacks to it and taking its sends, as in
tests/lineworks/harness.py. Staff are registered as LINE WORKS users directly in the database before the start.
Each person goes through the outing flow with one consultation, over and over: the Telegram step rows' script
(bench/run.py FIELDBOT_STEPS: /visit typed, then quick-reply presses) with one press more: "next" (lineworks.next)
to the second page of the agencies, where the "done" button is on LINE WORKS (tests/lineworks/test_front.py).

- *Latency*: one staff member's callbacks one after another; each from the simulator starting its POST to the
  bot's first message of the answer reaching the simulator's send endpoint (perf_counter). A step is over once
  all of its messages came (how many each step sends is learnt in the warm-up flow), then the next is posted.
- *Throughput*: many staff at once, each posting its next callback once the last was answered, for a fixed count
  of callbacks in all: callbacks a second from the first POST to the last answer.

The floor, "a bot that only answers": the same simulator posting to a minimal aiohttp app (a process of its own,
as the bot is) that verifies nothing, stores nothing and at once sends one message (a text with 12 quick-reply
items, about a flow screen's size) through a bare aiohttp POST to the simulator's send endpoint, with a token
fetched once; driven the same way (/visit, then presses of its button "1", as many steps as the bot's flow).
Target: the bot's median ≤ 1.5× the floor's. The p99 and the throughput are shown against the floor's, no target;
the throughput row is marked not met when a run went wrong (more messages than the warm-up's steps sent, a call
the simulator refused, an error in the bot's log).

The bot's own client keeps to LINEWORKS_PER_MINUTE (set here to 10,000 calls a minute, its setting's limit): each
bot process sends fewer messages than that in a whole run (checked), so that budget never paces the bot.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench import run as bench_run
from bench.pg import Database, Server, cpu_of, label
from bench.run import FIELDBOT_STEPS, Figure, Results, bot_process, ratio_figure
from bench.serve import free_port, percentile
from bot.lineworks.client import load_private_key, service_account_jwt
from core.crypto import Sealer, generate_key
from core.i18n import t
from simulator.botapi import LocalBotApi
from simulator.lineworks import JWT_BEARER, LineWorksSimulator, SentMessage
from storage.engines import open_store

BOT = "2000001"
WAIT = 60.0  # seconds a step may take under this load before the run is called failed
SETTLE = 0.3  # seconds of quiet after a warm-up step's first message: all of its messages are in by then
LATENCY_LIMIT = 1.5
BUDGET = 10_000  # LINEWORKS_PER_MINUTE as set here (its setting's limit): the bot's client sends no more a minute
Step = tuple[str, str]
AGENCY = 7  # FIELDBOT_STEPS[AGENCY]: the agency pressed, on the first of the agencies' two pages
STEPS: list[Step] = [*FIELDBOT_STEPS[: AGENCY + 1], ("press", t("lineworks.next")), *FIELDBOT_STEPS[AGENCY + 1 :]]
FLOOR_STEPS: list[Step] = [("send", "/visit")] + [("press", "1")] * (len(STEPS) - 1)

FLOOR = """
import asyncio, json, sys
import aiohttp
from aiohttp import web

port, send_url, token, content = int(sys.argv[1]), sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
headers = {"Authorization": "Bearer " + token}


async def callback(request):
    event = json.loads(await request.read())
    url = send_url.format(user=event["source"]["userId"])
    async with request.app["session"].post(url, json={"content": content}, headers=headers) as answer:
        await answer.read()
    return web.Response(status=200)


async def main():
    app = web.Application()
    app["session"] = aiohttp.ClientSession()
    app.router.add_post("/lineworks/{bot_id}", callback)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
"""
# The floor's one message: a text and 12 quick-reply postbacks (labels "1".."12", as FLOOR_STEPS presses).
FLOOR_CONTENT = {
    "type": "text",
    "text": "echo",
    "quickReply": {
        "items": [
            {"action": {"type": "postback", "label": str(k), "data": f"e:{k}", "displayText": str(k)}}
            for k in range(1, 13)
        ]
    },
}


class _Accepted(list[SentMessage]):
    """The simulator's log of accepted messages, telling `hear` of each as it is appended (when it is accepted)."""

    def __init__(self, hear: Callable[[SentMessage], None]) -> None:
        super().__init__()
        self.hear = hear

    def append(self, message: SentMessage) -> None:
        super().append(message)
        self.hear(message)


@dataclass
class BenchSimulator(LineWorksSimulator):
    """The simulator, telling `heard` of every message it accepts (the user, perf_counter), and keeping each
    user's messages apart (its `messages`, which `press` reads, otherwise filters every message sent)."""

    heard: list[Callable[[str, float], None]] = field(default_factory=list, init=False)
    _by_user: dict[tuple[str, bool], list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list), init=False, repr=False
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        self.sent = _Accepted(self._accepted)

    def _accepted(self, message: SentMessage) -> None:
        moment = time.perf_counter()
        self._by_user[(message.to, message.channel)].append(message.content)
        for listen in self.heard:
            listen(message.to, moment)

    def messages(self, to: str, *, channel: bool = False) -> list[dict[str, Any]]:
        return list(self._by_user.get((to, channel), ()))


class _Waiting:
    __slots__ = ("done", "expect", "first", "got")

    def __init__(self, expect: int | None) -> None:
        self.expect, self.got = expect, 0
        self.first: float | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class Replies:
    """Per user, the step under way: when its first message came, and whether all of them came (`expect`; None:
    the first is enough). Messages beyond a step's count (or with no step under way) are counted in `unexpected`."""

    def __init__(self, sim: BenchSimulator) -> None:
        self.sim = sim
        self.waiting: dict[str, _Waiting] = {}
        self.unexpected = 0

    def heard(self, user: str, moment: float) -> None:
        step = self.waiting.get(user)
        if step is None:
            self.unexpected += 1
            return
        step.got += 1
        if step.first is None:
            step.first = moment
        if step.got >= (step.expect or 1) and not step.done.done():
            step.done.set_result(None)

    async def step(self, user: str, kind: str, what: str, expect: int | None) -> tuple[float, float]:
        """Post one callback and wait for its answer: the seconds from the POST's start to its first message, and
        to its 200 (the callback kept in the inbox)."""
        self.done_with(user)
        waiting = self.waiting[user] = _Waiting(expect)
        started = time.perf_counter()
        if kind == "send":
            delivery = await self.sim.send_text(user, what)
        else:
            delivery = await self.sim.press(user, what)
        answered = time.perf_counter()
        if delivery.status != 200:
            raise RuntimeError(f"a callback was answered {delivery.status} ({delivery.error})")
        await asyncio.wait_for(waiting.done, timeout=WAIT)
        assert waiting.first is not None
        return waiting.first - started, answered - started

    def done_with(self, user: str) -> None:
        step = self.waiting.pop(user, None)
        if step is not None and step.expect is not None:
            self.unexpected += max(0, step.got - step.expect)


async def learn_counts(replies: Replies, user: str, steps: list[Step]) -> list[int]:
    """One flow (the warm-up): how many messages each step sends, counted after a quiet moment."""
    counts = []
    for kind, what in steps:
        await replies.step(user, kind, what, None)
        await asyncio.sleep(SETTLE)
        counts.append(replies.waiting[user].got)
    replies.done_with(user)
    return counts


@dataclass
class OneByOne:
    """One person's callbacks one after another: each one's seconds to its first message and to its 200."""

    latencies: list[float]
    answered: list[float]


async def sequential(replies: Replies, user: str, steps: list[Step], counts: list[int], n: int) -> OneByOne:
    """`n` callbacks of one person, one after another, going round the flow."""
    run = OneByOne([], [])
    for i in range(n):
        kind, what = steps[i % len(steps)]
        latency, answered = await replies.step(user, kind, what, counts[i % len(steps)])
        run.latencies.append(latency)
        run.answered.append(answered)
    replies.done_with(user)
    return run


@dataclass
class Load:
    latencies: list[float]
    callbacks: int
    seconds: float
    cpu: list[float] = field(default_factory=list)  # CPU seconds a callback: the bot's (the floor's), the server's

    @property
    def rate(self) -> float:
        return self.callbacks / self.seconds


async def concurrent(replies: Replies, users: list[str], steps: list[Step], counts: list[int], total: int) -> Load:
    """`total` callbacks shared by `users` posting at once, each person waiting for an answer before the next."""
    share = total // len(users)
    latencies: list[float] = []

    async def person(user: str) -> None:
        for i in range(share):
            kind, what = steps[i % len(steps)]
            latencies.append((await replies.step(user, kind, what, counts[i % len(steps)]))[0])
        replies.done_with(user)

    started = time.perf_counter()
    await asyncio.gather(*(person(u) for u in users))
    return Load(latencies, share * len(users), time.perf_counter() - started)


def user_ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i:04d}@council.example" for i in range(count)]


# ---------------------------------------------------------------------------------------------------------------
# The bot and the floor


async def register(database: Database, key: str, users: list[str]) -> None:
    """Each user a staff member on LINE WORKS (as tests/lineworks/harness.py `register`, before the bot starts)."""
    url = None
    if database.server is not None and database.pg_name is not None:
        url = database.server.url(database.pg_name)
    store = await open_store(database.path, url, Sealer.from_text(key))
    try:
        now = datetime.now(UTC)
        accounts = [await store.lineworks_users.remember(user, now) for user in users]
        async with store.db.transaction() as tx:
            await tx.executemany(
                "INSERT INTO staff (telegram_id, name, role, zone, area, created_at) VALUES (?, ?, 'staff', 'west', "
                "'kyonan', '2026-01-01T00:00:00.000000Z')",
                list(zip(accounts, users, strict=True)),
            )
    finally:
        await store.close()


def lineworks_env(sim: LineWorksSimulator, key_file: Path, port: int) -> dict[str, str]:
    return {
        "TELEGRAM_RATE_LIMIT": "false",
        "LOG_LEVEL": "WARNING",
        "DIGEST_SCHEDULE": "off",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SERVE_PORT": str(port),
        **sim.bot_settings(key_file),
        "LINEWORKS_PER_MINUTE": str(BUDGET),
    }


async def fetch_token(sim: LineWorksSimulator) -> str:
    """An access token from the simulator's token endpoint, as LINE WORKS issues one (auth-jwt)."""
    assert sim.private_key_pem is not None
    assertion = service_account_jwt(
        sim.client_id, sim.service_account, load_private_key(sim.private_key_pem), time.time()
    )
    form = {
        "assertion": assertion,
        "grant_type": JWT_BEARER,
        "client_id": sim.client_id,
        "client_secret": sim.client_secret,
        "scope": "bot",
    }
    async with aiohttp.ClientSession() as session, session.post(sim.auth_url, data=form) as answer:
        body = await answer.json()
    return str(body["access_token"])


async def start_floor(sim: LineWorksSimulator) -> subprocess.Popen[bytes]:
    """The bot that only answers, in a process of its own, and the simulator's callbacks pointed at it."""
    port = free_port()
    send_url = f"{sim.api_base_url}/bots/{sim.bot_id}/users/{{user}}/messages"
    argv = [sys.executable, "-c", FLOOR, str(port), send_url, await fetch_token(sim), json.dumps(FLOOR_CONTENT)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE)  # noqa: ASYNC220 - started once, not awaited on
    assert process.stdout is not None
    ready = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout=60)
    if ready.strip() != b"ready":
        process.terminate()
        raise RuntimeError("the floor's callback server did not start")
    sim.callback_url = f"http://127.0.0.1:{port}/lineworks/{sim.bot_id}"
    return process


@dataclass
class Sizes:
    latency: int  # callbacks of one person, one after another
    users: int  # people at once for the throughput
    total: int  # callbacks in all for the throughput


@dataclass
class Run:
    """What one bot (or the floor) measured."""

    name: str
    one: OneByOne
    load: Load
    counts: list[int]  # messages each step of the flow sends
    problems: list[str] = field(default_factory=list)


async def measure(
    replies: Replies, prefix: str, steps: list[Step], sizes: Sizes, meters: list[Callable[[], float]]
) -> tuple[list[int], OneByOne, Load]:
    """Warm-up (one flow, learning each step's messages), the latency callbacks, then the throughput ones, with
    the CPU time each of `meters` (CPU seconds so far of a process, or of the database server) counts over them."""
    first, others = user_ids(prefix, 1)[0], user_ids(prefix + "-many", sizes.users)
    counts = await learn_counts(replies, first, steps)
    one = await sequential(replies, first, steps, counts, sizes.latency)
    before = [meter() for meter in meters]
    load = await concurrent(replies, others, steps, counts, sizes.total)
    load.cpu = [(meter() - spent) / load.callbacks for meter, spent in zip(meters, before, strict=True)]
    return counts, one, load


async def floor_run(sizes: Sizes) -> Run:
    sim = BenchSimulator(bot_id=BOT, per_minute=10**9)
    async with sim:
        replies = Replies(sim)
        sim.heard.append(replies.heard)
        process = await start_floor(sim)
        try:
            counts, one, load = await measure(replies, "floor", FLOOR_STEPS, sizes, [lambda: cpu_of(process.pid)])
        finally:
            process.terminate()
            process.wait(timeout=30)
    return Run("floor", one, load, counts)


async def bot_run(work: Path, engine: str, server: Server | None, sizes: Sizes) -> Run:
    """`fieldbot run` with its LINE WORKS bot on `engine`, its staff registered, measured as the floor is."""
    database = Database(engine, work, f"lineworks-{engine}", server)
    key = generate_key()
    env = await database.create(key, 0)
    prefix = f"lw-{engine}"
    await register(database, key, user_ids(prefix, 1) + user_ids(prefix + "-many", sizes.users))
    log = bench_run.LOG_DIR / "run.log"  # bench/run.py bot_process: `fieldbot run` appends its log there
    logged_before = log.stat().st_size if log.exists() else 0
    sim = BenchSimulator(bot_id=BOT, per_minute=10**9)
    async with sim, LocalBotApi() as api:
        assert sim.private_key_pem is not None
        key_file = work / "lineworks.pem"
        key_file.write_bytes(sim.private_key_pem)
        key_file.chmod(0o600)
        port = free_port()
        sim.callback_url = f"http://127.0.0.1:{port}/lineworks/{sim.bot_id}"
        replies = Replies(sim)
        sim.heard.append(replies.heard)
        process = await bot_process(api, ["-m", "cli", "run"], env | lineworks_env(sim, key_file, port))
        try:
            meters = [lambda: cpu_of(process.pid), *([server.cpu] if server is not None else [])]
            counts, one, load = await measure(replies, prefix, STEPS, sizes, meters)
        finally:
            process.terminate()
            process.wait(timeout=30)
        problems = []
        if replies.unexpected:
            problems.append(f"{replies.unexpected} messages more than the warm-up flow's steps sent")
        refused = [status for _, status in sim.requests if status not in (201, 204)]
        if refused:
            problems.append(
                f"the simulator refused {len(refused)} of the bot's calls: {sorted(set(map(str, refused)))}"
            )
        if len(sim.sent) >= BUDGET:
            problems.append(f"{len(sim.sent)} messages sent: the client's budget ({BUDGET} a minute) may have paced")
    await database.drop()
    tail = log.read_bytes()[logged_before:] if log.exists() else b""
    errors = tail.count(b" ERROR ") + tail.count(b"Traceback")
    if errors:
        problems.append(f"{errors} error lines in the bot's log ({log})")
    return Run(label(engine), one, load, counts, problems)


# ---------------------------------------------------------------------------------------------------------------
# The rows


def sizes_for(quick: bool) -> Sizes:
    """Whole flows: the latency person goes round it 10 (50) times, each of the many people 2 (5) times."""
    flow = len(STEPS)
    return Sizes(10 * flow, 20, 20 * 2 * flow) if quick else Sizes(50 * flow, 50, 50 * 5 * flow)


async def lineworks_runs(work: Path, results: Results, *, quick: bool) -> None:
    """The floor, then the bot on SQLite, then on PostgreSQL (a server of the bench's own; skipped with one line
    where there is none)."""
    sizes = sizes_for(quick)
    print(
        f"LINE WORKS: callback to reply ({sizes.latency} callbacks of one person) and callbacks a second "
        f"({sizes.total:,} by {sizes.users} people at once), SQLite and PostgreSQL, against a bot that only answers",
        flush=True,
    )
    floor = await floor_run(sizes)
    runs = [await bot_run(work, "sqlite", None, sizes)]
    server = Server.start(work / "postgres-lineworks", keep=False)
    if server is not None:
        try:
            runs.append(await bot_run(work, "postgresql", server, sizes))
        finally:
            server.stop()
    for run in runs:
        add_figures(results, run, floor, sizes)


def cpu_note(cpu: list[float], floor: list[float]) -> str:
    server = f", the database server {cpu[1] * 1000:.2f} ms" if len(cpu) > 1 else ""
    return f"the bot {cpu[0] * 1000:.2f} ms{server} (the floor {floor[0] * 1000:.2f} ms)"


def add_figures(results: Results, run: Run, floor: Run, sizes: Sizes) -> None:
    ours, base = run.one, floor.one
    note = (
        f"{len(ours.latencies)} callbacks, {len(ours.latencies) // len(STEPS)} outing flows of {len(STEPS)} steps "
        f"({sum(run.counts)} messages); the 200 at {statistics.median(ours.answered) * 1000:.2f} ms; "
        "floor: a bot that only answers"
    )
    results.add(
        ratio_figure(
            f"LINE WORKS callback to reply median, 1 staff, {run.name}",
            statistics.median(ours.latencies) * 1000,
            statistics.median(base.latencies) * 1000,
            "ms",
            LATENCY_LIMIT,
            note=note,
        )
    )
    p99, floor_p99 = percentile(ours.latencies, 0.99), percentile(base.latencies, 0.99)
    results.add(
        Figure(
            f"LINE WORKS callback to reply p99, 1 staff, {run.name}",
            p99 * 1000,
            "ms",
            floor_p99 * 1000,
            ratio=p99 / floor_p99,
            note=f"the 200 at {percentile(ours.answered, 0.99) * 1000:.2f} ms",
        )
    )
    load = run.load
    results.add(
        Figure(
            f"LINE WORKS callbacks handled a second, {sizes.users} staff at once, {run.name}",
            load.rate,
            "callbacks/s",
            floor.load.rate,
            ratio=load.rate / floor.load.rate,
            target="every callback answered, as the warm-up",
            ok=not run.problems,
            note=f"{load.callbacks:,} callbacks in {load.seconds:.1f} s; callback to reply median "
            f"{statistics.median(load.latencies) * 1000:,.1f} ms, p99 {percentile(load.latencies, 0.99) * 1000:,.1f}; "
            f"CPU a callback: {cpu_note(load.cpu, floor.load.cpu)}"
            + "".join(f"; {problem}" for problem in run.problems),
        )
    )
    for problem in run.problems:
        print(f"  {run.name}: {problem}", flush=True)
