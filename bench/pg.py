"""The PostgreSQL rows of `make bench` (issue 14), each against SQLite or a floor measured in the same run:

- step latency of `fieldbot run` on PostgreSQL against the same flow on SQLite (1 staff and a council of 20);
- throughput with 1, 2 and 4 `fieldbot work` processes beside `fieldbot serve`, on both engines, with the CPU time
  each step costs the database server, the bot's processes and the load generator (read from /proc), and what
  the database's per-step time predicts for 8 cores;
- the fiscal-year report of one council and the city table of 24 councils, each in its own schema council_<code>
  of one database, over the rows of the SQLite city row (copied in bulk), against the bare GROUP BY queries;
- webhook intake and the time from a webhook's 200 to the reply with the inbox on PostgreSQL (bench/serve.py);
- on request only (`--only pg-statements`), where the server's time goes on the webhook path, window by window.

The server is a throwaway one the bench starts and stops itself (tests/pg.py finds the binaries and runs it as
the `postgres` user when we are root), durable as a production server runs (fsync on), reached through a unix
socket in the bench's work folder; the engine's own session settings apply (synchronous_commit=off as shipped).
Where no server binaries are found, these rows are skipped with one line.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import os
import pwd
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench.bigdb import council_source
from bench.run import (
    CITY_COUNCILS,
    CITY_TABLE_MS,
    COUNCIL_REPORT_MS,
    FIELDBOT_STEPS,
    FLOOR_QUERIES,
    LAST_FY,
    STAFF_BASE,
    Figure,
    Results,
    StepRun,
    bot_process,
    drive,
    prepare_staff,
    ratio_figure,
    timed_async,
    within,
)
from bot.councils import schema_of
from core.councils import Council
from core.crypto import Sealer, generate_key
from core.periods import fiscal_year
from core.taxonomy import Taxonomy
from services.city import city_totals
from services.deps import Child
from services.reporting import Reporter
from simulator.botapi import LocalBotApi
from storage.postgres.store import PostgresStore
from tests.pg import Cluster, server_binaries

SKIPPED = "PostgreSQL rows skipped: no initdb/pg_ctl found (apt install postgresql)"
ENGINES = ("sqlite", "postgresql")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int, *, children: bool = False) -> float:
    """CPU seconds (user + system) a process has used; with `children`, also those of its children it reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / TICK


def children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError):
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == parent:
                    found.append(int(entry.name))
    return found


# ---------------------------------------------------------------------------------------------------------------
# The server


