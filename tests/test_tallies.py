"""Counting stored records for a period, a zone or a person; imported baselines join fiscal-year reports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

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
    agency = consultation("agency", None, ("elderly",), channel="phone", topic="salon", from_agency="children")
    older = consultation("agency", None, ("health",), channel="phone")  # saved before the agency was asked
    await consult_only(store, me, day, "chuo", agency, older)
    week = (date(2026, 11, 16), date(2026, 11, 22))
    counts = await store.tallies.counts(*week, agency_group="agency")
    assert counts.activity == {"outing": 1, "meeting": 1}
    assert counts.destination == {"salon-elderly": 1, "area-council": 1}
    assert counts.consulter == {"individual": 1, "volunteer": 1, "group": 1, "agency": 2}
    assert counts.consulter_category == {
        ("individual", "services"): 1,
        ("volunteer", "donate"): 1,
        ("group", "funds"): 1,
    }
    assert counts.channel == {"outing": 2, "phone": 3}
    # Who consulted and about what: only the agency group's consultations, 不明 ("?") where a record does not
    # say; both add up to the group's count. A topic on another group's consultation is not counted.
    assert counts.agency == {"children": 1, "?": 1} and counts.topic == {"salon": 1, "?": 1}
    # Referrals: every group's consultation-agency pairs.
    assert counts.referral == {"elderly": 2, "health": 2, "children": 1}
    assert (counts.outings, counts.consultations, counts.at_outing) == (2, 5, 2)
    plain = await store.tallies.counts(*week)  # a taxonomy without an agency group
    assert plain.agency == {} and plain.topic == {} and plain.referral == counts.referral


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
            "VALUES ('baseline', 'x', 'b.csv', 3, 'now') RETURNING id"
        )
        rows = [
            (2019, "activity", "outing", 10),
            (2019, "channel", "outing", 4),
            (2019, "consulter", "volunteer", 6),
            (2019, "consulter_category", "volunteer/donate", 5),
        ]
        await tx.executemany(
            "INSERT INTO baseline_counts (fiscal_year, dimension, category, count, import_id) VALUES (?, ?, ?, ?, ?)",
            [(*r, cursor.rows[0][0]) for r in rows],
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


async def test_counts_of_several_spans_are_each_span_s_own_from_one_statement_per_call(store: Store) -> None:
    me, other = await staff(store, 1), await staff(store, 2)
    await outing(store, me, date(2026, 11, 17), consultations=(consultation(agencies=("elderly", "health")),))
    await outing(store, other, date(2026, 11, 10), area="chuo", activity="meeting", destination="area-council")
    await consult_only(
        store, me, date(2025, 11, 18), "kyonan", consultation("group", "funds", ("children",), channel="phone")
    )
    this_week, week_before = (date(2026, 11, 16), date(2026, 11, 22)), (date(2026, 11, 9), date(2026, 11, 15))
    a_year_before, both_weeks = (date(2025, 11, 17), date(2025, 11, 23)), (date(2026, 11, 9), date(2026, 11, 22))
    spans = [this_week, week_before, a_year_before, both_weeks]  # a record in two spans counts in both
    statements = counted_statements(store)
    found = await store.tallies.counts_of_spans(spans)
    assert len(statements) == 1
    assert [c.outings for c in found] == [1, 1, 0, 2]
    assert [c.consultations for c in found] == [1, 0, 1, 1]
    assert found[0].referral == {"elderly": 1, "health": 1} and found[2].referral == {"children": 1}
    assert found[2].channel == {"phone": 1} and found[2].consulter_category == {("group", "funds"): 1}
    for areas, staff_id in ((None, None), (["kyonan"], None), (["chuo", "kyonan"], other), ([], None)):
        one_by_one = [await store.tallies.counts(a, b, areas=areas, staff_id=staff_id) for a, b in spans]
        assert await store.tallies.counts_of_spans(spans, areas=areas, staff_id=staff_id) == one_by_one
    assert await store.tallies.counts_of_spans([]) == []


async def test_counts_by_areas_are_each_group_s_counts_from_one_scan(store: Store, taxonomy: Taxonomy) -> None:
    me = await staff(store, 1)
    week, last_year = iso_week(2026, 47), iso_week(2025, 47)
    await outing(store, me, week.start, consultations=(consultation(agencies=("elderly",)),))  # kyonan, west
    await outing(store, me, week.end, area="chuo")  # central
    await outing(store, me, week.end, area="retired-area")  # in no zone any more: the council's only
    agency = consultation("agency", None, channel="phone", topic="case", from_agency="health")
    await consult_only(store, me, last_year.start, "sakaino", agency)
    spans = [(week.start, week.end), (last_year.start, last_year.end)]
    west, central = (Scope(zone=z).areas(taxonomy) for z in ("west", "central"))
    groups = [west, central, [], None]
    statements = counted_statements(store)
    found = await store.tallies.counts_by_areas(spans, groups, agency_group="agency")
    assert len(statements) == 1
    one_by_one = [await store.tallies.counts_of_spans(spans, areas=g, agency_group="agency") for g in groups]
    assert found == one_by_one
    assert [[c.outings for c in group] for group in found] == [[1, 0], [1, 0], [0, 0], [3, 0]]
    assert found[0][1].topic == {"case": 1} and found[3][1].channel == {"phone": 1}
    assert await store.tallies.counts_by_areas(spans, [west], agency_group="agency") == [found[0]]  # zones only
    reporter = Reporter(store, taxonomy)
    scoped = await reporter.counts_by_scope([week, last_year], [Scope(zone="west"), Scope()])
    assert scoped == {
        Scope(zone="west"): await reporter.counts_of([week, last_year], Scope(zone="west")),
        Scope(): await reporter.counts_of([week, last_year]),
    }


async def test_who_recorded_is_read_for_everyone_or_for_some(store: Store) -> None:
    me, other, idle = await staff(store, 1), await staff(store, 2), await staff(store, 3)
    week = iso_week(2026, 47)
    await outing(store, me, week.end)
    await consult_only(store, other, week.start, "chuo", consultation(channel="phone"))
    await outing(store, idle, week.start - timedelta(days=1))
    assert await store.tallies.staff_with_records(week.start, week.end) == {me, other}
    assert await store.tallies.staff_with_records(week.start, week.end, [other, idle]) == {other}
    assert await store.tallies.staff_with_records(week.start, week.end, []) == set()


def counted_statements(store: Store) -> list[str]:
    """The reads `store` makes from now on (the test reads its length)."""
    seen: list[str] = []
    read = store.db.fetchall

    async def fetchall(sql: str, params: Any = ()) -> Any:
        seen.append(sql)
        return await read(sql, params)

    store.db.fetchall = fetchall  # type: ignore[method-assign]
    return seen


async def test_counts_by_staff_and_the_last_outing_of_each_area(store: Store) -> None:
    me, other = await staff(store, 1), await staff(store, 2)
    await outing(store, me, date(2026, 11, 17), consultations=(consultation(), consultation("volunteer", "donate")))
    await outing(store, me, date(2026, 11, 18), area="chuo")
    await consult_only(store, other, date(2026, 11, 18), "kyonan", consultation(channel="phone"))
    await outing(store, other, date(2026, 11, 30))  # after the span, and after `until` below
    span = (date(2026, 11, 16), date(2026, 11, 22))
    assert await store.tallies.counts_by_staff(*span) == {me: (2, 2), other: (0, 1)}
    assert await store.tallies.counts_by_staff(*span, areas=["chuo"]) == {me: (1, 0)}
    assert await store.tallies.counts_by_staff(*span, areas=[]) == {}
    until = date(2026, 11, 29)
    assert await store.tallies.last_outing_by_area(until) == {"kyonan": date(2026, 11, 17), "chuo": date(2026, 11, 18)}
    assert await store.tallies.last_outing_by_area(until, areas=["chuo", "sakaino"]) == {"chuo": date(2026, 11, 18)}


async def test_the_headline_totals_of_long_spans_by_groups_of_areas_in_one_statement(store: Store) -> None:
    me = await staff(store, 1)
    await outing(store, me, date(2026, 5, 1), consultations=(consultation(), consultation(channel="phone")))
    await outing(store, me, date(2026, 11, 22), "chuo")
    await consult_only(store, me, date(2026, 6, 1), "sakaino", consultation(channel="phone"))
    await outing(store, me, date(2026, 11, 23))  # after the first span
    await outing(store, me, date(2025, 7, 1), "chuo")
    spans = [(date(2026, 4, 1), date(2026, 11, 22)), (date(2025, 4, 1), date(2025, 11, 22))]
    west = ["sakaino", "sakurazutsumi", "kyonan", "gotenyama"]
    found = await store.tallies.totals_by_areas(spans, [west, ["chuo"], None, []])
    assert found == [
        [(1, 3, 1), (0, 0, 0)],
        [(1, 0, 0), (1, 0, 0)],
        [(2, 3, 1), (1, 0, 0)],
        [(0, 0, 0), (0, 0, 0)],
    ]
    assert await store.tallies.totals_by_areas([], [None]) == [[]]


async def test_the_last_outing_of_named_areas_is_probed_area_by_area(store: Store) -> None:
    me = await staff(store, 1)
    await outing(store, me, date(2026, 10, 1), "chuo")
    await outing(store, me, date(2026, 11, 2), "chuo")
    await outing(store, me, date(2026, 11, 30), "chuo")  # after `until`
    await outing(store, me, date(2025, 1, 5), "sakaino")
    until = date(2026, 11, 29)
    named = await store.tallies.last_outing_by_area(until, areas=["chuo", "sakaino", "gotenyama"])
    assert named == {"chuo": date(2026, 11, 2), "sakaino": date(2025, 1, 5)}
    assert await store.tallies.last_outing_by_area(until) == named  # the same as grouping all of history
