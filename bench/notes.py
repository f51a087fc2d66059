"""The note form under load (issue 17): 200 staff submit the form at once, on SQLite and on PostgreSQL.

`fieldbot run` (a real process, long polling, PUBLIC_URL and SERVE_PORT set so that it serves the note form on a
loopback port) and 200 staff members (and one more, for a warm-up submit alone), each driven through the outing
flow by the simulator to a flagged follow-up's reason, the question the bot offers the form for. Each one's link is
the URL of the Mini App button the bot showed, with the signed launch data the simulator gives (`open_web_app`).
The 200 pages are opened first (each one's CSRF token read from it), then the 200 posts are released at once over
one aiohttp session. Measured: the time from sending a post to the receipt (「🔒 メモを受け付けました」) reaching
that person's chat in the simulator (the bot sends it before it answers the page, so the page's answer comes later).
Checked: every post answered with the receipt page, one receipt in each chat, each link recorded used once
(used_form_links), each draft moved on one step with the text posted in it; then all 200 posted again: each refused
as used, nothing more stored or sent.

The floor: the same 200 posts, by the same client, against a bare aiohttp app on loopback (a process of its own, as
the bot is) that reads the same form body and answers a page of the same size and headers, storing nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from bench import run as bench_run
from bench.pg import Database, Server, cpu_of, label
from bench.run import FIELDBOT_STEPS, STAFF_BASE, Figure, Results, bot_process, drive
from bench.serve import free_port, percentile
from bot.notes import HEADERS, MAX_FORM_BODY
from core.crypto import Sealer, generate_key
from core.i18n import t
from core.webapp import FormLinks, LinkClaims, link_token_hash
from services.flow import load_state
from simulator.botapi import ApiEvent, LocalBotApi, SimUser, launch_params
from storage.engines import open_store

SUBMITS = 200
FORM = t("flow.form.button")
RECEIVED = t("flow.form.received")
DONE = t("form.done")
USED = t("form.refused.used")
# From /visit to a flagged follow-up's reason: the nickname is the one the bot suggests (a press).
TO_REASON: list[tuple[str, str]] = [
    *FIELDBOT_STEPS[:7],  # /visit to the consultation's kind, as the step rows walk it
    ("press", "なし（つないでいない）"),
    ("press", "🚩 要フォローあり"),
    ("press", "にする"),  # 「<suggested nickname>」にする
]
WAIT = 120.0  # seconds a setup step or a submit may take under this load before the run is called failed

FLOOR = """
import asyncio, json, sys
from aiohttp import web