@dataclass
class Server:
    """A PostgreSQL server of the bench's own, its data in `root` (kept between runs of a work folder given)."""

    cluster: Cluster
    keep: bool
    names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def start(cls, root: Path, *, keep: bool, options: str = "") -> Server | None:
        """Start it (initdb first if `root` holds no data yet); None, with one line printed, where it cannot be.
        `options`: more server settings (`-c name=value ...`)."""
        binaries = server_binaries()
        if binaries is None:
            print(SKIPPED, flush=True)
            return None
        user = "postgres" if os.geteuid() == 0 else None
        root.mkdir(parents=True, exist_ok=True)
        if user is not None:
            try:
                entry = pwd.getpwnam(user)
            except KeyError:
                print("PostgreSQL rows skipped: running as root and there is no `postgres` user", flush=True)
                return None
            os.chown(root, entry.pw_uid, entry.pw_gid)
            if subprocess.run(["runuser", "-u", user, "--", "test", "-w", str(root)], check=False).returncode:
                print(
                    f"PostgreSQL rows skipped: user postgres cannot reach {root} (a folder above it is private)",
                    flush=True,
                )
                return None
        cluster = Cluster(binaries, root, user)
        server = cls(cluster, keep)
        atexit.register(server.stop)
        data = root / "data"
        if (data / "postmaster.pid").exists():  # a run cut short left it running
            with contextlib.suppress(subprocess.CalledProcessError):
                cluster._run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        if not (data / "PG_VERSION").exists():
            shutil.rmtree(data, ignore_errors=True)
            cluster._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale")
        # Durable (fsync on, the default): the step rows measure what a production server does. A unix socket in
        # our folder only; max_wal_size raised for the bulk load of the city rows (fewer checkpoints meanwhile).
        options = f"-k {root} -c listen_addresses='' -c max_connections=300 -c max_wal_size=4GB {options}"
        cluster._run("pg_ctl", "-D", str(data), "-l", str(root / "log"), "-o", options.strip(), "-w", "start")
        return server

    def url(self, database: str) -> str:
        return self.cluster.url(database)

    async def fresh_database(self) -> str:
        name = f"bench_{os.getpid()}_{next(self.names)}"
        await self.cluster.drop_database(name)
        return await self.cluster.create_database(name=name)

    async def drop(self, name: str) -> None:
        await self.cluster.drop_database(name)

    def master(self) -> int:
        return int((self.cluster.root / "data" / "postmaster.pid").read_text().split()[0])

    def cpu(self) -> float:
        """CPU seconds used by the whole server so far: the postmaster, its live backends and those that ended."""
        master = self.master()
        return cpu_of(master, children=True) + sum(cpu_of(pid) for pid in children_of(master))

    def stop(self) -> None:
        data = self.cluster.root / "data"
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            if (data / "postmaster.pid").exists():
                self.cluster._run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        if not self.keep:
            shutil.rmtree(self.cluster.root, ignore_errors=True)


@dataclass
class Database:
    """A fresh database for one deployment: SQLite's file, or a new PostgreSQL database (whose lock file, which
    every fieldbot process takes beside DATABASE_PATH on either engine, is still in the work folder)."""

    engine: str
    work: Path
    name: str
    server: Server | None = None
    pg_name: str | None = None

    @property
    def path(self) -> Path:
        return self.work / f"{self.name}.sqlite3"

    async def create(self, key: str, users: int) -> dict[str, str]:
        """The database made, with `users` staff members; the environment that points fieldbot at it."""
        self.path.unlink(missing_ok=True)
        url = None
        if self.engine == "postgresql":
            assert self.server is not None
            self.pg_name = await self.server.fresh_database()
            url = self.server.url(self.pg_name)
        await prepare_staff(self.path, Sealer.from_text(key), users, url)
        env = {"DATABASE_PATH": str(self.path), "FIELD_ENCRYPTION_KEY": key}
        if url is not None:
            env["DATABASE_URL"] = url
        return env

    async def drop(self) -> None:
        if self.pg_name is not None and self.server is not None:
            await self.server.drop(self.pg_name)
            self.pg_name = None


async def postgres_runs(
    work: Path,
    taxonomy: Taxonomy,
    parts: Sequence[str],
    *,
    keep: bool,
    quick: bool,
    city_records: int,
    users: int,
    seconds: float,
    results: Results,
) -> None:
    """The PostgreSQL rows asked for (`parts`: pg-latency, pg-workers, pg-serve, pg-city; pg-statements), on a
    server started for them in `work` (its data kept there when `keep`). `users` and `seconds`: those of the
    SQLite serve rows, for the webhook rows; the step rows compare a council of 20 staff."""
    if "pg-statements" in parts:  # a server of its own, which loads pg_stat_statements
        await statement_runs(work, 20, 20.0 if quick else 60.0, 3, results)
    if not set(parts) - {"pg-statements"}:
        return
    server = Server.start(work / "postgres", keep=keep)
    if server is None:
        return
    try:
        if "pg-latency" in parts:
            await engine_latency_runs(work, server, 20, 4.0 if quick else 15.0, 1 if quick else 2, results)
        if "pg-workers" in parts:
            counts = (1, 4) if quick else (1, 2, 4)
            await worker_runs(work, server, 20 if quick else 40, 3.0 if quick else 10.0, counts, results)
        if "pg-serve" in parts:
            from bench.serve import serve_runs  # here: bench/serve.py imports bench/run.py

            await serve_runs(work, users, seconds, results, server)
        if "pg-city" in parts:
            await pg_city_runs(work, server, taxonomy, city_records, results)
    finally:
        server.stop()


