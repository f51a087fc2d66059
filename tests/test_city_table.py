"""The city table: children side by side and summed; a category a child does not have is －, not 0."""

from __future__ import annotations

import csv
import io
from importlib import resources

import pytest

from core.counts import Counts
from core.taxonomy import Taxonomy, parse_taxonomy
from reports.city import Member, city_rows, city_sections, city_table

DEFAULT = resources.files("core").joinpath("default_taxonomy.toml").read_text(encoding="utf-8")


def _taxonomy(text: str = DEFAULT) -> Taxonomy:
    return parse_taxonomy(text, "test")


def _without_info(text: str = DEFAULT) -> str:
    """A ward that does not count 情報提供 (code `info`) at all."""
    block = '[[activity]]\ncode = "info"\nlabel = "情報提供"\norder = 4\n\n'
    assert block in text
    return text.replace(block, "")


def _with_extra(text: str = DEFAULT) -> str:
    """A ward with an activity of its own (code `patrol`) the city does not have."""
    return text.replace(
        '[[activity]]\ncode = "outing"',
        '[[activity]]\ncode = "patrol"\nlabel = "見回り"\norder = 99\n\n[[activity]]\ncode = "outing"',
        1,
    )


def _row(table, section: str, code: str):  # type: ignore[no-untyped-def]
    return next(r for r in table.rows if r.section == section and r.code == code)


def test_children_side_by_side_and_summed() -> None:
    city = _taxonomy()
    north = Member("N", "北区", city, Counts(activity={"outing": 3, "info": 1}, outings=4, consultations=2))
    south = Member("S", "南区", city, Counts(activity={"outing": 5}, outings=5, consultations=1))
    table = city_table(city, [north, south])
    assert table.columns == ["北区", "南区", "合計"]
    assert table.members == ["N", "S"]
    assert _row(table, "totals", "outings").values == [4, 5, 9]
    assert _row(table, "totals", "consultations").values == [2, 1, 3]
    assert _row(table, "activity", "outing").values == [3, 5, 8]
    assert _row(table, "activity", "info").values == [1, 0, 1]
    assert table.notes == []  # every ward counts every category


def test_a_category_a_child_does_not_have_is_none_not_zero() -> None:
    city = _taxonomy()
    north = Member("N", "北区", city, Counts(activity={"info": 2}, outings=2))
    south = Member("S", "南区", _taxonomy(_without_info()), Counts(activity={"outing": 1}, outings=1))
    table = city_table(city, [north, south])
    assert _row(table, "activity", "info").values == [2, None, 2]
    assert _row(table, "activity", "outing").values == [0, 1, 1]
    assert table.notes == ["※「－」はその社協の分類にない項目です（0件ではありません）"]


def test_no_child_counting_a_category_sums_to_none() -> None:
    city = _taxonomy()
    ward = _taxonomy(_without_info())
    table = city_table(city, [Member("N", "北区", ward, Counts()), Member("S", "南区", ward, Counts())])
    assert _row(table, "activity", "info").values == [None, None, None]


def test_a_code_only_a_child_has_comes_after_the_parents_labelled_by_the_child() -> None:
    city = _taxonomy()
    east = Member("E", "東区", _taxonomy(_with_extra()), Counts(activity={"patrol": 4}, outings=4))
    west = Member("W", "西区", city, Counts(activity={"outing": 1}, outings=1))
    table = city_table(city, [east, west])
    activity = [r for r in table.rows if r.section == "activity"]
    parent_codes = [c.code for c in city.activity.active()]
    assert [r.code for r in activity[: len(parent_codes)]] == parent_codes
    patrol = activity[len(parent_codes)]
    assert (patrol.code, patrol.label, patrol.values) == ("patrol", "見回り", [4, None, 4])


@pytest.mark.parametrize("section", ["activity", "destination", "consulter", "referral"])
def test_each_list_adds_up_to_the_sum_of_the_children(section: str) -> None:
    city = _taxonomy()
    codes = [c.code for c in city.dimension(section).active()][:3]
    members = []
    for i in range(1, 4):
        counts = Counts()
        counts.dimension(section).update({code: i + j for j, code in enumerate(codes)})
        members.append(Member(f"C{i}", f"第{i}区", city, counts))
    table = city_table(city, members)
    for code in codes:
        row = _row(table, section, code)
        assert row.values[-1] == sum(v for v in row.values[:-1] if v is not None)


def test_text_lists_the_sum_then_who_counted_and_csv_rows_keep_every_cell() -> None:
    city = _taxonomy()
    north = Member("N", "北区", city, Counts(activity={"outing": 3}, outings=3))
    south = Member("S", "南区", _taxonomy(_without_info()), Counts(activity={"outing": 2}, outings=2))
    table = city_table(city, [north, south])
    text = "\n".join(line for section in city_sections(table) for line in section)
    assert "・活動先への出向き・参加\u3000合計 5件／北区 3件／南区 2件" in text
    assert "・情報提供\u3000合計 0件" in text
    rows = city_rows(table)
    assert rows[0] == ["区分", "項目", "北区", "南区", "合計"]
    assert ["活動内容別", "情報提供", 0, "－", 0] in rows
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    assert "－" in out.getvalue()
