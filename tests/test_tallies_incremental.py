"""The tallies reports read are kept with every write: after any sequence of saves, undos, imports (also failed
ones) and purges they are what a rebuild from the records makes, and every count read from them is the count the
record scan makes, for any span of days and any set of areas."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from collections.abc import Awaitable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.clock import ManualClock
from core.crypto import Sealer
from core.importing import ConsultationRow, OutingRow, RecordRow
from core.models import NewConsultation, NewOuting, Submission
from services.reminders import RetentionService
from storage.postgres.store import PostgresStore
from storage.sqlite import tallies
from storage.sqlite.store import SqlStore, Store
from tests.conftest import TEST_KEY
from tests.pg import Cluster, run_aside

FIRST = date(2026, 3, 20)  # the records' days run from here over two month ends and the start of FY2026
DAYS = 60
NOW = datetime(2026, 6, 1, tzinfo=UTC)
AREAS = ("kyonan", "chuo", "sakaino", "retired-area")  # the last in no zone of the taxonomy any more
ACTIVITIES = ("outing", "meeting")
DESTINATIONS = ("salon-elderly", "area-council")
CHANNELS = ("outing", "phone", "office")
CONSULTERS = ("individual", "agency", "volunteer")
CATEGORIES = (None, "services", "donate")
TOPICS = (None, "case", "salon")
AGENCIES = ("elderly", "health", "children")
TOKYO = ZoneInfo("Asia/Tokyo")


@dataclass(frozen=True)
class Save:
    day: int
    area: str
    outing: tuple[str, str] | None
    consultations: tuple[NewConsultation, ...]
    memo: bool


@dataclass(frozen=True)
class Undo:
    pick: int
    by_owner: bool  # False: someone else presses it, and nothing may change


@dataclass(frozen=True)
class Import:
    rows: tuple[RecordRow, ...]
    again: tuple[int, ...]  # records already in the database, exported and imported again (skipped)
    fails: bool  # the import is aborted after its last row: nothing of it may count


@dataclass(frozen=True)
class Purge:
    pass


Operation = Save | Undo | Import | Purge

days = st.integers(0, DAYS)
consultations = st.builds(
    NewConsultation,
    channel=st.sampled_from(CHANNELS),
    consulter=st.sampled_from(CONSULTERS),
    consulter_category=st.sampled_from(CATEGORIES),
    topic=st.sampled_from(TOPICS),
    agencies=st.lists(st.sampled_from(AGENCIES), unique=True, max_size=2).map(tuple),
    at_outing=st.booleans(),
    from_agency=st.sampled_from((None, "children", "health")),
)
saves = st.builds(
    Save,
    day=days,
    area=st.sampled_from(AREAS),
    outing=st.none() | st.tuples(st.sampled_from(ACTIVITIES), st.sampled_from(DESTINATIONS)),
    consultations=st.lists(consultations, max_size=3).map(tuple),
    memo=st.booleans(),
).filter(lambda save: save.outing is not None or bool(save.consultations))
outing_rows = st.builds(
    lambda day, area, activity, destination: OutingRow(
        0, FIRST + timedelta(days=day), "取込", area, activity, destination, None
    ),
    days,
    st.sampled_from(AREAS),
    st.sampled_from(ACTIVITIES),
    st.sampled_from(DESTINATIONS),
)
consultation_rows = st.builds(
    lambda day, area, made: ConsultationRow(
        0,
        FIRST + timedelta(days=day),
        "取込",
        area,
        made.channel,
        made.consulter,
        made.consulter_category,
        made.topic,
        made.agencies,
        made.at_outing,
        None,
        made.from_agency,
    ),
    days,
    st.sampled_from(AREAS),
    consultations,
)
imports = st.builds(
    Import,
    rows=st.lists(outing_rows | consultation_rows, max_size=7).map(tuple),
    again=st.lists(st.integers(0, 10_000), max_size=3).map(tuple),
    fails=st.booleans(),
)
operations = st.lists(
    st.one_of(saves, saves, st.builds(Undo, st.integers(0, 10_000), st.booleans()), imports, st.just(Purge())),
    min_size=1,
    max_size=12,
)
# Spans that read whole months only, days only, or both; a span of no day; and random ones.
FIXED_SPANS = [
    (date(2025, 4, 1), date(2026, 3, 31)),  # FY2025: twelve months
    (date(2026, 4, 1), date(2027, 3, 31)),  # FY2026
    (date(2026, 4, 1), date(2026, 4, 30)),
    (date(2026, 3, 1), date(2026, 5, 31)),
    (date(2026, 3, 25), date(2026, 5, 3)),  # days, a whole month, days
    (date(2026, 4, 15), date(2026, 5, 14)),
    (date(2026, 4, 1), date(2026, 4, 1)),
    (date(2026, 5, 2), date(2026, 5, 1)),  # ends before it starts
]
spans = st.lists(
    st.tuples(st.integers(-5, DAYS + 5), st.integers(0, 70)).map(
        lambda t: (FIRST + timedelta(days=t[0]), FIRST + timedelta(days=t[0] + t[1]))
    ),
    max_size=3,
)
FIXED_AREAS: list[list[str] | None] = [None, [], ["kyonan"], ["chuo", "kyonan"], ["retired-area", "sakaino"]]
area_sets = st.lists(st.lists(st.sampled_from(AREAS), unique=True, min_size=1), max_size=2)


class Scenario:
    """The operations run on a real store: the repositories' own writes and the nightly retention service."""

    def __init__(self, store: SqlStore, staff: tuple[int, int]) -> None:
        self.store = store
        self.owner, self.other = staff
        self.saved: list[int] = []
        self.files = itertools.count(1)

    async def run(self, operation: Operation) -> None:
        if isinstance(operation, Save):
            await self.save(operation)
        elif isinstance(operation, Undo):
            await self.undo(operation)
        elif isinstance(operation, Import):
            await self.import_rows(operation)
        else:
            await RetentionService(self.store, ManualClock(NOW + timedelta(days=1)), TOKYO, 0).run(force=True)

    async def save(self, save: Save) -> None:
        outing = None if save.outing is None else NewOuting(*save.outing, headcount=None)
        submission = Submission(
            self.owner,
            FIRST + timedelta(days=save.day),
            save.area,
            outing,
            save.consultations,
            "メモ" if save.memo else None,
        )
        async with self.store.db.transaction() as tx:
            saved = await self.store.records.save_submission(tx, submission, "visit", NOW)
        self.saved.append(saved.id)

    async def undo(self, undo: Undo) -> None:
        if not self.saved:
            return
        submission = self.saved[undo.pick % len(self.saved)]
        async with self.store.db.transaction() as tx:
            removed = await self.store.records.delete_submission(
                tx, submission, self.owner if undo.by_owner else self.other
            )
        assert removed == undo.by_owner
        if removed:
            self.saved.remove(submission)

    async def import_rows(self, job: Import) -> None:
        present = [
            r[0]
            for r in await self.store.db.fetchall(
                "SELECT record_id FROM outings UNION ALL SELECT record_id FROM consultations ORDER BY 1"
            )
        ]
        again = sorted({present[i % len(present)] for i in job.again}) if present else []
        rows = list(job.rows) + [
            OutingRow(0, FIRST, "取込", "chuo", "outing", "salon-elderly", None, record_id=record_id)
            for record_id in again
        ]

        def file() -> Iterator[RecordRow]:
            yield from rows
            if job.fails:
                raise RuntimeError("the file changed while it was read")

        number = next(self.files)
        try:
            written = await self.store.imports.write_records(
                file(), filename=f"{number}.csv", sha256=f"{number:064x}", now=NOW, batch_size=2
            )
        except RuntimeError:
            assert job.fails
            return
        assert written.already_present == len(again)