async def statement_runs(work: Path, users: int, seconds: float, slices: int, results: Results) -> None:
    """Where the server's time goes on the webhook path (`fieldbot serve` and one `fieldbot work` process, `users`
    staff for `seconds` in `slices` equal windows): statements per step and their execution time, and the inbox
    claim's search (the probe and the claiming UPDATE) window by window, from pg_stat_statements, on a server of
    its own that loads it. Not part of `make bench`: `--only pg-statements`."""
    from bench.serve import Deployment, replies_after_200  # here: bench/serve.py imports bench/run.py

    print(
        f"PostgreSQL statements of the webhook path ({users} staff, {slices} windows of {seconds / slices:.0f} s)",
        flush=True,
    )
    server = Server.start(
        work / "postgres-statements",
        keep=False,
        options="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=top",
    )
    if server is None:
        return
    try:
        async with LocalBotApi() as api:
            api.webhook.retry_delay = 0.5
            deployment = Deployment(api, work, "statements", server)
            await deployment.start(users, serve_workers=0, work_processes=1)
            assert deployment.database.pg_name is not None
            connection = await asyncpg.connect(server.url(deployment.database.pg_name))
            try:
                await connection.execute("CREATE EXTENSION pg_stat_statements")
                people = [api.user(STAFF_BASE + i, first_name=f"u{i}") for i in range(users)]
                await replies_after_200(api, people, 2.0)  # warm-up
                for i in range(slices):
                    await connection.execute("SELECT pg_stat_statements_reset()")
                    run = await replies_after_200(api, people, seconds / slices)
                    await _statements(connection, i, seconds / slices, run.rate, len(run.latencies), results)
            finally:
                await connection.close()
                await deployment.close()
    finally:
        server.stop()


async def _statements(connection: Any, i: int, width: float, rate: float, steps: int, results: Results) -> None:
    rows = await connection.fetch(
        "SELECT query, calls, total_exec_time FROM pg_stat_statements WHERE dbid = "
        "(SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements%'"
    )
    calls = sum(r["calls"] for r in rows)
    spent = sum(r["total_exec_time"] for r in rows)
    claim = [r for r in rows if "FROM inbox i WHERE i.bot_id" in r["query"] and "claimed_by IS NULL" in r["query"]]
    if not claim:
        raise RuntimeError("pg-statements: no inbox claim among the statements (has its SQL changed?)")
    claim_calls = sum(r["calls"] for r in claim)
    claim_ms = sum(r["total_exec_time"] for r in claim)
    dead = await connection.fetchval("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'inbox'") or 0
    span = f"{i * width:.0f}–{(i + 1) * width:.0f} s"
    results.add(
        Figure(
            f"PostgreSQL statements per step, webhook path, {span}",
            calls / steps,
            "statements",
            note=f"{spent / steps:.2f} ms of execution per step; {rate:.0f} steps/s",
        )
    )
    results.add(
        Figure(
            f"inbox claim search, mean execution, {span}",
            claim_ms / claim_calls,
            "ms",
            note=f"{claim_calls / steps:.1f} per step, {claim_ms / max(spent, 1e-9):.0%} of the execution time; "
            f"{dead:,} dead inbox rows at the end",
        )
    )


# ---------------------------------------------------------------------------------------------------------------
# Step latency: `fieldbot run` on PostgreSQL against SQLite