port, sizes, headers, limit = int(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
pages = {method: b"x" * size for method, size in sizes.items()}


async def page(request):
    return web.Response(body=pages["GET"], content_type="text/html", charset="utf-8", headers=headers)


async def posted(request):
    await request.post()
    return web.Response(body=pages["POST"], content_type="text/html", charset="utf-8", headers=headers)


async def main():
    app = web.Application(client_max_size=limit)
    app.router.add_get("/note/{bot_id}/{token}", page)
    app.router.add_post("/note/{bot_id}/{token}", posted)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


asyncio.run(main())
"""


def reason_of(i: int) -> str:
    """A reason of a realistic length (about 110 characters), different for each person."""
    return (
        f"理由{i:03d}: 一人暮らしで足腰が弱り、通院や買い物が難しくなっている。近所付き合いも減り、"
        "民生委員の訪問を嫌がることがある。家族は遠方で月に一度の電話のみ。次回は地域包括支援センターと同行し、"
        "介護保険の申請を一緒に検討する。"
    )


class Browser:
    """What the page's browser does (tests/test_note_form.py): open the page and read its CSRF token, then post
    the form with the Mini App's launch data from the address's fragment (what the page's script copies into the
    hidden `init_data` field)."""

    def __init__(self, url: str) -> None:
        self.url, _, _ = url.partition("#")
        self.init_data = launch_params(url).get("tgWebAppData", "")
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.url))
        self.csrf = ""

    @property
    def token(self) -> str:
        return self.url.rsplit("/", 1)[1]

    def elsewhere(self, port: int) -> Browser:
        """The same page, form and launch data at another port (the floor's)."""
        other = Browser(self.url)
        other.url = urlsplit(self.url)._replace(netloc=f"127.0.0.1:{port}").geturl()
        other.init_data, other.csrf = self.init_data, self.csrf
        other.origin = f"http://127.0.0.1:{port}"
        return other

    async def open(self, session: aiohttp.ClientSession) -> tuple[int, bytes]:
        async with session.get(self.url) as response:
            page = await response.read()
            found = re.search(rb'name="csrf" value="([0-9a-f]+)"', page)
            if found is not None:
                self.csrf = found.group(1).decode("ascii")
            return response.status, page

    async def post(self, session: aiohttp.ClientSession, text: str) -> tuple[int, bytes]:
        data = {"csrf": self.csrf, "init_data": self.init_data, "action": "submit", "text": text}
        async with session.post(self.url, data=data, headers={"Origin": self.origin}) as response:
            return response.status, await response.read()


@dataclass
class Posts:
    """One release of posts: when each was sent and answered (perf_counter), its status and page."""

    sent: list[float]
    answered: list[float]
    statuses: list[int]
    pages: list[bytes]

    @property
    def latencies(self) -> list[float]:
        return [end - start for start, end in zip(self.sent, self.answered, strict=True)]


async def release(session: aiohttp.ClientSession, browsers: list[Browser], texts: list[str]) -> Posts:
    """Every post released at once: each waits at the line, then takes its time and posts."""
    line = asyncio.Event()
    sent = [0.0] * len(browsers)
    answered = [0.0] * len(browsers)

    async def one(i: int) -> tuple[int, bytes]:
        await line.wait()
        sent[i] = time.perf_counter()
        status, page = await browsers[i].post(session, texts[i])
        answered[i] = time.perf_counter()
        return status, page

    tasks = [asyncio.create_task(one(i)) for i in range(len(browsers))]
    await asyncio.sleep(0)  # every task at the line
    line.set()
    done = await asyncio.wait_for(asyncio.gather(*tasks), timeout=WAIT)
    return Posts(sent, answered, [status for status, _ in done], [page for _, page in done])


async def open_all(session: aiohttp.ClientSession, browsers: list[Browser]) -> list[tuple[int, bytes]]:
    return await asyncio.wait_for(asyncio.gather(*(b.open(session) for b in browsers)), timeout=WAIT)


def connector() -> aiohttp.TCPConnector:
    return aiohttp.TCPConnector(limit=2 * SUBMITS)  # every post on a connection of its own at once


class Receipts:
    """When the bot's receipt reached each chat (the simulator's sendMessage), and how many came."""

    def __init__(self) -> None:
        self.at: dict[int, float] = {}
        self.count: Counter[int] = Counter()

    def listen(self, event: ApiEvent) -> None:
        if event.kind == "send" and event.chat_id is not None and (event.text or "").startswith(RECEIVED):
            self.count[event.chat_id] += 1
            self.at.setdefault(event.chat_id, time.perf_counter())


def form_url(user: SimUser) -> str | None:
    """The URL the person's Mini App button opens (launch data in the fragment), once the bot shows it."""
    try:
        return user.open_web_app(FORM)
    except AssertionError:
        return None


async def to_reason(api: LocalBotApi, people: list[SimUser]) -> list[str]:
    """Everyone driven at once to a flagged follow-up's reason (bench/run.py `drive`: a step is over once the bot
    answered it); the URL each one's form button opens."""
    await drive(api, people, TO_REASON, seconds=WAIT, rounds=1)
    await api.wait_for(lambda: all(form_url(p) is not None for p in people), timeout=WAIT, what="the form buttons")
    return [url for url in map(form_url, people) if url is not None]


@dataclass
class EngineRun:
    engine: str
    receipt: list[float]  # seconds from sending the post to its receipt in the chat, per person who got one
    answer: list[float]  # seconds from sending the post to the page's answer
    stored_once: int  # of the 200: stored once, one receipt, refused when posted again
    post_size: int  # bytes of the receipt page the bot answered
    get_size: int  # bytes of the form's page
    browsers: list[Browser]
    texts: list[str]
    setup_seconds: float
    cpu: list[float]  # CPU seconds per submit of the 200: the bot's, the database server's, this process's
    problems: list[str] = field(default_factory=list)


async def engine_run(work: Path, engine: str, server: Server | None) -> EngineRun:
    """The bot on `engine`, its 201 staff driven to the form, the warm-up submit alone, then the 200 at once, and
    all of them posted again; what was stored read back once the bot has stopped."""
    database = Database(engine, work, f"notes-{engine}", server)
    key = generate_key()
    env = await database.create(key, SUBMITS + 1)
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    env |= {
        "TELEGRAM_RATE_LIMIT": "false",
        "LOG_LEVEL": "WARNING",
        "DIGEST_SCHEDULE": "off",
        "PUBLIC_URL": public_url,
        "SERVE_PORT": str(port),
    }
    log = bench_run.LOG_DIR / "run.log"  # bench/run.py bot_process: `fieldbot run` appends its log there
    logged_before = log.stat().st_size if log.exists() else 0
    texts = [reason_of(i) for i in range(SUBMITS + 1)]
    receipts = Receipts()
    async with LocalBotApi() as api:
        process = await bot_process(api, ["-m", "cli", "run"], env)
        try:
            people = [api.user(STAFF_BASE + i, first_name=f"u{i}") for i in range(SUBMITS + 1)]
            started = time.perf_counter()
            urls = await to_reason(api, people)
            setup = time.perf_counter() - started
            browsers = [Browser(url) for url in urls]
            api.listeners.append(receipts.listen)
            async with aiohttp.ClientSession(connector=connector()) as session:
                opened = await open_all(session, browsers)
                warm = await release(session, browsers[:1], texts[:1])  # alone: the first post's one-time costs
                cpu = cpu_of(process.pid), server.cpu() if server is not None else 0.0, time.process_time()
                first = await release(session, browsers[1:], texts[1:])
                spent = [
                    (cpu_of(process.pid) - cpu[0]) / SUBMITS,
                    ((server.cpu() - cpu[1]) if server is not None else 0.0) / SUBMITS,
                    (time.process_time() - cpu[2]) / SUBMITS,
                ]
                again = await release(session, browsers, texts)
            api.listeners.remove(receipts.listen)
        finally:
            process.terminate()
            process.wait(timeout=30)
    problems: list[str] = []
    bad = Counter(status for status, _ in opened if status != 200)
    if bad or not all(b.csrf for b in browsers):
        problems.append(f"pages opened: {dict(bad)} not 200, {sum(not b.csrf for b in browsers)} without a CSRF token")
    if warm.statuses != [200] or DONE.encode() not in warm.pages[0]:
        problems.append(f"the warm-up submit answered {warm.statuses[0]} without the receipt page")
    ok = [
        status == 200 and DONE.encode() in page
        for status, page in zip([*warm.statuses, *first.statuses], [*warm.pages, *first.pages], strict=True)
    ]
    for i, (status, page) in enumerate(zip(again.statuses, again.pages, strict=True)):
        ok[i] = ok[i] and status == 410 and USED.encode() in page
    for i, person in enumerate(people):
        ok[i] = ok[i] and receipts.count[person.id] == 1
    drafts, problems_stored = await stored(database, key, public_url, api.bot_id, browsers, texts)
    problems += problems_stored
    ok = [a and b for a, b in zip(ok, drafts, strict=True)]
    tail = log.read_bytes()[logged_before:] if log.exists() else b""
    errors = tail.count(b" ERROR ") + tail.count(b"Traceback")
    if errors:
        problems.append(f"{errors} error lines in the bot's log ({log})")
    await database.drop()
    answered = Counter(zip(first.statuses, (DONE.encode() in page for page in first.pages), strict=True))
    if sum(ok[1:]) != SUBMITS:
        per_chat = Counter(receipts.count[p.id] for p in people[1:])
        problems.append(
            f"of the {SUBMITS}: answered {dict(answered)} (status, receipt page); posted again: "
            f"{dict(Counter(again.statuses[1:]))}; receipts per chat {dict(per_chat)}; "
            f"stored as expected {sum(drafts[1:])}"
        )
    return EngineRun(
        engine,
        [receipts.at[p.id] - sent for p, sent in zip(people[1:], first.sent, strict=True) if p.id in receipts.at],
        first.latencies,
        sum(ok[1:]),
        len(first.pages[0]),
        len(opened[0][1]),
        browsers[1:],
        texts[1:],
        setup,
        spent,
        problems,
    )


async def stored(
    database: Database, key: str, public_url: str, bot_id: int, browsers: list[Browser], texts: list[str]
) -> tuple[list[bool], list[str]]:
    """Per link, whether the database holds what it posted once: its use recorded once, its draft one step on
    from the link's (version + 1, another step) with the text posted; and what else is wrong."""
    problems: list[str] = []
    links = FormLinks(Sealer.from_text(key), public_url, bot_id)
    now = datetime.now(UTC)
    claims: list[LinkClaims] = [links.read(b.token, now, launched=True) for b in browsers]
    url = None
    if database.server is not None and database.pg_name is not None:
        url = database.server.url(database.pg_name)
    store = await open_store(database.path, url, Sealer.from_text(key))
    try:
        used = Counter(row[0] for row in await store.db.fetchall("SELECT token_hash FROM used_form_links"))
        hashes = [link_token_hash(b.token) for b in browsers]
        others = sum(n for token_hash, n in used.items() if token_hash not in set(hashes))
        if others:
            problems.append(f"used_form_links: {others} rows for no link of the run")
        ok = []
        for claim, text, token_hash in zip(claims, texts, hashes, strict=True):
            draft = await store.drafts.get(claim.subject)
            state = load_state(draft) if draft is not None else None
            flagged = state.consultations[-1].flagged if state is not None and state.consultations else None
            ok.append(
                used[token_hash] == 1
                and draft is not None
                and state is not None
                and draft.version == claim.version + 1
                and state.step != claim.step
                and flagged is not None
                and flagged.reason == text
            )
    finally:
        await store.close()
    return ok, problems


async def floor_run(browsers: list[Browser], texts: list[str], sizes: dict[str, int]) -> Posts:
    """The same posts, by the same client, against a bare aiohttp app that stores nothing."""
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited on
        [sys.executable, "-c", FLOOR, str(port), json.dumps(sizes), json.dumps(HEADERS), str(MAX_FORM_BODY)],
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        ready = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), timeout=60)
        if ready.strip() != b"ready":
            raise RuntimeError("the floor's page server did not start")
        at_floor = [b.elsewhere(port) for b in browsers]
        async with aiohttp.ClientSession(connector=connector()) as session:
            await open_all(session, at_floor)
            await release(session, at_floor[:1], texts[:1])  # warm-up, as the bot's
            posts = await release(session, at_floor, texts)
        if any(status != 200 for status in posts.statuses):
            raise RuntimeError(f"the floor answered {Counter(posts.statuses)}")
        return posts
    finally:
        process.terminate()
        process.wait(timeout=30)


