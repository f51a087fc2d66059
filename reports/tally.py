"""The ranking rules of published tables, and the Report model that is the JSON boundary of every rendering."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from core.counts import DIMENSIONS, Counts
from core.i18n import t
from core.periods import Basis, Period, PeriodKind, basis_of
from core.taxonomy import Dimension, Taxonomy

DimensionName = Literal["activity", "destination", "channel", "consulter", "topic", "agency", "referral"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PeriodInfo(_Model):
    start: date
    end: date
    label: str

    @classmethod
    def of(cls, period: Period) -> PeriodInfo:
        return cls(start=period.start, end=period.end, label=period.label)


class Row(_Model):
    """One line of a published table.

    `previous` and `delta` are None when the report has no comparison period, when the comparison period has no
    data at all, and for the categories of a split that the compared periods straddle (their combined change is a
    note of the list). `new` is True when the category had no count in the comparison period but has one now;
    `delta` is still the difference then (it equals `count`), but tables write 新 instead of it. `rank` is None
    for consulter groups, which are published in their configured order.
    """

    code: str
    label: str
    count: int
    previous: int | None
    delta: int | None
    rank: int | None
    new: bool

    def against(self, previous: int) -> Row:
        """The same line compared with another period's count of its category (a digest's year-earlier figure)."""
        update = {"previous": previous, "delta": self.count - previous, "new": previous == 0 and self.count > 0}
        return self.model_copy(update=update)


class GroupRow(Row):
    """A consulter group with its sub-categories, ranked among themselves, and the notes of that list."""

    categories: list[Row]
    notes: list[str] = []


class Total(_Model):
    """A headline figure of the period, with its comparison (None without one)."""

    count: int
    previous: int | None
    delta: int | None

    def against(self, previous: int) -> Total:
        """The same figure compared with another period's."""
        return self.model_copy(update={"previous": previous, "delta": self.count - previous})


class Totals(_Model):
    outings: Total
    consultations: Total
    at_outing: Total  # consultations received at outings
    agency_links: Total  # consultation–agency pairs of referrals (つなぎ先)


def headline(counts: Counts) -> dict[str, int]:
    """The headline figures of some counts, by the names of `Totals`."""
    return {
        "outings": counts.outings,
        "consultations": counts.consultations,
        "at_outing": counts.at_outing,
        "agency_links": sum(counts.referral.values()),
    }


def outing_share(counts: Counts) -> float | None:
    """The share of consultations received at outings (None without consultations)."""
    return _share(counts.at_outing, counts.consultations)


class Dimensions(_Model):
    activity: list[Row]
    destination: list[Row]
    channel: list[Row]
    consulter: list[GroupRow]
    topic: list[Row]
    agency: list[Row]
    referral: list[Row] = []

    def rows(self, name: str) -> list[Row]:
        """The rows of one dimension by its JSON name (consulter groups included as rows)."""
        if name not in DIMENSIONS:
            raise KeyError(name)
        found: list[Row] = list(getattr(self, name))
        return found


class Report(_Model):
    """One period's tallies, compared with another period's; `model_dump_json()` is the published JSON shape.

    Beside the required keys (period, compare, outing_share, dimensions) it carries `period_kind` and `basis`
    (which footnote applies: 前年度比, 前週比, …) and `totals`, so that a report read back from JSON renders the same.
    `comparable` is False when the comparison period has no data at all (no records, no imported totals): then
    no row has a delta or 新. `notes` holds the footnotes of flat lists by dimension (a consulter group's are in
    the group).
    """

    period: PeriodInfo
    period_kind: PeriodKind
    compare: PeriodInfo | None
    basis: Basis | None
    comparable: bool = True
    outing_share: float | None
    totals: Totals
    dimensions: Dimensions
    notes: dict[str, list[str]] = {}

    def previous_outing_share(self) -> float | None:
        """The share of consultations received at outings in the comparison period."""
        consultations = self.totals.consultations.previous
        at_outing = self.totals.at_outing.previous
        if consultations is None or at_outing is None:
            return None
        return _share(at_outing, consultations)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _check_counts(name: str, counts: Mapping[str, int]) -> None:
    for code, value in counts.items():
        if value < 0:
            raise ValueError(f"{name}: negative count {value} for {code!r}")