async def counted_alike(store: SqlStore, spans: Sequence[tuple[date, date]], groups: list[list[str] | None]) -> None:
    """Every way reports read the tallies gives what the record scan gives."""
    for agency_group in ("agency", None):
        from_records = [
            await store.tallies.counts_from_records(spans, areas=areas, agency_group=agency_group) for areas in groups
        ]
        for areas, expected in zip(groups, from_records, strict=True):
            assert await store.tallies.counts_of_spans(spans, areas=areas, agency_group=agency_group) == expected
        assert await store.tallies.counts_by_areas(spans, groups, agency_group=agency_group) == from_records
    totals = [[(c.outings, c.consultations, c.at_outing) for c in per_span] for per_span in from_records]
    assert await store.tallies.totals_by_areas(spans, groups) == totals


async def scenario(
    opened: Awaitable[SqlStore], steps: list[Operation], spans: list[tuple[date, date]], groups: list[list[str] | None]
) -> None:
    store = await opened
    chunk = tallies.IMPORT_CHUNK
    tallies.IMPORT_CHUNK = 3  # an import counted in several ranges of ids
    try:
        owner = (await store.staff.ensure_admin(1, NOW)).id
        other = (await store.staff.ensure_admin(2, NOW)).id
        run = Scenario(store, (owner, other))
        for step in steps:
            await run.run(step)
            assert await store.tallies.differences() == (0, 0), step  # incremental == rebuild, after each write
        await counted_alike(store, spans, groups)  # tallies == the record scan
        kept = await store.db.fetchall(
            "SELECT count(*) FROM daily_tallies UNION ALL SELECT count(*) FROM monthly_tallies"
        )
        await store.db.execute("DELETE FROM daily_tallies")
        await store.db.execute("DELETE FROM monthly_tallies")
        assert await store.tallies.rebuild() == (kept[0][0], kept[1][0])  # rebuilt from nothing: every row again
        assert await store.tallies.rebuild() == (0, 0)
        await counted_alike(store, spans, groups)  # rebuild == the record scan
    finally:
        tallies.IMPORT_CHUNK = chunk
        await store.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(steps=operations, more_spans=spans, more_areas=area_sets)