async def notes_runs(work: Path, results: Results) -> None:
    """On SQLite, then on PostgreSQL (a server of the bench's own, skipped with one line where there is none);
    then the floor, with the pages' sizes the bot answered."""
    print(
        f"note form: {SUBMITS} submits at once, SQLite and PostgreSQL, against a page that stores nothing", flush=True
    )
    runs = [await engine_run(work, "sqlite", None)]
    server = Server.start(work / "postgres-notes", keep=False)
    if server is not None:
        try:
            runs.append(await engine_run(work, "postgresql", server))
        finally:
            server.stop()
    first = runs[0]
    floor = await floor_run(first.browsers, first.texts, {"GET": first.get_size, "POST": first.post_size})
    base = floor.latencies
    for run in runs:
        engine = label(run.engine)
        for name, share in (("median", 0.5), ("p99", 0.99)):
            value = statistics.median(run.receipt) if share == 0.5 else percentile(run.receipt, share)
            against = statistics.median(base) if share == 0.5 else percentile(base, share)
            answer = statistics.median(run.answer) if share == 0.5 else percentile(run.answer, share)
            results.add(
                Figure(
                    f"note form submit to receipt {name}, {SUBMITS} at once, {engine}",
                    value * 1000,
                    "ms",
                    against * 1000,
                    ratio=value / against,
                    note=f"the page answered at {answer * 1000:,.0f} ms; floor: a page that stores nothing",
                )
            )
        bot, database, generator = (seconds * 1000 for seconds in run.cpu)
        where = f"the database server {database:.2f} ms, " if run.engine == "postgresql" else ""
        results.add(
            Figure(
                f"note form CPU per submit, {engine}, the bot",
                bot,
                "ms",
                note=f"{where}the client and the simulator {generator:.2f} ms; over the {SUBMITS} at once",
            )
        )
        for problem in run.problems:
            print(f"  {engine}: {problem}", flush=True)
        results.add(
            Figure(
                f"note form submits stored exactly once, {engine}",
                run.stored_once,
                f"of {SUBMITS}",
                target=f"all {SUBMITS}; posted again, all refused",
                ok=run.stored_once == SUBMITS and not run.problems,
                note="; ".join(run.problems) or f"set-up: the flow to the form in {run.setup_seconds:.0f} s",
            )
        )
