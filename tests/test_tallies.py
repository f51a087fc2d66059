"""Counting stored records for a period, a zone or a person; imported baselines join fiscal-year reports."""

from __future__ import annotations

from datetime import UTC, date, datetime

from core.periods import fiscal_year, iso_week
from core.taxonomy import Taxonomy
from services.reporting import Reporter, Scope
from storage.sqlite.store import Store
from tests.seed import consult_only, consultation, outing

NOW = datetime(2026, 11, 23, tzinfo=UTC)


async def staff(store: Store, telegram_id: int) -> int:
    return (await store.staff.ensure_admin(telegram_id, NOW)).id


async def test_counts_fold_every_dimension_from_outings_consultations_and_agency_links(store: Store) -> None:
    me = await staff(store, 1)
    day = date(2026, 11, 17)
    await outing(
        store,
        me,
        day,
        consultations=(consultation(agencies=("elderly", "health")), consultation("volunteer", "donate")),
    )
    await outing(store, me, day, activity="meeting", destination="area-council")
    await consult_only(
        store, me, day, "chuo", consultation("group", "funds", ("children",), channel="phone", topic="case")
    )
    counts = await store.tallies.counts(date(2026, 11, 16), date(2026, 11, 22))
    assert counts.activity == {"outing": 1, "meeting": 1}
    assert counts.destination == {"salon-elderly": 1, "area-council": 1}
    assert counts.consulter == {"individual": 1, "volunteer": 1, "group": 1}
    assert counts.consulter_category == {
        ("individual", "services"): 1,
        ("volunteer", "donate"): 1,
        ("group", "funds"): 1,
    }
    assert counts.channel == {"outing": 2, "phone": 1}
    assert counts.topic == {"case": 1}
    assert counts.agency == {"elderly": 1, "health": 1, "children": 1}
    assert (counts.outings, counts.consultations, counts.at_outing) == (2, 3, 2)


async def test_counts_respect_the_period_edges_the_zone_and_the_person(store: Store, taxonomy: Taxonomy) -> None:
    me, other = await staff(store, 1), await staff(store, 2)
    await outing(store, me, date(2026, 3, 31))  # FY2025
    await outing(store, me, date(2026, 4, 1))  # FY2026, west
    await outing(store, other, date(2027, 3, 31), area="chuo")  # FY2026, central
    reporter = Reporter(store, taxonomy)
    assert (await reporter.counts(fiscal_year(2026))).outings == 2
    assert (await reporter.counts(fiscal_year(2025))).outings == 1
    assert (await reporter.counts(fiscal_year(2026), Scope(zone="west"))).outings == 1
    assert (await reporter.counts(fiscal_year(2026), Scope(zone="central"))).outings == 1
    assert (await reporter.counts(fiscal_year(2026), Scope(staff_id=other))).outings == 1


async def test_a_fiscal_year_report_adds_the_imported_baseline_council_wide_only(
    store: Store, taxonomy: Taxonomy
) -> None:
    me = await staff(store, 1)
    await outing(store, me, date(2019, 6, 1))
    async with store.db.transaction() as tx:
        cursor = await tx.execute(
            "INSERT INTO imports (kind, sha256, filename, rows, imported_at) "
            "VALUES ('baseline', 'x', 'b.csv', 3, 'now')"
        )
        rows = [
            (2019, "activity", "outing", 10),
            (2019, "channel", "outing", 4),
            (2019, "consulter", "volunteer", 6),
            (2019, "consulter_category", "volunteer/donate", 5),
        ]
        await tx.executemany(
            "INSERT INTO baseline_counts (fiscal_year, dimension, category, count, import_id) VALUES (?, ?, ?, ?, ?)",
            [(*r, cursor.lastrowid) for r in rows],
        )
    reporter = Reporter(store, taxonomy)
    council = await reporter.counts(fiscal_year(2019))
    assert council.activity == {"outing": 11} and council.outings == 11
    assert council.consulter_category == {("volunteer", "donate"): 5}
    assert (council.consultations, council.at_outing) == (6, 4)
    assert (await reporter.counts(fiscal_year(2019), Scope(zone="west"))).outings == 1
    report = await reporter.report(fiscal_year(2020))
    assert report.compare is not None and report.compare.label == "令和元年度"
    assert report.dimensions.activity[0].previous == 11


async def test_staff_with_records_and_follow_up_numbers(store: Store) -> None:
    from core.models import NewFollowUp

    me, other = await staff(store, 1), await staff(store, 2)
    week = iso_week(2026, 47)
    await outing(
        store,
        me,
        week.start,
        consultations=(
            consultation(followup=NewFollowUp("A", date(2026, 11, 20))),
            consultation(followup=NewFollowUp("B", date(2026, 12, 20))),
        ),
    )
    assert await store.tallies.staff_with_records(week.start, week.end, [me, other]) == {me}
    assert await store.tallies.followup_numbers(date(2026, 11, 23)) == (2, 1)
    assert await store.tallies.followup_numbers(date(2026, 11, 23), ["chuo"]) == (0, 0)