def test_tallies_kept_with_every_write_equal_a_rebuild_and_the_record_scan(
    steps: list[Operation], more_spans: list[tuple[date, date]], more_areas: list[list[str]]
) -> None:
    groups: list[list[str] | None] = [*FIXED_AREAS, *more_areas]
    with tempfile.TemporaryDirectory() as folder:
        opened = Store.open(Path(folder) / "tallies.sqlite3", Sealer.from_text(TEST_KEY))
        asyncio.run(scenario(opened, steps, FIXED_SPANS + more_spans, groups))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(steps=operations, more_spans=spans, more_areas=area_sets)
def test_on_postgresql_too_tallies_kept_with_every_write_equal_a_rebuild_and_the_record_scan(
    pg_cluster: Cluster, steps: list[Operation], more_spans: list[tuple[date, date]], more_areas: list[list[str]]
) -> None:
    groups: list[list[str] | None] = [*FIXED_AREAS, *more_areas]
    name = run_aside(pg_cluster.create_database(template=Cluster.TEMPLATE))
    try:
        opened = PostgresStore.open(pg_cluster.url(name), Sealer.from_text(TEST_KEY))
        asyncio.run(scenario(opened, steps, FIXED_SPANS + more_spans, groups))
    finally:
        run_aside(pg_cluster.drop_database(name))


# ---- what a span reads -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "pieces"),
    [
        (date(2025, 4, 1), date(2026, 3, 31), [("monthly_tallies", "month", "2025-04", "2026-03")]),
        (
            date(2026, 4, 1),
            date(2026, 12, 1),  # a fiscal year so far: its whole months, and a day
            [("monthly_tallies", "month", "2026-04", "2026-11"), ("daily_tallies", "day", "2026-12-01", "2026-12-01")],
        ),
        (
            date(2026, 1, 31),
            date(2026, 3, 1),
            [
                ("monthly_tallies", "month", "2026-02", "2026-02"),
                ("daily_tallies", "day", "2026-01-31", "2026-01-31"),
                ("daily_tallies", "day", "2026-03-01", "2026-03-01"),
            ],
        ),
        (date(2026, 11, 16), date(2026, 11, 22), [("daily_tallies", "day", "2026-11-16", "2026-11-22")]),
        (date(2026, 2, 1), date(2026, 2, 28), [("monthly_tallies", "month", "2026-02", "2026-02")]),
        (date(2026, 2, 2), date(2026, 2, 1), []),
    ],
)
def test_a_span_reads_its_whole_months_and_only_the_days_around_them(
    start: date, end: date, pieces: list[tuple[str, str, str, str]]
) -> None:
    assert tallies._pieces(start, end) == pieces
