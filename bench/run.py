"""`make bench`: fieldbot against the floor of its framework (a bare PTB bot) and of SQLite (bare GROUP BY queries).

Every figure is a ratio against a floor measured in the same run, on the same machine, so that a busy or slow
machine moves both. Prints one table and writes bench/results.json. `--quick` runs the same things smaller.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.bigdb import build, build_councils
from core.councils import Council
from core.crypto import Sealer, generate_key
from core.periods import Period, fiscal_year, iso_week, same_period_last_year
from core.schedule import DigestSchedule
from core.taxonomy import Taxonomy, load_taxonomy
from services.city import city_totals
from services.deps import Child
from services.digest import DigestService
from services.reporting import Reporter
from services.screens import Rows
from simulator.botapi import ApiEvent, LocalBotApi, SimUser
from storage.engines import open_store
from storage.sqlite.store import Store

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results.json"
LAST_FY = 2026
LOG_DIR = Path(tempfile.gettempdir())
STAFF_BASE = 50_000


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    floor: float | None = None
    target: str = ""
    ratio: float | None = None
    ok: bool | None = None
    note: str = ""


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        print(
            f"  {figure.name}: {figure.value:,.3f} {figure.unit}"
            + (f" (floor {figure.floor:,.3f}, ratio {figure.ratio:.2f})" if figure.ratio is not None else ""),
            flush=True,
        )


def ratio_figure(
    name: str, value: float, floor: float, unit: str, limit: float, *, higher_is_better: bool = False, note: str = ""
) -> Figure:
    ratio = value / floor if floor else float("inf")
    ok = ratio >= limit if higher_is_better else ratio <= limit
    target = f"≥ {limit}× floor" if higher_is_better else f"≤ {limit}× floor"
    return Figure(name, value, unit, floor, target, ratio, ok, note)


# ---------------------------------------------------------------------------------------------------------------
# Step latency and throughput over the embedded Bot API

FIELDBOT_STEPS: list[tuple[str, str]] = [
    ("send", "/visit"),
    ("press", "活動先への出向き・参加"),
    ("press", "高齢者サロン"),
    ("press", "スキップ"),
    ("press", "あった"),
    ("press", "ニーズを抱えている個人の相談"),
    ("press", "福祉サービス、相談機関の紹介"),
    ("press", "高齢者支援課"),
    ("press", "決定（1件）"),
    ("press", "✅ フォローなし・相談入力を終える"),
    ("press", "💾 保存"),
]
ECHO_STEPS: list[tuple[str, str]] = [("send", "/visit")] + [("press", "1")] * (len(FIELDBOT_STEPS) - 1)


class _Step:
    __slots__ = ("done", "done_kind", "first")

    def __init__(self, done_kind: str) -> None:
        self.done_kind = done_kind
        self.first: float | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


@dataclass
class StepRun:
    latencies: list[float]
    steps: int
    seconds: float
    # Steps finished before the deadline, while every user was still at it: throughput at the stated concurrency.
    # (Counting the tail too, after the deadline while users finish their flows one by one, measured how evenly a
    # bot served its users as much as how many steps it served.)
    in_window: int | None = None
    window: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p99(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    @property
    def throughput(self) -> float:
        if self.in_window is not None and self.window:
            return self.in_window / self.window
        return self.steps / self.seconds


async def drive(
    api: LocalBotApi, users: list[SimUser], steps: list[tuple[str, str]], seconds: float, rounds: int | None = None
) -> StepRun:
    """Each user repeats the flow until time is up; a step ends when the bot answered it (message or button)."""
    waiting: dict[int, _Step] = {}

    def listen(event: ApiEvent) -> None:
        step = waiting.get(event.chat_id or 0)
        if step is None or event.kind not in ("send", "edit", "answer"):
            return
        if step.first is None:
            step.first = time.perf_counter()
        if event.kind == step.done_kind and not step.done.done():
            step.done.set_result(None)

    api.listeners.append(listen)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    finished: list[float] = []

    async def person(user: SimUser) -> int:
        done = 0
        flows = 0
        while time.perf_counter() < deadline and (rounds is None or flows < rounds):
            for kind, what in steps:
                step = _Step("send" if kind == "send" else "answer")
                waiting[user.id] = step
                started = time.perf_counter()
                if kind == "send":
                    await user.send(what, wait=False)
                else:
                    await user.press(what, wait=False)
                await asyncio.wait_for(step.done, timeout=60)
                assert step.first is not None
                latencies.append(step.first - started)
                finished.append(time.perf_counter())
                done += 1
            flows += 1
        return done

    started = time.perf_counter()
    counts = await asyncio.gather(*(person(u) for u in users))
    elapsed = time.perf_counter() - started
    api.listeners.remove(listen)
    in_window = sum(1 for moment in finished if moment <= deadline) if rounds is None else None
    return StepRun(latencies, sum(counts), elapsed, in_window, deadline - started if rounds is None else None)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def prepare_staff(path: Path, sealer: Sealer, users: int, url: str | None = None) -> None:
    """`users` staff members in a new database: the SQLite file at `path`, or the PostgreSQL database at `url`."""
    store = await open_store(path, url, sealer)
    async with store.db.transaction() as tx:
        await tx.executemany(
            "INSERT INTO staff (telegram_id, name, role, zone, area, created_at) VALUES (?, ?, 'staff', 'west', "
            "'kyonan', '2026-01-01T00:00:00.000000Z')",
            [(STAFF_BASE + i, f"職員{i}") for i in range(users)],
        )
    await store.close()


async def bot_process(api: LocalBotApi, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    full = {**os.environ, "TELEGRAM_BOT_TOKEN": api.token, "TELEGRAM_API_BASE_URL": api.base_url, **env}
    log = open(LOG_DIR / f"{argv[-1].replace('.', '_')}.log", "ab")  # noqa: SIM115, ASYNC230 - the child writes it
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, not awaited on
        [sys.executable, *argv], env=full, stdout=log, stderr=log
    )
    await api.wait_for(lambda: api.polls_waiting > 0, timeout=60, what="the bot polling")
    return process


async def latency_runs(work: Path, users: int, seconds: float, results: Results) -> None:
    print("step latency and throughput", flush=True)
    runs: dict[tuple[str, int], StepRun] = {}
    idle_rss = 0
    for kind in ("echo", "fieldbot"):
        async with LocalBotApi() as api:
            if kind == "fieldbot":
                key = generate_key()
                database = work / "latency.sqlite3"
                database.unlink(missing_ok=True)
                await prepare_staff(database, Sealer.from_text(key), users)
                env = {
                    "DATABASE_PATH": str(database),
                    "FIELD_ENCRYPTION_KEY": key,
                    "TELEGRAM_RATE_LIMIT": "false",
                    "LOG_LEVEL": "WARNING",
                    "DIGEST_SCHEDULE": "off",
                }
                process = await bot_process(api, ["-m", "cli", "run"], env)
                await asyncio.sleep(1.0)  # let start-up settle before reading its memory
                idle_rss = rss_kb(process.pid)
                steps = FIELDBOT_STEPS
            else:
                process = await bot_process(api, ["-m", "bench.echo_bot"], {})
                steps = ECHO_STEPS
            try:
                people = [api.user(STAFF_BASE + i, first_name=f"u{i}") for i in range(users)]
                await drive(api, people[:1], steps, seconds=60, rounds=2)  # warm-up: imports, caches, connections
                runs[(kind, 1)] = await drive(api, people[:1], steps, seconds=max(3.0, seconds / 3))
                runs[(kind, users)] = await drive(api, people, steps, seconds=seconds)
            finally:
                process.terminate()
                process.wait(timeout=30)
    for n in (1, users):
        ours, floor = runs[("fieldbot", n)], runs[("echo", n)]
        results.add(ratio_figure(f"step latency median, {n} staff", ours.median * 1000, floor.median * 1000, "ms", 1.5))
        results.add(ratio_figure(f"step latency p99, {n} staff", ours.p99 * 1000, floor.p99 * 1000, "ms", 3.0))
    ours, floor = runs[("fieldbot", users)], runs[("echo", users)]
    results.add(
        ratio_figure(
            f"throughput, {users} staff",
            ours.throughput,
            floor.throughput,
            "steps/s",
            0.7,
            higher_is_better=True,
            note=f"{ours.steps} steps in {ours.seconds:.1f} s",
        )
    )
    results.add(
        Figure("idle bot RSS after start-up", idle_rss / 1024, "MB", target="≤ 120 MB", ok=idle_rss / 1024 <= 120)
    )


# ---------------------------------------------------------------------------------------------------------------
# Fiscal-year report and weekly digest over a large database


FLOOR_QUERIES = (
    "SELECT activity, count(*) FROM outings WHERE date BETWEEN ?1 AND ?2 {areas} GROUP BY activity",
    "SELECT destination, count(*) FROM outings WHERE date BETWEEN ?1 AND ?2 {areas} GROUP BY destination",
    "SELECT channel, count(*) FROM consultations WHERE date BETWEEN ?1 AND ?2 {areas} GROUP BY channel",
    "SELECT consulter, consulter_category, count(*) FROM consultations WHERE date BETWEEN ?1 AND ?2 {areas} "
    "GROUP BY consulter, consulter_category",
    "SELECT topic, count(*) FROM consultations WHERE date BETWEEN ?1 AND ?2 {areas} GROUP BY topic",
    "SELECT count(*) FROM consultations WHERE date BETWEEN ?1 AND ?2 {areas} AND at_outing = 1",
    "SELECT a.agency, count(*) FROM consultation_agencies a JOIN consultations c ON c.id = a.consultation_id "
    "WHERE c.date BETWEEN ?1 AND ?2 {areas_c} GROUP BY a.agency",
)


def floor_counts(connection: sqlite3.Connection, start: date, end: date, areas: list[str] | None) -> None:
    """The bare GROUP BY queries for every count of a report (what a hand-written script would run)."""
    where = f"AND area IN ({', '.join(repr(a) for a in areas)})" if areas else ""
    where_c = f"AND c.area IN ({', '.join(repr(a) for a in areas)})" if areas else ""
    for query in FLOOR_QUERIES:
        connection.execute(query.format(areas=where, areas_c=where_c), (start.isoformat(), end.isoformat())).fetchall()


def timed(fn: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def timed_async(fn: Callable[[], Coroutine[Any, Any, Any]], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


class NullSender:
    async def text(self, chat_id: int, text: str, buttons: Rows = ()) -> None:
        return None

    async def photo(self, chat_id: int, png: bytes, caption: str) -> None:
        return None


class FixedClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


def digest_floor(
    connection: sqlite3.Connection, taxonomy: Taxonomy, week: Period, scopes: list[list[str] | None]
) -> None:
    """The bare queries for what the weekly digest shows, for the same distinct scopes it computes (each zone once,
    and the whole council): the week's and the same week a year earlier's counts, the headline figures of the year
    to date and of the same span a year earlier, each staff member's counts in the week, the follow-up numbers and
    the overdue ones; once, who recorded in the week and the last outing of each area."""
    year_start = date(week.end.year if week.end.month >= 4 else week.end.year - 1, 4, 1)
    year_to_date = [
        (year_start, week.end),
        (year_start.replace(year=year_start.year - 1), week.end.replace(year=week.end.year - 1)),
    ]
    week_span = (week.start.isoformat(), week.end.isoformat())
    for areas in scopes:
        for p in (week, same_period_last_year(week)):
            floor_counts(connection, p.start, p.end, areas)
        where = f"AND area IN ({', '.join(repr(a) for a in areas)})" if areas else ""
        for start, end in year_to_date:
            span = (start.isoformat(), end.isoformat())
            connection.execute(f"SELECT count(*) FROM outings WHERE date BETWEEN ? AND ? {where}", span).fetchall()
            connection.execute(
                f"SELECT count(*), sum(at_outing) FROM consultations WHERE date BETWEEN ? AND ? {where}", span
            ).fetchall()
        for table in ("outings", "consultations"):
            connection.execute(
                f"SELECT staff_id, count(*) FROM {table} WHERE date BETWEEN ? AND ? {where} GROUP BY staff_id",
                week_span,
            ).fetchall()
        connection.execute(
            f"SELECT count(*), sum(due_date < '2026-11-23') FROM followups WHERE status = 'open' {where}"
        ).fetchall()
        connection.execute(
            f"SELECT id, label, owner_id, due_date FROM followups WHERE status = 'open' {where} "
            "AND due_date < '2026-11-23' ORDER BY due_date LIMIT 10"
        ).fetchall()
    connection.execute(
        "SELECT DISTINCT staff_id FROM outings WHERE date BETWEEN ? AND ? UNION SELECT "
        "DISTINCT staff_id FROM consultations WHERE date BETWEEN ? AND ?",
        week_span * 2,
    ).fetchall()
    for area in taxonomy.areas():
        connection.execute(
            "SELECT max(date) FROM outings WHERE area = ? AND date <= ?", (area.code, week.end.isoformat())
        ).fetchall()


async def report_runs(database: Path, sealer: Sealer, taxonomy: Taxonomy, records: int, results: Results) -> None:
    print("fiscal-year report and weekly digest", flush=True)
    period = fiscal_year(LAST_FY - 1)
    compare = fiscal_year(LAST_FY - 2)
    store = await Store.open(database, sealer)
    connection = sqlite3.connect(database)
    try:
        reporter = Reporter(store, taxonomy)

        async def ours() -> str:
            return (await reporter.report(period)).model_dump_json()

        def floor() -> None:
            for p in (period, compare):
                floor_counts(connection, p.start, p.end, None)

        await ours()
        floor()  # warm both caches alike
        value = await timed_async(ours, 5)
        base = timed(floor, 5)
        results.add(
            ratio_figure(
                f"fiscal-year report JSON ({records:,} + {records:,} records)", value * 1000, base * 1000, "ms", 1.5
            )
        )

        # 20 supervisors (over the 3 zones) and one admin get the digest of one week. (bigdb's staff are all
        # plain staff: without the admin here the digest composed the zones only, while the floor counts the
        # council too.)
        async with store.db.transaction() as tx:
            zones = [z.code for z in taxonomy.zones]
            await tx.executemany(
                "INSERT INTO staff (telegram_id, name, role, zone, created_at) VALUES (?, ?, ?, ?, "
                "'2026-01-01T00:00:00.000000Z')",
                [(800_000 + i, f"係長{i}", "supervisor", zones[i % len(zones)]) for i in range(20)]
                + [(800_100, "管理者", "admin", None)],
            )
        week = iso_week(LAST_FY, 47)
        moment = datetime(LAST_FY, 11, 23, 1, 0, tzinfo=UTC)  # the Monday after, 10:00 in Tokyo
        await store.meta.put("installed_at", "2000-01-01T00:00:00.000000Z")
        schedule = DigestSchedule.parse("mon 08:30")
        service = DigestService(store, taxonomy, NullSender(), FixedClock(moment), taxonomy_tz(), schedule)
        no_charts = DigestService(
            store, taxonomy, NullSender(), FixedClock(moment), taxonomy_tz(), schedule, draw=lambda report, dim: b""
        )

        async def digest_data() -> None:
            await store.db.execute("DELETE FROM outbox")
            await no_charts.run()

        async def digest_full() -> None:
            await store.db.execute("DELETE FROM outbox")
            await service.run()

        scopes: list[list[str] | None] = [[a.code for a in taxonomy.areas_of(z)] for z in zones] + [None]

        def floor_of_digest() -> None:
            digest_floor(connection, taxonomy, week, scopes)

        await digest_data()
        chats = await store.db.fetchall("SELECT DISTINCT chat_id FROM outbox WHERE kind = 'digest'")
        assert len(chats) == 21, f"the digest went to {len(chats)} chats, not 20 supervisors and an admin"
        floor_of_digest()
        value = await timed_async(digest_data, 5)
        base = timed(floor_of_digest, 5)
        results.add(
            ratio_figure(
                "weekly digest for 20 supervisors + 1 admin (data and text)",
                value * 1000,
                base * 1000,
                "ms",
                2.0,
                note="recipients of one zone share one composition",
            )
        )
        full = await timed_async(digest_full, 1)
        results.add(
            Figure(
                "weekly digest for 20 supervisors + 1 admin, with charts",
                full * 1000,
                "ms",
                note="matplotlib: one chart per zone and one for the council",
            )
        )
    finally:
        connection.close()
        await store.close()


# ---------------------------------------------------------------------------------------------------------------
# Fiscal-year reports of the councils of a city, read from the tallies (issue 14)

CITY_COUNCILS = 24
COUNCIL_REPORT_MS, CITY_TABLE_MS = 50.0, 500.0


def within(name: str, value: float, floor: float, limit: float, note: str = "") -> Figure:
    """A figure whose target is a time, shown against its floor: the ratio says how far under the floor it is."""
    return Figure(name, value, "ms", floor, f"≤ {limit:g} ms", value / floor if floor else None, value <= limit, note)


async def city_runs(folder: Path, taxonomy: Taxonomy, records: int, results: Results) -> None:
    """`records` outings and consultations (half each) over ten fiscal years, spread over 24 councils with a
    database each: one council's fiscal-year report (JSON, against the year before) and the city table of the 24
    councils for a fiscal year, against the bare GROUP BY queries for the same counts on the same files."""
    per_council = records // (2 * CITY_COUNCILS)
    print(
        f"{CITY_COUNCILS} councils of {per_council:,} outings and {per_council:,} consultations over 10 fiscal years",
        flush=True,
    )
    started = time.perf_counter()
    paths = await asyncio.to_thread(
        build_councils,
        folder,
        taxonomy,
        Sealer.from_text(generate_key()),
        councils=CITY_COUNCILS,
        outings=per_council,
        consultations=per_council,
    )
    print(f"  built (or kept) in {time.perf_counter() - started:.0f} s", flush=True)
    period, compare = fiscal_year(LAST_FY - 1), fiscal_year(LAST_FY - 2)
    stores = [await Store.open(path) for path in paths]  # counting needs no key
    connections = [sqlite3.connect(path) for path in paths]
    try:
        reporter = Reporter(stores[0], taxonomy)
        children = [
            Child(Council(f"ward{i:02d}", f"ward {i}", f"w{i}", "city", True), store, taxonomy)
            for i, store in enumerate(stores)
        ]

        async def council_report() -> str:
            return (await reporter.report(period)).model_dump_json()

        def council_floor() -> None:
            for p in (period, compare):
                floor_counts(connections[0], p.start, p.end, None)

        async def city_table() -> None:
            await city_totals(taxonomy, children, period)

        def city_floor() -> None:
            for connection in connections:
                floor_counts(connection, period.start, period.end, None)

        await council_report()
        await city_table()
        council_floor()
        city_floor()  # every cache warm alike
        size = f"{2 * per_council * CITY_COUNCILS:,} records in {CITY_COUNCILS} councils"
        value, base = await timed_async(council_report, 7), timed(council_floor, 7)
        results.add(
            within(
                f"fiscal-year report JSON of one council, from tallies ({per_council:,} + {per_council:,} records)",
                value * 1000,
                base * 1000,
                COUNCIL_REPORT_MS,
                note="against the year before",
            )
        )
        value, base = await timed_async(city_table, 5), timed(city_floor, 5)
        results.add(
            within(f"city table of a fiscal year, from tallies ({size})", value * 1000, base * 1000, CITY_TABLE_MS)
        )
    finally:
        for connection in connections:
            connection.close()
        for store in stores:
            await store.close()


def taxonomy_tz() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Tokyo")


# ---------------------------------------------------------------------------------------------------------------
# Import and export: rows per second and peak memory of the real commands


PEAK = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)\n"
)


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Seconds and peak RSS (MB) of one command, measured in a fresh wrapper process."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", PEAK, *argv], env={**os.environ, **env}, capture_output=True, text=True, check=True
    ).stdout.split()
    seconds = time.perf_counter() - started
    if out[1] != "0":
        raise RuntimeError(f"{argv} exited with {out[1]}")
    return seconds, int(out[0]) // 1024


def write_import_file(path: Path, rows: int, taxonomy: Taxonomy) -> None:
    rng = random.Random(3)
    areas = [a.label for a in taxonomy.areas()]
    groups = [g for g in taxonomy.consulter]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "kind",
                "date",
                "staff",
                "area",
                "activity",
                "destination",
                "channel",
                "consulter",
                "consulter_category",
                "topic",
                "agencies",
                "at_outing",
            ]
        )
        for i in range(rows):
            day = f"2015-{rng.randint(4, 12):02d}-{rng.randint(1, 28):02d}"
            staff = f"職員{rng.randrange(300):03d}"
            if i % 2:
                writer.writerow(
                    [
                        "outing",
                        day,
                        staff,
                        rng.choice(areas),
                        rng.choice(taxonomy.activity.categories).label,
                        rng.choice(taxonomy.destination.categories).label,
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                    ]
                )
            else:
                group = rng.choice(groups)
                categories = taxonomy.categories_of(group.code).categories
                writer.writerow(
                    [
                        "consultation",
                        day,
                        staff,
                        rng.choice(areas),
                        "",
                        "",
                        rng.choice(taxonomy.channel.categories).code,
                        group.label,
                        rng.choice(categories).label if categories else "",
                        "",
                        rng.choice(["", "children", "elderly|health"]),
                        "",
                    ]
                )


def io_runs(work: Path, database: Path, key: str, taxonomy: Taxonomy, import_rows: int, results: Results) -> None:
    print("import and export", flush=True)
    source = work / "import.csv"
    write_import_file(source, import_rows, taxonomy)
    target = work / "import.sqlite3"
    target.unlink(missing_ok=True)
    env = {"DATABASE_PATH": str(target), "FIELD_ENCRYPTION_KEY": key}
    seconds, peak = run_measured([sys.executable, "-m", "cli", "import", "records", str(source)], env)
    results.add(Figure(f"import {import_rows:,} CSV rows", import_rows / seconds, "rows/s", note=f"{seconds:.1f} s"))
    results.add(Figure("import peak RSS", peak, "MB", target="≤ 250 MB", ok=peak <= 250))
    env = {"DATABASE_PATH": str(database), "FIELD_ENCRYPTION_KEY": key}
    connection = sqlite3.connect(database)
    period = fiscal_year(LAST_FY - 1)
    rows = sum(
        connection.execute(
            f"SELECT count(*) FROM {t} WHERE date BETWEEN ? AND ?", (period.start.isoformat(), period.end.isoformat())
        ).fetchone()[0]
        for t in ("outings", "consultations")
    )
    connection.close()
    for fmt in ("csv", "xlsx"):
        out = work / f"export.{fmt}"
        seconds, peak = run_measured(
            [sys.executable, "-m", "cli", "export", "--fy", str(LAST_FY - 1), "--format", fmt, "--out", str(out)],
            env,
        )
        results.add(
            Figure(
                f"export a fiscal year ({rows:,} records) to {fmt.upper()}",
                rows / seconds,
                "rows/s",
                note=f"{seconds:.1f} s",
            )
        )
        results.add(Figure(f"export to {fmt.upper()} peak RSS", peak, "MB", target="≤ 250 MB", ok=peak <= 250))


# ---------------------------------------------------------------------------------------------------------------


def table(results: Results) -> str:
    lines = ["| figure | value | floor | ratio | target | met |", "| --- | ---: | ---: | ---: | --- | --- |"]
    for f in results.figures:
        floor = f"{f.floor:,.2f}" if f.floor is not None else ""
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else ""
        met = "" if f.ok is None else ("yes" if f.ok else "NO")
        name = f"{f.name} ({f.note})" if f.note else f.name
        lines.append(f"| {name} | {f.value:,.2f} {f.unit} | {floor} | {ratio} | {f.target} | {met} |")
    return "\n".join(lines)


PG_PARTS = ("pg-latency", "pg-workers", "pg-city", "pg-serve")
ONLY = ("latency", "city", "serve", "notes", "lineworks", *PG_PARTS, "postgres", "pg-statements")


async def main_async(args: argparse.Namespace) -> Results:
    results = Results()
    taxonomy = load_taxonomy()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="fieldbot-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if not args.work:
        work.chmod(0o755)  # the PostgreSQL server, run as user postgres, keeps its data in here
    users, seconds, records, import_rows = (
        (20, 4.0, 100_000, 100_000) if args.quick else (200, 20.0, 1_000_000, 1_000_000)
    )
    global LOG_DIR
    LOG_DIR = work
    city_records = 1_000_000 if args.quick else 10_000_000

    def wanted(part: str) -> bool:
        return args.only in (None, part) or (args.only == "postgres" and part in PG_PARTS)

    if wanted("latency"):
        await latency_runs(work, users, seconds, results)
    if wanted("serve"):
        from bench.serve import serve_runs  # here: bench/serve.py imports this module

        await serve_runs(work, users, seconds, results)
    for part in filter(wanted, ("notes", "lineworks")):
        await front_end_runs(part, work, results, quick=args.quick)
    if args.only is None:
        await big_runs(work, taxonomy, records, import_rows, results)
    if wanted("city"):
        await city_runs(work / "city", taxonomy, city_records, results)
    parts = [part for part in PG_PARTS if wanted(part)] + (["pg-statements"] if args.only == "pg-statements" else [])
    if parts:
        from bench.pg import postgres_runs  # here: bench/pg.py imports this module

        await postgres_runs(
            work,
            taxonomy,
            parts,
            keep=bool(args.work),
            quick=args.quick,
            city_records=city_records,
            users=users,
            seconds=seconds,
            results=results,
        )
    if not args.work:  # gigabytes: kept (and used again) only in a work folder given
        shutil.rmtree(work / "city", ignore_errors=True)
    return results


async def front_end_runs(part: str, work: Path, results: Results, *, quick: bool) -> None:
    """A front end under load: the note form (notes) or LINE WORKS (lineworks); their modules import this one."""
    if part == "notes":
        from bench.notes import notes_runs

        await notes_runs(work, results)
    else:
        from bench.lineworks import lineworks_runs

        await lineworks_runs(work, results, quick=quick)


async def big_runs(work: Path, taxonomy: Taxonomy, records: int, import_rows: int, results: Results) -> None:
    """The report and digest over one big council, then import and export."""
    key = generate_key()
    database = work / "big.sqlite3"
    print(f"building {records:,} outings and {records:,} consultations over 10 fiscal years", flush=True)
    await asyncio.to_thread(
        build, database, taxonomy, Sealer.from_text(key), outings=records, consultations=records, last_fy=LAST_FY
    )
    await report_runs(database, Sealer.from_text(key), taxonomy, records, results)
    await asyncio.to_thread(io_runs, work, database, key, taxonomy, import_rows, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under a minute")
    parser.add_argument("--work", help="folder for the generated databases and files (default: a temporary one)")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help=f"where to write the figures as JSON (default: {RESULTS})"
    )
    parser.add_argument(
        "--only",
        choices=ONLY,
        help="run only one part (latency: for profiling; city: the councils; serve: webhook intake; notes: the note "
        "form, 200 submits at once on SQLite and PostgreSQL; lineworks: LINE WORKS callback to reply and "
        "callbacks a second, on SQLite and PostgreSQL; pg-latency, "
        "pg-workers, pg-city, pg-serve: the PostgreSQL rows, or all of them with postgres; pg-statements: where "
        "the server's time goes on the webhook path, not part of the full run)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    results = asyncio.run(main_async(args))
    elapsed = time.perf_counter() - started
    print()
    print(table(results))
    payload = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "seconds": round(elapsed, 1),
        "figures": [asdict(f) for f in results.figures],
    }
    args.results.write_text(json.dumps(payload, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\n{len(results.figures)} figures in {elapsed:.0f} s; written to {args.results}")


if __name__ == "__main__":
    # `python -m bench.run` runs this file as __main__; the rows in bench/pg.py, serve.py and notes.py import
    # `bench.run`, a second copy of it: run that one, so that the settings made here (LOG_DIR) are theirs too.
    from bench.run import main as canonical_main

    canonical_main()