async def engine_latency_runs(
    work: Path, server: Server, users: int, seconds: float, rounds: int, results: Results
) -> None:
    """The outing flow by 1 staff member and by `users` at once, on each engine in turn, `rounds` times (SQLite
    first, then PostgreSQL first, and so on, so that a drift of the machine moves both alike); the samples of
    every round pooled."""
    print(f"step latency on PostgreSQL against SQLite (1 and {users} staff)", flush=True)
    samples: dict[tuple[str, int], list[float]] = {(e, n): [] for e in ENGINES for n in (1, users)}
    for order in [ENGINES if r % 2 == 0 else ENGINES[::-1] for r in range(rounds)]:
        for engine in order:
            async with LocalBotApi() as api:
                database = Database(engine, work, f"latency-{engine}", server)
                env = await database.create(generate_key(), users)
                env |= {"TELEGRAM_RATE_LIMIT": "false", "LOG_LEVEL": "WARNING", "DIGEST_SCHEDULE": "off"}
                process = await bot_process(api, ["-m", "cli", "run"], env)
                try:
                    people = [api.user(STAFF_BASE + i, first_name=f"u{i}") for i in range(users)]
                    await drive(api, people[:1], FIELDBOT_STEPS, seconds=60, rounds=2)  # warm-up
                    one = await drive(api, people[:1], FIELDBOT_STEPS, seconds=max(3.0, seconds / 3))
                    many = await drive(api, people, FIELDBOT_STEPS, seconds=seconds)
                finally:
                    process.terminate()
                    process.wait(timeout=30)
                    await database.drop()
            samples[engine, 1] += one.latencies
            samples[engine, users] += many.latencies
    for n in (1, users):
        pg, lite = (StepRun(samples[e, n], 0, 1.0) for e in ("postgresql", "sqlite"))
        note = f"{len(pg.latencies)} and {len(lite.latencies)} steps"
        results.add(pg_ratio(f"step latency median, {n} staff, PostgreSQL", pg.median, lite.median, 1.5, note))
        results.add(pg_ratio(f"step latency p99, {n} staff, PostgreSQL", pg.p99, lite.p99, 3.0, note))


def pg_ratio(name: str, value: float, sqlite: float, limit: float, note: str) -> Figure:
    figure = ratio_figure(name, value * 1000, sqlite * 1000, "ms", limit, note=note)
    figure.target = f"≤ {limit}× SQLite"
    return figure


# ---------------------------------------------------------------------------------------------------------------
# Throughput with 1, 2 and 4 worker processes, and where the CPU time of a step goes


@dataclass
class Spent:
    """The steps finished in the window and its seconds; CPU seconds per step (over every step, the window's and
    the tail's): the database server's, the bot's processes' (serve and work), the load generator's (this process:
    the simulated users and the Bot API simulator, which Telegram is in production)."""

    steps: int
    seconds: float
    database: float
    bot: float
    generator: float

    @property
    def rate(self) -> float:
        return self.steps / self.seconds