def rank_rows(
    dimension: Dimension,
    current: Mapping[str, int],
    previous: Mapping[str, int] | None,
    *,
    keep: Collection[str] = (),
) -> list[Row]:
    """The rows of one dimension in display order, with ranks and deltas, as councils publish them.

    - Sorted by count, descending; among equal counts the taxonomy's configured order decides, codes no longer in
      the taxonomy come after known ones (by code) and show their code as label.
    - Equal counts share a rank and the next rank skips (1, 2, 2, 4): rank = 1 + the number of rows with a larger
      count. Rows that fell to 0 (counted in the comparison period, not now) therefore come last and all share
      rank 1 + (number of rows with a positive count).
    - Categories with no count in either period are left out; retired ones appear whenever they have a count.
    - Without a comparison (`previous` is None) `previous` and `delta` are None, `new` is False, and only positive
      counts appear.
    - `keep` lists codes to show even with no count in either period (as zero rows).
    """
    return [Row.model_validate(row) for row in _ranked(dimension, current, previous, keep=keep)]


def _ranked(
    dimension: Dimension,
    current: Mapping[str, int],
    previous: Mapping[str, int] | None,
    *,
    keep: Collection[str] = (),
    ranked: bool = True,
) -> list[dict[str, Any]]:
    """`rank_rows` as plain values: a whole report is validated into its models at once (see build_report).
    Without `ranked`, the rows keep the configured order and have no rank (consulter groups)."""
    _check_counts(dimension.name, current)
    if previous is not None:
        _check_counts(dimension.name, previous)
    codes = {code for code, value in current.items() if value > 0} | set(keep)
    if previous is not None:
        codes |= {code for code, value in previous.items() if value > 0}

    def order(code: str) -> tuple[int, int, int, str]:
        known = dimension.get(code)
        return (-current.get(code, 0) if ranked else 0, 0 if known else 1, known.order if known else 0, code)

    rows: list[dict[str, Any]] = []
    larger = 0  # rows with a strictly larger count than the current one
    last_count: int | None = None
    for index, code in enumerate(sorted(codes, key=order)):
        count = current.get(code, 0)
        if count != last_count:
            larger, last_count = index, count
        before = None if previous is None else previous.get(code, 0)
        rows.append(
            {
                "code": code,
                "label": dimension.label(code),
                "count": count,
                "previous": before,
                "delta": None if before is None else count - before,
                "rank": larger + 1 if ranked else None,
                "new": before == 0 and count > 0,
            }
        )
    return rows


class Lineage:
    """Which categories' comparisons a split makes meaningless, and the note that gives their combined change.

    A category with `split_from` was split out of another in its `counted_since` fiscal year: when the compared
    periods straddle that year (the earlier one before it, the later one in or after it), neither category has
    a delta, and the list gets `※「3位：近況報告など」と「5位：その他」の合計7件は前年度比－6件`.
    """

    def __init__(self, period: Period, compare: Period | None, basis: Basis | None) -> None:
        self.now = period.fiscal_year
        self.then = None if compare is None else compare.fiscal_year
        self.kind = period.kind
        self.basis = basis
        self.compare_label = "" if compare is None else compare.label

    def apply(self, dimension: Dimension, rows: list[dict[str, Any]]) -> list[str]:
        """Clear the comparison of split pairs in `rows` (in place); returns the notes of the list."""
        if self.then is None:
            return []
        by_code = {row["code"]: row for row in rows}
        notes = []
        for category in dimension:
            since = category.counted_since
            if category.split_from is None or since is None or not self.then < since <= self.now:
                continue
            pair = [by_code[code] for code in (category.code, category.split_from) if code in by_code]
            if len(pair) == 2 and all(row["previous"] is not None for row in pair):
                notes.append(self._note(pair))
            for row in pair:
                row.update(previous=None, delta=None, new=False)
        return notes

    def _note(self, pair: list[dict[str, Any]]) -> str:
        first, second = pair if (pair[0]["rank"] or 0) <= (pair[1]["rank"] or 0) else pair[::-1]
        count = first["count"] + second["count"]
        change = count - first["previous"] - second["previous"]
        return t(
            "report.note.split",
            first=_named(first),
            second=_named(second),
            count=count,
            basis=basis_word(self.kind, self.basis, self.compare_label),
            delta=signed(change),
        )


def _named(row: dict[str, Any]) -> str:
    """A row as the published notes name it: 3位：近況報告など (a group without rank: its label)."""
    if row["rank"] is None:
        return str(row["label"])
    return t("report.note.ranked", rank=row["rank"], label=row["label"])


def signed(change: int) -> str:
    """＋6件, －6件, ±0件: a change as written inside the published notes (full-width signs)."""
    if change > 0:
        return t("report.note.up", delta=change)
    if change < 0:
        return t("report.note.down", delta=-change)
    return t("report.delta_zero")


