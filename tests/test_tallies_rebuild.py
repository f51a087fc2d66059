"""The tallies of a database made before them (migration 0014 fills them), `fieldbot tallies rebuild [--check]`,
and reports reading tallies, not records."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.crypto import Sealer
from core.i18n import t
from core.periods import fiscal_year
from core.taxonomy import Taxonomy
from services.imports import import_file
from services.reporting import Reporter, Scope
from storage.sqlite import db as db_module
from storage.sqlite.store import Store
from tests.conftest import TEST_KEY
from tests.seed import consult_only, consultation, outing
from tests.terminal import Cli, cli_fixture, make_database

NOW = datetime(2026, 12, 5, tzinfo=UTC)
AREAS = ("kyonan", "chuo", "sakaino", "gotenyama", "retired-area")
SPANS = [
    (date(2025, 4, 1), date(2026, 3, 31)),
    (date(2026, 4, 1), date(2027, 3, 31)),
    (date(2026, 4, 1), date(2026, 12, 5)),
    (date(2025, 4, 1), date(2025, 12, 5)),
    (date(2026, 11, 16), date(2026, 11, 22)),
]
SCOPES: list[list[str] | None] = [None, ["sakaino", "sakurazutsumi", "kyonan", "gotenyama"], ["chuo"], ["retired-area"]]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    yield from cli_fixture(tmp_path, monkeypatch)


async def records_as_schema_13_wrote_them(store: Store, staff_id: int, count: int) -> None:
    """Submissions of an outing and consultations, and one import, written as the code before the tallies did:
    every dimension, with and without a category, a topic, the agency that consulted and referrals."""
    rng = random.Random(14)
    stamp = NOW.isoformat()
    async with store.db.transaction() as tx:
        imported = await tx.execute(
            "INSERT INTO imports (kind, sha256, filename, rows, imported_at) VALUES ('records', 'x', 'r.csv', 0, ?) "
            "RETURNING id",
            (stamp,),
        )
        import_id = int(imported.rows[0][0])
        for i in range(count):
            day = (date(2025, 4, 1) + timedelta(days=rng.randrange(620))).isoformat()
            area = rng.choice(AREAS)
            submission = None
            if i % 4:
                made = await tx.execute(
                    "INSERT INTO submissions (staff_id, kind, created_at) VALUES (?, 'visit', ?) RETURNING id",
                    (staff_id, stamp),
                )
                submission = int(made.rows[0][0])
            source = (submission, None if submission else import_id)
            if rng.random() < 0.6:
                await tx.execute(
                    "INSERT INTO outings (submission_id, import_id, staff_id, date, area, activity, destination, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (*source, staff_id, day, area, rng.choice(("outing", "meeting")), rng.choice(("a", "b")), stamp),
                )
            for _ in range(rng.randrange(3)):
                consulter = rng.choice(("individual", "agency", "group"))
                made = await tx.execute(
                    "INSERT INTO consultations (submission_id, import_id, staff_id, date, area, channel, consulter, "
                    "consulter_category, topic, from_agency, at_outing, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        *source,
                        staff_id,
                        day,
                        area,
                        rng.choice(("outing", "phone")),
                        consulter,
                        rng.choice((None, "services", "funds")),
                        rng.choice((None, "case")),
                        rng.choice((None, "health")),
                        rng.randrange(2),
                        stamp,
                    ),
                )
                for agency in rng.sample(("elderly", "health", "children"), rng.randrange(3)):
                    await tx.execute(
                        "INSERT INTO consultation_agencies (consultation_id, agency) VALUES (?, ?)",
                        (int(made.rows[0][0]), agency),
                    )


async def test_a_database_made_before_the_tallies_reports_the_same_numbers_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taxonomy: Taxonomy
) -> None:
    path, key = tmp_path / "old.sqlite3", Sealer.from_text(TEST_KEY)
    every = db_module.migrations()
    assert every[13][1] == "0014_daily_tallies.sql"
    monkeypatch.setattr(db_module, "migrations", lambda: every[:13])  # a database made before schema 14
    store = await Store.open(path, key)
    me = (await store.staff.ensure_admin(100, NOW)).id
    await records_as_schema_13_wrote_them(store, me, 400)
    before = {
        (i, group): await store.tallies.counts_from_records(SPANS, areas=areas, agency_group=group)
        for i, areas in enumerate(SCOPES)
        for group in ("agency", None)
    }
    assert before[0, "agency"][0].outings > 50 and before[0, "agency"][0].referral
    await store.close()

    monkeypatch.setattr(db_module, "migrations", lambda: every)
    store = await Store.open(path, key)
    try:
        assert await store.tallies.differences() == (0, 0)  # filled by the migration as a rebuild fills them
        for (i, group), counts in before.items():
            assert await store.tallies.counts_of_spans(SPANS, areas=SCOPES[i], agency_group=group) == counts
        reporter = Reporter(store, taxonomy)
        report = await reporter.report(fiscal_year(2026), scope=Scope(zone="west"))
        west = before[1, taxonomy.agency_group]  # the areas of the west zone
        assert (report.totals.outings.count, report.totals.outings.previous) == (west[1].outings, west[0].outings)
        # An old record undone after the upgrade takes its counts away.
        old = await store.db.fetchone("SELECT max(submission_id) FROM outings")
        assert old is not None
        async with store.db.transaction() as tx:
            assert await store.records.delete_submission(tx, int(old[0]), me)
        assert await store.tallies.differences() == (0, 0)
        for areas in SCOPES:
            assert await store.tallies.counts_of_spans(SPANS, areas=areas) == await store.tallies.counts_from_records(
                SPANS, areas=areas
            )
    finally:
        await store.close()


def reads(store: Store) -> list[str]:
    """The statements `store` reads with from now on."""
    seen: list[str] = []
    fetchall = store.db.fetchall

    async def counted(sql: str, params: Any = ()) -> Any:
        seen.append(sql)
        return await fetchall(sql, params)

    store.db.fetchall = counted  # type: ignore[method-assign]
    return seen


async def test_reports_of_a_council_or_a_zone_read_tallies_and_one_person_s_read_records(
    store: Store, taxonomy: Taxonomy
) -> None:
    me = (await store.staff.ensure_admin(1, NOW)).id
    await outing(store, me, date(2026, 6, 1), consultations=(consultation(agencies=("elderly",)),))
    await consult_only(store, me, date(2026, 12, 1), "chuo", consultation(channel="phone"))
    reporter = Reporter(store, taxonomy)
    seen = reads(store)
    council = await reporter.report(fiscal_year(2026), today=date(2026, 12, 1))  # to 12/1, against FY2025's
    zone = await reporter.report(fiscal_year(2026), scope=Scope(zone="west"))
    years = await reporter.counts_of([fiscal_year(fy) for fy in (2024, 2025, 2026)])  # 年度別
    assert (council.totals.outings.count, council.totals.consultations.count, zone.totals.outings.count) == (1, 2, 1)
    assert [c.outings for c in years] == [0, 0, 1]
    # The tallies and the imported totals of past years (baseline_counts): never a table of records.
    assert seen and not [sql for sql in seen if re.search(r"\bFROM (outings|consultations)\b", sql)], seen
    assert any("FROM monthly_tallies" in sql for sql in seen) and any("FROM daily_tallies" in sql for sql in seen)
    mine = await reporter.report(fiscal_year(2026), scope=Scope(staff_id=me))
    assert mine.totals.consultations.count == 2
    assert re.search(r"\bFROM consultations\b", seen[-1])  # who recorded: the records alone know


async def test_an_import_through_the_service_counts_its_records_and_skips_none_twice(
    store: Store, taxonomy: Taxonomy, tmp_path: Path
) -> None:
    me = (await store.staff.ensure_admin(1, NOW)).id
    await outing(store, me, date(2025, 6, 2))
    path = tmp_path / "records.csv"
    path.write_text(
        "kind,date,staff,area,activity,destination,channel,consulter,referrals\n"
        "outing,2025-06-02,山田 花子,kyonan,outing,salon-elderly,,,\n"
        "consultation,2025-06-03,山田 花子,chuo,,,電話,volunteer,子ども政策課\n",
        encoding="utf-8",
    )
    report = await import_file(store, taxonomy, "records", path, dry_run=False, today=NOW.date(), now=NOW)
    assert report.ok, report.errors
    assert await store.tallies.differences() == (0, 0)
    fy = [(date(2025, 4, 1), date(2026, 3, 31))]
    counts = (await store.tallies.counts_of_spans(fy))[0]
    assert (counts.outings, counts.consultations, counts.referral) == (2, 1, {"children": 1})
    assert await store.tallies.counts_of_spans(fy) == await store.tallies.counts_from_records(fy)


# ---- fieldbot tallies rebuild ------------------------------------------------------------------------------------


async def seeded(path: Path) -> None:
    store = await Store.open(path, Sealer.from_text(TEST_KEY))
    try:
        me = (await store.staff.ensure_admin(1, NOW)).id
        await outing(store, me, date(2026, 5, 1), consultations=(consultation(agencies=("elderly", "health")),))
        await consult_only(store, me, date(2026, 5, 2), "chuo", consultation(channel="phone"))
    finally:
        await store.close()


async def spoil(path: Path) -> tuple[int, int]:
    """Tallies that no longer match the records: a count off, a row missing, a row that should not be there."""
    store = await Store.open(path)
    try:
        await store.db.execute("UPDATE daily_tallies SET n = n + 1 WHERE area = '*' AND dimension = 'activity'")
        await store.db.execute("DELETE FROM monthly_tallies WHERE area = 'chuo'")
        await store.db.execute(
            "INSERT INTO daily_tallies (area, day, dimension, category, sub, n) "
            "VALUES ('kyonan', '2026-05-03', 'channel', 'phone', '', 1)"
        )
        return await store.tallies.differences()
    finally:
        await store.close()


def test_tallies_rebuild_prints_the_rows_it_changed_and_check_exits_1_on_any_difference(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "council.sqlite3"
    make_database(path)
    asyncio.run(seeded(path))
    checked = cli("tallies", "rebuild", "--check")
    assert (checked.code, checked.out.strip()) == (0, t("cli.tallies.agree"))
    healthy = cli("tallies", "rebuild")
    assert (healthy.code, healthy.out.strip()) == (0, t("cli.tallies.rebuilt", count=0, daily=0, monthly=0))

    daily, monthly = asyncio.run(spoil(path))
    # Daily: the council's activity of 5/1 and the row of no record; monthly: chuo's channel, consulter, category,
    # agency and topic rows of May.
    assert (daily, monthly) == (2, 5)
    found = cli("tallies", "rebuild", "--check")
    assert found.code == 1
    assert found.out.strip() == t("cli.tallies.differ", count=7, daily=2, monthly=5)
    assert cli("tallies", "rebuild", "--check").code == 1  # --check changed nothing
    rebuilt = cli("tallies", "rebuild")
    assert (rebuilt.code, rebuilt.out.strip()) == (0, t("cli.tallies.rebuilt", count=7, daily=2, monthly=5))
    assert cli("tallies", "rebuild", "--check").code == 0
