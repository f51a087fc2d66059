"""The ranking rules of published tables and the report's JSON shape."""

from __future__ import annotations

import itertools
import json
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.counts import DIMENSIONS, Counts
from core.periods import fiscal_year, iso_week, month
from core.taxonomy import DEFAULT_TAXONOMY, Taxonomy, load_taxonomy, parse_taxonomy
from reports.tally import Report, Row, build_report, rank_rows

TAXONOMY = load_taxonomy()
AGENCY_CODES = [c.code for c in TAXONOMY.agency]


def edited_taxonomy(*changes: tuple[str, str]) -> Taxonomy:
    text = resources.files("core").joinpath(DEFAULT_TAXONOMY).read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text
        text = text.replace(old, new, 1)
    return parse_taxonomy(text, "edited")


def table(rows: list[Row]) -> list[tuple[str, int, int | None, int | None, int | None, bool]]:
    return [(r.code, r.count, r.previous, r.delta, r.rank, r.new) for r in rows]


def test_the_published_agency_example() -> None:
    rows = rank_rows(
        TAXONOMY.agency,
        {"children": 12, "elderly": 9, "health": 1, "kosha": 1},
        {"children": 9, "elderly": 11, "kosha": 1},
    )
    assert table(rows) == [
        ("children", 12, 9, 3, 1, False),
        ("elderly", 9, 11, -2, 2, False),
        ("health", 1, 0, 1, 3, True),
        ("kosha", 1, 1, 0, 3, False),
    ]
    assert [r.label for r in rows] == ["子ども政策課", "高齢者支援課", "健康課", "福祉公社"]


def test_equal_counts_share_a_rank_the_next_skips_and_taxonomy_order_breaks_ties() -> None:
    # Given in reverse taxonomy order on purpose: the configured order decides, not the input's.
    categories = TAXONOMY.categories_of("volunteer")
    rows = rank_rows(categories, {"other": 2, "worries": 6, "volunteer": 6, "donate": 10}, None)
    assert [(r.code, r.rank) for r in rows] == [("donate", 1), ("volunteer", 2), ("worries", 2), ("other", 4)]


def test_without_a_comparison_there_is_no_previous_no_delta_and_nothing_is_new() -> None:
    rows = rank_rows(TAXONOMY.agency, {"health": 1, "children": 0}, None)
    assert table(rows) == [("health", 1, None, None, 1, False)]


def test_a_category_gone_to_zero_is_listed_last_with_0_and_the_rank_after_the_positive_rows() -> None:
    rows = rank_rows(
        TAXONOMY.agency,
        {"kosha": 3, "corporate": 3},
        {"children": 5, "kosha": 1, "elderly": 2, "health": 0},
    )
    assert table(rows) == [
        ("kosha", 3, 1, 2, 1, False),
        ("corporate", 3, 0, 3, 1, True),
        ("children", 0, 5, -5, 3, False),  # zero rows in taxonomy order
        ("elderly", 0, 2, -2, 3, False),
    ]


def test_categories_with_no_count_in_either_period_are_left_out() -> None:
    assert rank_rows(TAXONOMY.agency, {"children": 0}, {"children": 0, "elderly": 0}) == []


def test_retired_categories_appear_whenever_they_have_counts() -> None:
    taxonomy = edited_taxonomy(('label = "環境政策課"\n', 'label = "環境政策課"\nretired = true\n'))
    retired = taxonomy.agency.get("environment")
    assert retired is not None and retired.retired
    rows = rank_rows(taxonomy.agency, {"environment": 4, "children": 4}, {"environment": 1})
    assert [(r.code, r.label, r.rank) for r in rows] == [
        ("children", "子ども政策課", 1),
        ("environment", "環境政策課", 1),
    ]