async def worker_runs(
    work: Path, server: Server, users: int, seconds: float, counts: Sequence[int], results: Results
) -> None:
    """`fieldbot serve --workers 0` taking the webhooks and N `fieldbot work` processes (4 claim loops each)
    handling them, `users` staff members repeating the outing flow for `seconds`, on each engine."""
    from bench.serve import Deployment, replies_after_200  # here: bench/serve.py imports bench/run.py

    print(f"throughput with {', '.join(map(str, counts))} fieldbot work processes ({users} staff)", flush=True)
    spent: dict[tuple[str, int], Spent] = {}
    for engine in ENGINES:
        for n in counts:
            async with LocalBotApi() as api:
                api.webhook.retry_delay = 0.5
                deployment = Deployment(api, work, f"workers-{engine}-{n}", server if engine == "postgresql" else None)
                await deployment.start(users, serve_workers=0, work_processes=n)
                try:
                    people = [api.user(STAFF_BASE + i, first_name=f"u{i}") for i in range(users)]
                    await replies_after_200(api, people, 2.0)  # warm-up: every process has handled updates
                    pids = [p.pid for p in deployment.processes]
                    database = server.cpu() if engine == "postgresql" else 0.0
                    bot, generator = sum(cpu_of(pid) for pid in pids), time.process_time()
                    run = await replies_after_200(api, people, seconds)
                    steps = len(run.latencies)  # the CPU time is that of every step, the window's and the tail's
                    spent[engine, n] = Spent(
                        run.in_window,
                        run.window,
                        ((server.cpu() - database) if engine == "postgresql" else 0.0) / steps,
                        (sum(cpu_of(pid) for pid in pids) - bot) / steps,
                        (time.process_time() - generator) / steps,
                    )
                finally:
                    await deployment.close()
            s = spent[engine, n]
            where = (f"database {s.database * 1000:.2f} ms, " if engine == "postgresql" else "") + (
                f"bot processes {s.bot * 1000:.2f} ms, load generator {s.generator * 1000:.2f} ms CPU per step"
            )
            name = f"throughput, {users} staff, {n} fieldbot work process{'es' if n > 1 else ''}, {label(engine)}"
            results.add(
                Figure(name, s.rate, "steps/s", note=f"{s.steps} steps in the {s.seconds:.0f} s window; {where}")
            )
    # The prediction: from the run with the most workers (the machine busiest, the per-step costs at their
    # highest, so the prediction errs low). Each step costs `database` seconds of the server's CPU and `bot` of
    # the bot's processes; with enough worker processes to keep 8 cores busy and no lock between the steps of
    # different people (PostgreSQL locks rows, not the database), 8 cores serve 8 / (database + bot) steps a
    # second when the database shares the machine with the bot, 8 / database when it has a machine of its own.
    # Checked here against this machine: 2 / (database + bot + generator) is what the 2 cores should allow.
    s = spent["postgresql", max(counts)]
    check = 2 / (s.database + s.bot + s.generator)
    results.add(
        Figure(
            "PostgreSQL server CPU per step (measured)",
            s.database * 1000,
            "ms",
            note=f"the server's CPU time over the {max(counts)}-worker run / its steps; bot processes "
            f"{s.bot * 1000:.2f} ms, load generator {s.generator * 1000:.2f} ms",
        )
    )
    results.add(
        Figure(
            "predicted throughput on 8 cores, database and bot on one machine",
            8 / (s.database + s.bot),
            "steps/s",
            note=f"8 / (database + bot CPU per step); the same model gives {check:.0f} steps/s for these 2 cores "
            f"with the load generator, measured {s.rate:.0f}",
        )
    )
    results.add(
        Figure(
            "predicted throughput on 8 cores for the database alone",
            8 / s.database,
            "steps/s",
            note="8 / database CPU per step: the bot's processes on other machines",
        )
    )


def label(engine: str) -> str:
    return "PostgreSQL" if engine == "postgresql" else "SQLite"


# ---------------------------------------------------------------------------------------------------------------
# The fiscal-year report and the city table over 24 councils' schemas


CITY_DATABASE = "city"
COPIED = ("staff", "outings", "consultations", "consultation_agencies", "daily_tallies", "monthly_tallies")
LOADERS = 2  # schemas filled at once (one connection each): the machine's 2 cores


def city_schemas() -> list[str]:
    return [schema_of(f"ward{i:02d}") for i in range(CITY_COUNCILS)]


async def city_built(server: Server, signature: str) -> bool:
    try:
        connection = await asyncpg.connect(server.url(CITY_DATABASE))
    except asyncpg.InvalidCatalogNameError:
        return False
    try:
        row = await connection.fetchrow("SELECT to_regclass('public.bench_build') IS NOT NULL AS made")
        if not row["made"]:
            return False
        return bool(await connection.fetchval("SELECT count(*) FROM bench_build WHERE signature = $1", signature))
    finally:
        await connection.close()


