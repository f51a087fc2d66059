"""Large databases for the benchmarks: ten fiscal years of a big city, written straight through sqlite3 (records
and the tallies reports read), and the councils of a city, one database each."""

from __future__ import annotations

import asyncio
import random
import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path

from core.crypto import Sealer
from core.taxonomy import Taxonomy
from storage.sqlite.store import Store
from storage.sqlite.tallies import FILL

STAMP = "2026-01-01T00:00:00.000000Z"


def _weights(n: int, rng: random.Random) -> list[float]:
    # A few categories carry most of the counts, as in real tables.
    return [rng.paretovariate(1.2) for _ in range(n)]


async def _schema(path: Path, sealer: Sealer) -> None:
    store = await Store.open(path, sealer)
    await store.close()


def build(
    path: Path,
    taxonomy: Taxonomy,
    sealer: Sealer,
    *,
    outings: int,
    consultations: int,
    years: int = 10,
    last_fy: int = 2026,
    staff: int = 300,
    seed: int = 7,
) -> None:
    """`outings` outings and `consultations` consultations spread over `years` fiscal years ending `last_fy`."""
    if path.exists():
        path.unlink()
    asyncio.run(_schema(path, sealer))
    rng = random.Random(seed)
    first = date(last_fy - years + 1, 4, 1)
    days = (date(last_fy + 1, 3, 31) - first).days + 1
    areas = [a.code for a in taxonomy.areas()]
    activity = [c.code for c in taxonomy.activity]
    destination = [c.code for c in taxonomy.destination]
    channel = [c.code for c in taxonomy.channel]
    groups = [c.code for c in taxonomy.consulter]
    topics = [c.code for c in taxonomy.topic]
    agencies = [c.code for c in taxonomy.agency]
    w = {
        name: _weights(len(codes), rng)
        for name, codes in (
            ("area", areas),
            ("activity", activity),
            ("destination", destination),
            ("channel", channel),
            ("group", groups),
            ("topic", topics),
            ("agency", agencies),
        )
    }
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("BEGIN")
    connection.executemany(
        "INSERT INTO staff (id, telegram_id, name, role, zone, area, created_at) VALUES (?, ?, ?, 'staff', ?, ?, ?)",
        [
            (
                1000 + i,
                900_000 + i,
                f"職員{i:03d}",
                taxonomy.area(areas[i % len(areas)]).zone,  # type: ignore[union-attr]
                areas[i % len(areas)],
                STAMP,
            )
            for i in range(staff)
        ],
    )
    batch = 50_000
    dates = [(first + timedelta(days=d)).isoformat() for d in range(days)]
    for start in range(0, outings, batch):
        n = min(batch, outings - start)
        connection.executemany(
            "INSERT INTO outings (id, staff_id, date, area, activity, destination, headcount, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            zip(
                range(start + 1, start + n + 1),
                (1000 + rng.randrange(staff) for _ in range(n)),
                (dates[rng.randrange(days)] for _ in range(n)),
                rng.choices(areas, w["area"], k=n),
                rng.choices(activity, w["activity"], k=n),
                rng.choices(destination, w["destination"], k=n),
                (rng.randrange(1, 40) for _ in range(n)),
                [STAMP] * n,
                strict=True,
            ),
        )
    categories: dict[str, list[str | None]] = {g: [c.code for c in taxonomy.categories_of(g)] or [None] for g in groups}
    for start in range(0, consultations, batch):
        n = min(batch, consultations - start)
        ids = range(start + 1, start + n + 1)
        chosen_groups = rng.choices(groups, w["group"], k=n)
        chosen_channels = rng.choices(channel, w["channel"], k=n)
        connection.executemany(
            "INSERT INTO consultations (id, staff_id, date, area, channel, consulter, consulter_category, topic, "
            "at_outing, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            zip(
                ids,
                (1000 + rng.randrange(staff) for _ in range(n)),
                (dates[rng.randrange(days)] for _ in range(n)),
                rng.choices(areas, w["area"], k=n),
                chosen_channels,
                chosen_groups,
                (rng.choice(categories[g]) for g in chosen_groups),
                (t if rng.random() < 0.7 else None for t in rng.choices(topics, w["topic"], k=n)),
                (int(c == taxonomy.outing_channel) for c in chosen_channels),
                [STAMP] * n,
                strict=True,
            ),
        )
        links = {
            (i, a)
            for i, a in zip(
                rng.choices(ids, k=int(n * 0.8)), rng.choices(agencies, w["agency"], k=int(n * 0.8)), strict=True
            )
        }
        connection.executemany(
            "INSERT INTO consultation_agencies (consultation_id, agency) VALUES (?, ?)", sorted(links)
        )
    for statement in FILL:  # the tallies, as `fieldbot tallies rebuild` makes them
        connection.execute(statement)
    connection.execute(
        "INSERT INTO meta (key, value) VALUES ('bench_build', ?)", (_signature(outings, consultations, seed),)
    )
    connection.execute("COMMIT")
    connection.execute("ANALYZE")
    connection.close()


def _signature(outings: int, consultations: int, seed: int) -> str:
    return f"{outings}+{consultations}:{seed}"


def built(path: Path, outings: int, consultations: int, seed: int = 7) -> bool:
    """Whether `path` is a database `build` made with these sizes (a benchmark's work folder kept from a run)."""
    if not path.is_file():
        return False
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = connection.execute("SELECT value FROM meta WHERE key = 'bench_build'").fetchone()
        finally:
            connection.close()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == _signature(outings, consultations, seed)


def build_councils(
    folder: Path, taxonomy: Taxonomy, sealer: Sealer, *, councils: int, outings: int, consultations: int
) -> list[Path]:
    """The databases of `councils` councils of a city (COUNCILS_DIR keeps one per council), each with `outings`
    outings and `consultations` consultations over ten fiscal years. One is built and copied: the councils'
    figures are alike, and each is read from its own file. Databases already built alike in `folder` are kept."""
    paths = [council_source(folder, taxonomy, sealer, outings=outings, consultations=consultations)]
    paths += [folder / f"council-{i:02d}.sqlite3" for i in range(1, councils)]
    for path in paths[1:]:
        if not built(path, outings, consultations):
            shutil.copyfile(paths[0], path)
    return paths


def council_source(folder: Path, taxonomy: Taxonomy, sealer: Sealer, *, outings: int, consultations: int) -> Path:
    """The first council's database of `build_councils` (the one the others are copies of), built unless it is
    already there alike: the PostgreSQL city rows copy their data from it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "council-00.sqlite3"
    if not built(path, outings, consultations):
        build(path, taxonomy, sealer, outings=outings, consultations=consultations)
    return path