def test_labels_follow_codes_when_a_label_is_edited() -> None:
    taxonomy = edited_taxonomy(('label = "健康課"', 'label = "健康づくり推進課"'))
    counts = Counts(agency={"health": 2}, consultations=2)
    report = build_report(taxonomy, month(2026, 11), counts, month(2025, 11), Counts(agency={"health": 1}))
    assert [(r.code, r.label, r.new) for r in report.dimensions.agency] == [("health", "健康づくり推進課", False)]


def test_codes_no_longer_in_the_taxonomy_show_as_themselves_after_known_ones() -> None:
    rows = rank_rows(TAXONOMY.agency, {"zz-removed": 2, "aa-removed": 2, "corporate": 2, "children": 1}, None)
    assert [(r.code, r.label, r.rank) for r in rows] == [
        ("corporate", "その他法人、企業", 1),
        ("aa-removed", "aa-removed", 1),
        ("zz-removed", "zz-removed", 1),
        ("children", "子ども政策課", 4),
    ]


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        rank_rows(TAXONOMY.agency, {"children": -1}, None)


def test_consulter_groups_keep_their_configured_order_and_rank_their_sub_categories_within_the_group() -> None:
    counts = Counts(
        consulter={"volunteer": 24, "council": 24},
        consulter_category={
            ("volunteer", "donate"): 10,
            ("volunteer", "volunteer"): 6,
            ("volunteer", "worries"): 6,
            ("volunteer", "other"): 2,
            ("individual", "other"): 1,  # a sub-category without its group's count: still shown
        },
    )
    before = Counts(
        consulter={"volunteer": 19},
        consulter_category={("volunteer", "donate"): 6, ("volunteer", "volunteer"): 5, ("volunteer", "worries"): 8},
    )
    report = build_report(TAXONOMY, fiscal_year(2020), counts, fiscal_year(2019), before)
    groups = report.dimensions.consulter
    # Published in the configured order (市民社協の事業 → 個人 → ボランティア …), not ranked by count.
    assert [(g.code, g.count, g.rank, g.new) for g in groups] == [
        ("council", 24, None, True),
        ("individual", 0, None, False),
        ("volunteer", 24, None, False),
    ]
    volunteer = groups[2]
    assert (volunteer.delta, volunteer.label) == (5, "ボランティア希望（活動）者からの相談")
    assert table(volunteer.categories) == [
        ("donate", 10, 6, 4, 1, False),
        ("volunteer", 6, 5, 1, 2, False),
        ("worries", 6, 8, -2, 2, False),
        ("other", 2, 0, 2, 4, True),
    ]
    assert groups[0].categories == [] and [c.code for c in groups[1].categories] == ["other"]


def test_the_json_has_the_published_shape() -> None:
    counts = Counts(
        activity={"outing": 3},
        channel={"outing": 2, "phone": 1},
        consulter={"volunteer": 3},
        consulter_category={("volunteer", "donate"): 3},
        agency={"children": 2},
        outings=3,
        consultations=3,
        at_outing=2,
    )
    report = build_report(TAXONOMY, iso_week(2026, 47), counts, iso_week(2026, 46), Counts(agency={"children": 1}))
    data = json.loads(report.model_dump_json(indent=2))
    assert {"period", "compare", "outing_share", "dimensions"} <= data.keys()
    assert data["period"] == {"start": "2026-11-16", "end": "2026-11-22", "label": "2026年第47週（11/16〜11/22）"}
    assert data["compare"] == {"start": "2026-11-09", "end": "2026-11-15", "label": "2026年第46週（11/9〜11/15）"}
    assert data["outing_share"] == 0.6667
    assert list(data["dimensions"]) == list(DIMENSIONS)
    row_keys = {"code", "label", "count", "previous", "delta", "rank", "new"}
    for name in DIMENSIONS:
        for row in data["dimensions"][name]:
            expected = row_keys | {"categories", "notes"} if name == "consulter" else row_keys
            assert set(row) == expected
    assert data["dimensions"]["agency"] == [
        {"code": "children", "label": "子ども政策課", "count": 2, "previous": 1, "delta": 1, "rank": 1, "new": False}
    ]
    assert data["dimensions"]["consulter"][0]["categories"] == [
        {"code": "donate", "label": "寄付（寄贈）したい", "count": 3, "previous": 0, "delta": 3, "rank": 1, "new": True}
    ]
    assert data["totals"]["consultations"] == {"count": 3, "previous": 0, "delta": 3}
    assert Report.model_validate_json(report.model_dump_json()) == report