async def load_city(server: Server, source: Path, signature: str) -> None:
    """Every council's schema made by the engine's own migrations, then filled with the rows of the SQLite
    council `source` (the first schema by COPY, the others from it inside the server), their secondary indexes
    dropped meanwhile and built again after, vacuumed and analysed as a database in use would be."""
    await server.cluster.drop_database(CITY_DATABASE)
    await server.cluster.create_database(name=CITY_DATABASE)
    url = server.url(CITY_DATABASE)
    schemas = city_schemas()
    for schema in schemas:
        store = await PostgresStore.open(url, schema=schema)
        await store.close()
    settings = {"synchronous_commit": "off", "maintenance_work_mem": "256MB"}
    connections = [await asyncpg.connect(url, server_settings=settings) for _ in range(LOADERS)]
    try:
        rebuilt = {schema: await _drop_indexes(connections[0], schema) for schema in schemas}
        await _copy_from_sqlite(connections[0], source, schemas[0])
        queue: asyncio.Queue[str] = asyncio.Queue()
        for schema in schemas:
            queue.put_nowait(schema)

        async def loader(connection: Any) -> None:
            while not queue.empty():
                schema = queue.get_nowait()
                await _fill(connection, schema, schemas[0], rebuilt[schema])

        await asyncio.gather(*(loader(c) for c in connections))
        await connections[0].execute("CREATE TABLE bench_build (signature TEXT NOT NULL)")
        await connections[0].execute("INSERT INTO bench_build VALUES ($1)", signature)
    finally:
        for connection in connections:
            await connection.close()


async def _copy_from_sqlite(connection: Any, source: Path, schema: str) -> None:
    lite = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        for table in COPIED:
            columns = [row[1] for row in lite.execute(f"PRAGMA table_info({table})")]
            cursor = lite.execute(f"SELECT {', '.join(columns)} FROM {table}")
            while rows := cursor.fetchmany(50_000):
                await connection.copy_records_to_table(table, records=rows, columns=columns, schema_name=schema)
    finally:
        lite.close()


async def _fill(connection: Any, schema: str, first: str, rebuilt: list[str]) -> None:
    """`schema`'s rows copied from `first` (unless it is the first), its indexes built, its sequences set past
    the ids copied, and the tables vacuumed and analysed."""
    if schema != first:
        for table in COPIED:  # the same migrations made both: the same columns in the same order
            await connection.execute(f"INSERT INTO {schema}.{table} SELECT * FROM {first}.{table}")
    for statement in rebuilt:
        await connection.execute(statement)
    for table in ("staff", "outings", "consultations"):
        await connection.execute(
            f"SELECT setval(pg_get_serial_sequence('{schema}.{table}', 'id'), (SELECT max(id) FROM {schema}.{table}))"
        )
    for table in COPIED:
        await connection.execute(f"VACUUM (ANALYZE) {schema}.{table}")


async def _drop_indexes(connection: Any, schema: str) -> list[str]:
    """Drop the secondary indexes of `schema` and the tallies' primary keys (no foreign key points at them);
    return the statements that make them again, exactly as the migrations made them."""
    indexes = await connection.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = $1 AND NOT EXISTS ("
        "SELECT 1 FROM pg_constraint c WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)",
        schema,
    )
    keys = await connection.fetch(
        "SELECT r.relname, c.conname, pg_get_constraintdef(c.oid) AS definition FROM pg_constraint c "
        "JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace "
        "WHERE n.nspname = $1 AND c.contype = 'p' AND r.relname IN ('daily_tallies', 'monthly_tallies')",
        schema,
    )
    for row in indexes:
        await connection.execute(f"DROP INDEX {schema}.{row['indexname']}")
    for row in keys:
        await connection.execute(f"ALTER TABLE {schema}.{row['relname']} DROP CONSTRAINT {row['conname']}")
    return [row["indexdef"] for row in indexes] + [
        f"ALTER TABLE {schema}.{row['relname']} ADD CONSTRAINT {row['conname']} {row['definition']}" for row in keys
    ]


