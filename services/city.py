"""City-wide totals: each child council's counts of one span, from its own store, for the city table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.councils import Council
from core.periods import Period
from core.taxonomy import Taxonomy
from reports.city import CityTable, Member, city_table
from services.reporting import Reporter
from storage.interface import Store


@dataclass(frozen=True, slots=True)
class Child:
    """A child council as the city table needs it: who it is, its store (its data only) and its taxonomy."""

    council: Council
    store: Store
    taxonomy: Taxonomy


async def city_totals(parent: Taxonomy, children: Sequence[Child], span: Period) -> CityTable:
    """The children's counts of `span` side by side and summed, labelled by the parent's taxonomy. Each child's
    counts are read from its own store as its own report counts them (imported fiscal-year totals included)."""
    members = []
    for child in children:
        counts = await Reporter(child.store, child.taxonomy).counts(span)
        members.append(Member(child.council.code, child.council.column, child.taxonomy, counts))
    return city_table(parent, members)