def test_without_a_comparison_compare_and_share_may_be_null() -> None:
    report = build_report(TAXONOMY, month(2026, 11), Counts())
    data = json.loads(report.model_dump_json())
    assert data["compare"] is None and data["outing_share"] is None and data["basis"] is None
    assert all(data["dimensions"][name] == [] for name in DIMENSIONS)


def test_a_comparison_needs_both_its_period_and_its_counts() -> None:
    with pytest.raises(ValueError):
        build_report(TAXONOMY, month(2026, 11), Counts(), month(2026, 10), None)


# ---- properties ----

counts_of = st.dictionaries(
    st.sampled_from([*AGENCY_CODES, "gone-1", "gone-2"]), st.integers(min_value=0, max_value=30), max_size=12
)


@given(counts_of, st.one_of(st.none(), counts_of))
def test_ranking_invariants(current: dict[str, int], previous: dict[str, int] | None) -> None:
    rows = rank_rows(TAXONOMY.agency, current, previous)
    # Totals add up: the table holds every count, zero rows included.
    assert sum(r.count for r in rows) == sum(current.values())
    if previous is not None:
        assert sum(r.previous or 0 for r in rows) == sum(previous.values())
    # Every code counted in either period appears exactly once; nothing else does.
    codes = [r.code for r in rows]
    assert len(codes) == len(set(codes))
    expected = {c for c, v in current.items() if v > 0} | {c for c, v in (previous or {}).items() if v > 0}
    assert set(codes) == expected
    # Ranks are consistent: non-decreasing in display order, counts non-increasing, rank = 1 + rows above.
    assert [r.count for r in rows] == sorted((r.count for r in rows), reverse=True)
    ranks = [r.rank or 0 for r in rows]  # flat lists are ranked: never None here
    assert ranks == sorted(ranks) and all(r.rank is not None for r in rows)
    for row in rows:
        assert row.rank == 1 + sum(1 for other in rows if other.count > row.count)
        if previous is None:
            assert (row.previous, row.delta, row.new) == (None, None, False)
        else:
            assert row.delta == row.count - previous.get(row.code, 0)
            assert row.new == (previous.get(row.code, 0) == 0 and row.count > 0)
    # Among equal counts the taxonomy order decides (unknown codes last).
    for a, b in itertools.pairwise(rows):
        if a.count == b.count:
            assert (a.code not in TAXONOMY.agency, TAXONOMY.agency.order_of(a.code), a.code) < (
                b.code not in TAXONOMY.agency,
                TAXONOMY.agency.order_of(b.code),
                b.code,
            )


group_codes = [c.code for c in TAXONOMY.consulter]
pairs = st.sampled_from([(g, c.code) for g in group_codes for c in TAXONOMY.categories_of(g)])


@given(
    st.dictionaries(st.sampled_from(group_codes), st.integers(0, 20), max_size=5),
    st.dictionaries(pairs, st.integers(0, 20), max_size=15),
)
def test_consulter_totals_add_up_per_group(groups: dict[str, int], categories: dict[tuple[str, str], int]) -> None:
    report = build_report(TAXONOMY, month(2026, 11), Counts(consulter=groups, consulter_category=categories))
    rows = report.dimensions.consulter
    assert sum(g.count for g in rows) == sum(groups.values())
    assert sum(c.count for g in rows for c in g.categories) == sum(categories.values())
    for group in rows:
        assert sum(c.count for c in group.categories) == sum(v for (g, _), v in categories.items() if g == group.code)