def pg_floor(query: str) -> str:
    return query.replace("?1", "$1").replace("?2", "$2").format(areas="", areas_c="")


async def pg_city_runs(work: Path, server: Server, taxonomy: Taxonomy, records: int, results: Results) -> None:
    """As bench/run.py `city_runs`, on PostgreSQL: the same rows (copied from the SQLite council it builds), one
    schema council_<code> per council in one database, as a deployment of many councils on PostgreSQL has."""
    per_council = records // (2 * CITY_COUNCILS)
    print(
        f"PostgreSQL: {CITY_COUNCILS} council schemas of {per_council:,} outings and {per_council:,} consultations",
        flush=True,
    )
    started = time.perf_counter()
    source = await asyncio.to_thread(
        council_source,
        work / "city",
        taxonomy,
        Sealer.from_text(generate_key()),
        outings=per_council,
        consultations=per_council,
    )
    signature = f"{CITY_COUNCILS}x{per_council}+{per_council}:{source.stat().st_size}"
    if await city_built(server, signature):
        print("  kept from an earlier run", flush=True)
    else:
        print(f"  SQLite source ready in {time.perf_counter() - started:.0f} s; loading", flush=True)
        started = time.perf_counter()
        await load_city(server, source, signature)
        print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)
    url = server.url(CITY_DATABASE)
    schemas = city_schemas()
    stores = [await PostgresStore.open(url, schema=schema) for schema in schemas]  # counting needs no key
    # The floor: a bare script's connection per council, with the engine's session settings (JIT off, which
    # only makes these short queries slower); statements prepared once per connection, as asyncpg does.
    connections = [
        await asyncpg.connect(url, server_settings={"search_path": schema, "jit": "off"}) for schema in schemas
    ]
    try:
        await _measure_city(taxonomy, stores, connections, per_council, results)
    finally:
        for connection in connections:
            await connection.close()
        for store in stores:
            await store.close()


async def _measure_city(
    taxonomy: Taxonomy, stores: list[PostgresStore], connections: list[Any], per_council: int, results: Results
) -> None:
    period, compare = fiscal_year(LAST_FY - 1), fiscal_year(LAST_FY - 2)
    floors = [pg_floor(q) for q in FLOOR_QUERIES]
    spans = [(p.start.isoformat(), p.end.isoformat()) for p in (period, compare)]
    reporter = Reporter(stores[0], taxonomy)
    children = [
        Child(Council(f"ward{i:02d}", f"ward {i}", f"w{i}", "city", True), store, taxonomy)
        for i, store in enumerate(stores)
    ]

    async def council_report() -> str:
        return (await reporter.report(period)).model_dump_json()

    async def floor_of(connection: Any, chosen: Sequence[tuple[str, str]]) -> None:
        for start, end in chosen:
            for query in floors:
                await connection.fetch(query, start, end)

    async def council_floor() -> None:
        await floor_of(connections[0], spans)

    async def city_table() -> None:
        await city_totals(taxonomy, children, period)

    async def city_floor() -> None:
        for connection in connections:
            await floor_of(connection, spans[:1])

    for warm in (council_report, city_table, council_floor, city_floor):
        await warm()  # every cache warm alike
    value, base = await timed_async(council_report, 7), await timed_async(council_floor, 7)
    results.add(
        within(
            f"fiscal-year report JSON of one council, from tallies, PostgreSQL ({per_council:,} + {per_council:,} "
            "records)",
            value * 1000,
            base * 1000,
            COUNCIL_REPORT_MS,
            note="against the year before",
        )
    )
    size = f"{2 * per_council * CITY_COUNCILS:,} records in {CITY_COUNCILS} schemas"
    value, base = await timed_async(city_table, 5), await timed_async(city_floor, 5)
    results.add(
        within(
            f"city table of a fiscal year, from tallies, PostgreSQL ({size})", value * 1000, base * 1000, CITY_TABLE_MS
        )
    )
