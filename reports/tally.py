"""The ranking rules of published tables, and the Report model that is the JSON boundary of every rendering."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from core.counts import DIMENSIONS, Counts
from core.periods import Basis, Period, PeriodKind, basis_of
from core.taxonomy import Dimension, Taxonomy

DimensionName = Literal["activity", "destination", "channel", "consulter", "topic", "agency"]


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

    `previous` and `delta` are None when the report has no comparison period. `new` is True when the category
    had no count in the comparison period but has one now; `delta` is still the difference then (it equals
    `count`), but tables write 新 instead of it.
    """

    code: str
    label: str
    count: int
    previous: int | None
    delta: int | None
    rank: int
    new: bool

    def against(self, previous: int) -> Row:
        """The same line compared with another period's count of its category (a digest's year-earlier figure)."""
        update = {"previous": previous, "delta": self.count - previous, "new": previous == 0 and self.count > 0}
        return self.model_copy(update=update)


class GroupRow(Row):
    """A consulter group with its sub-categories, ranked among themselves."""

    categories: list[Row]


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
    agency_links: Total  # consultation–agency pairs


def headline(counts: Counts) -> dict[str, int]:
    """The headline figures of some counts, by the names of `Totals`."""
    return {
        "outings": counts.outings,
        "consultations": counts.consultations,
        "at_outing": counts.at_outing,
        "agency_links": sum(counts.agency.values()),
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
    """

    period: PeriodInfo
    period_kind: PeriodKind
    compare: PeriodInfo | None
    basis: Basis | None
    outing_share: float | None
    totals: Totals
    dimensions: Dimensions

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
) -> list[dict[str, Any]]:
    """`rank_rows` as plain values: a whole report is validated into its models at once (see build_report)."""
    _check_counts(dimension.name, current)
    if previous is not None:
        _check_counts(dimension.name, previous)
    codes = {code for code, value in current.items() if value > 0} | set(keep)
    if previous is not None:
        codes |= {code for code, value in previous.items() if value > 0}

    def order(code: str) -> tuple[int, int, int, str]:
        known = dimension.get(code)
        return (-current.get(code, 0), 0 if known else 1, known.order if known else 0, code)

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
                "rank": larger + 1,
                "new": before == 0 and count > 0,
            }
        )
    return rows


def rank_consulter(
    taxonomy: Taxonomy,
    current: Mapping[str, int],
    current_categories: Mapping[tuple[str, str], int],
    previous: Mapping[str, int] | None,
    previous_categories: Mapping[tuple[str, str], int] | None,
) -> list[GroupRow]:
    """Consulter groups ranked like any dimension, each with its sub-categories ranked within the group.

    A group that only has sub-category counts (inconsistent input) still shows, with its own count as given
    (possibly 0), so that no sub-category count is lost.
    """
    ranked = _ranked_consulter(taxonomy, current, current_categories, previous, previous_categories)
    return [GroupRow.model_validate(row) for row in ranked]


def _ranked_consulter(
    taxonomy: Taxonomy,
    current: Mapping[str, int],
    current_categories: Mapping[tuple[str, str], int],
    previous: Mapping[str, int] | None,
    previous_categories: Mapping[tuple[str, str], int] | None,
) -> list[dict[str, Any]]:
    def of_group(source: Mapping[tuple[str, str], int], group: str) -> dict[str, int]:
        return {category: value for (g, category), value in source.items() if g == group}

    groups = {g for (g, _), value in current_categories.items() if value > 0}
    if previous_categories is not None:
        groups |= {g for (g, _), value in previous_categories.items() if value > 0}
    ranked = _ranked(taxonomy.consulter, current, previous, keep=groups)
    for row in ranked:
        row["categories"] = _ranked(
            taxonomy.categories_of(row["code"]),
            of_group(current_categories, row["code"]),
            None if previous_categories is None else of_group(previous_categories, row["code"]),
        )
    return ranked


def _total(count: int, previous: int | None) -> dict[str, int | None]:
    return {"count": count, "previous": previous, "delta": None if previous is None else count - previous}


def _period(period: Period) -> dict[str, Any]:
    return {"start": period.start, "end": period.end, "label": period.label}


def build_report(
    taxonomy: Taxonomy,
    period: Period,
    counts: Counts,
    compare_period: Period | None = None,
    compare_counts: Counts | None = None,
) -> Report:
    """Rank every dimension of `counts`, against `compare_counts` when a comparison period is given.

    The report is assembled as plain values and validated into its models in one call: model by model, the
    validation cost more than the ranking itself."""
    if (compare_period is None) != (compare_counts is None):
        raise ValueError("a comparison needs both its period and its counts")
    before = compare_counts

    def ranked(name: DimensionName) -> list[dict[str, Any]]:
        return _ranked(
            taxonomy.dimension(name), counts.dimension(name), None if before is None else before.dimension(name)
        )

    now, then = headline(counts), None if before is None else headline(before)

    return Report.model_validate(
        {
            "period": _period(period),
            "period_kind": period.kind,
            "compare": None if compare_period is None else _period(compare_period),
            "basis": None if compare_period is None else basis_of(period, compare_period),
            "outing_share": outing_share(counts),
            "totals": {name: _total(count, None if then is None else then[name]) for name, count in now.items()},
            "dimensions": {
                "activity": ranked("activity"),
                "destination": ranked("destination"),
                "channel": ranked("channel"),
                "consulter": _ranked_consulter(
                    taxonomy,
                    counts.consulter,
                    counts.consulter_category,
                    None if before is None else before.consulter,
                    None if before is None else before.consulter_category,
                ),
                "topic": ranked("topic"),
                "agency": ranked("agency"),
            },
        }
    )