def basis_word(kind: PeriodKind, basis: Basis | None, compare_label: str) -> str:
    """What a comparison is with, the word before 比: 前年度, 前年同期, 前週, 前月 … (as in the footnote)."""
    if basis is None or basis == "custom":
        return compare_label
    return t(f"report.basis.{kind}_{'year' if basis == 'previous-year' else 'previous'}")


def _ranked_consulter(
    taxonomy: Taxonomy,
    counts: Counts,
    before: Counts | None,
    lineage: Lineage,
) -> list[dict[str, Any]]:
    """Consulter groups in their configured order (published so: 市民社協の事業 → 個人 → … → 関係機関), each with
    its sub-categories ranked within the group and the group's notes.

    A group that only has sub-category counts (inconsistent input) still shows, with its own count as given
    (possibly 0), so that no sub-category count is lost.
    """

    def of_group(source: Mapping[tuple[str, str], int], group: str) -> dict[str, int]:
        return {category: value for (g, category), value in source.items() if g == group}

    groups = {g for (g, _), value in counts.consulter_category.items() if value > 0}
    if before is not None:
        groups |= {g for (g, _), value in before.consulter_category.items() if value > 0}
    previous = None if before is None else before.consulter
    rows = _ranked(taxonomy.consulter, counts.consulter, previous, keep=groups, ranked=False)
    lineage.apply(taxonomy.consulter, rows)
    for row in rows:
        dimension = taxonomy.categories_of(row["code"])
        row["categories"] = _ranked(
            dimension,
            of_group(counts.consulter_category, row["code"]),
            None if before is None else of_group(before.consulter_category, row["code"]),
        )
        row["notes"] = lineage.apply(dimension, row["categories"])
    return rows


def rank_consulter(
    taxonomy: Taxonomy, period: Period, counts: Counts, compare: Period | None = None, before: Counts | None = None
) -> list[GroupRow]:
    """The consulter groups of `counts` as a report shows them (see _ranked_consulter)."""
    lineage = Lineage(period, compare, None if compare is None else basis_of(period, compare))
    return [GroupRow.model_validate(row) for row in _ranked_consulter(taxonomy, counts, before, lineage)]


def _total(count: int, previous: int | None) -> dict[str, int | None]:
    return {"count": count, "previous": previous, "delta": None if previous is None else count - previous}


def _period(period: Period) -> dict[str, Any]:
    return {"start": period.start, "end": period.end, "label": period.label}


def has_data(counts: Counts) -> bool:
    """Whether a period has anything to compare with: a record or an imported total of any dimension."""
    return bool(counts.outings or counts.consultations or any(counts.dimension(name) for name in DIMENSIONS))


def build_report(
    taxonomy: Taxonomy,
    period: Period,
    counts: Counts,
    compare_period: Period | None = None,
    compare_counts: Counts | None = None,
) -> Report:
    """Rank every dimension of `counts`, against `compare_counts` when a comparison period is given.

    When the comparison period has no data at all, the report says so (`comparable` False) and no row has a
    delta or 新. The report is assembled as plain values and validated into its models in one call: model by
    model, the validation cost more than the ranking itself."""
    if (compare_period is None) != (compare_counts is None):
        raise ValueError("a comparison needs both its period and its counts")
    comparable = compare_counts is None or has_data(compare_counts)
    before = compare_counts if comparable else None
    basis = None if compare_period is None else basis_of(period, compare_period)
    lineage = Lineage(period, compare_period if comparable else None, basis)
    notes: dict[str, list[str]] = {}

    def ranked(name: DimensionName) -> list[dict[str, Any]]:
        dimension = taxonomy.dimension(name)
        rows = _ranked(dimension, counts.dimension(name), None if before is None else before.dimension(name))
        if found := lineage.apply(dimension, rows):
            notes[name] = found
        return rows

    now, then = headline(counts), None if before is None else headline(before)
    flat: tuple[DimensionName, ...] = ("activity", "destination", "channel", "topic", "agency", "referral")
    dimensions = {name: ranked(name) for name in flat}
    dimensions["consulter"] = _ranked_consulter(taxonomy, counts, before, lineage)
    return Report.model_validate(
        {
            "period": _period(period),
            "period_kind": period.kind,
            "compare": None if compare_period is None else _period(compare_period),
            "basis": basis,
            "comparable": comparable,
            "outing_share": outing_share(counts),
            "totals": {name: _total(count, None if then is None else then[name]) for name, count in now.items()},
            "dimensions": dimensions,
            "notes": notes,
        }
    )
