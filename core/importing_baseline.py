"""The reader of `fieldbot import baseline`: the totals a council published for years before the bot."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from core.csvfile import ErrorList, SourceFile
from core.dates import normalise
from core.importing_base import FIRST_FISCAL_YEAR, ImportKind, Lookup, Reader, dimension_lookup, whole_number
from core.periods import fiscal_year_of
from core.taxonomy import Taxonomy

BaselineDimension = Literal["activity", "destination", "channel", "consulter", "topic", "agency", "consulter_category"]
BASELINE_DIMENSIONS: Final[tuple[BaselineDimension, ...]] = (
    "activity",
    "destination",
    "channel",
    "consulter",
    "topic",
    "agency",
    "consulter_category",
)
BASELINE_COUNT_MAX: Final = 100_000_000
BASELINE_REQUIRED: Final = ("fiscal_year", "dimension", "category", "count")

_FISCAL_YEAR: Final = re.compile(r"^(?:FY)?(\d{4})$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class BaselineRow:
    line: int
    fiscal_year: int
    dimension: BaselineDimension
    category: str  # a code; for consulter_category "group/category" codes
    count: int


class BaselineReader(Reader[BaselineRow]):
    """Rows of `fieldbot import baseline`: fiscal_year,dimension,category,count (any column order).

    consulter_category cells are `group/sub-category`, each side a code or a label (labels such as その他
    repeat across groups). The same (fiscal year, dimension, category) twice in one file is an error.
    """

    kind: ImportKind = "baseline"
    required = BASELINE_REQUIRED

    def __init__(self, source: SourceFile, taxonomy: Taxonomy, *, today: date, errors: ErrorList | None = None) -> None:
        super().__init__(source, taxonomy, today=today, errors=errors)
        self.last_fiscal_year = fiscal_year_of(today).fiscal_year
        self._lookups = {
            name: dimension_lookup(taxonomy, name) for name in BASELINE_DIMENSIONS if name != "consulter_category"
        }
        self._pairs = Lookup(self._resolve_pair)
        self._seen: dict[tuple[int, str, str], int] = {}

    @property
    def keys(self) -> list[tuple[int, str, str]]:
        """(fiscal_year, dimension, category) of every valid row read so far."""
        return list(self._seen)

    def _canonical(self, row: BaselineRow) -> tuple[object, ...]:
        return (row.fiscal_year, row.dimension, row.category, row.count)

    def _row(self, line: int, cells: dict[str, str]) -> BaselineRow | None:
        year_text = cells.get("fiscal_year", "")
        year = self._fiscal_year(line, year_text)
        dimension_text = cells.get("dimension", "")
        dimension = next((d for d in BASELINE_DIMENSIONS if d == dimension_text.lower()), None)
        if dimension is None:
            problem = (
                "required, but empty" if not dimension_text else f"must be one of {', '.join(BASELINE_DIMENSIONS)}"
            )
            self._error(line, "dimension", problem, dimension_text)
        category_text = cells.get("category", "")
        category = self._category(line, dimension, category_text)
        count_text = cells.get("count", "")
        count = whole_number(count_text) if count_text else None
        if count is None or count > BASELINE_COUNT_MAX:
            problem = (
                "required, but empty" if not count_text else f"must be a whole number from 0 to {BASELINE_COUNT_MAX}"
            )
            self._error(line, "count", problem, count_text)
            count = None
        if year is None or dimension is None or category is None or count is None:
            return None
        key = (year, dimension, category)
        first = self._seen.get(key)
        if first is not None:
            problem = f"the same fiscal year, dimension and category as line {first}"
            self._error(line, "category", problem, category_text)
            return None
        self._seen[key] = line
        return BaselineRow(line, year, dimension, category, count)

    def _fiscal_year(self, line: int, text: str) -> int | None:
        if not text:
            self._error(line, "fiscal_year", "required, but empty")
            return None
        match = _FISCAL_YEAR.match(normalise(text))
        if not match:
            self._error(line, "fiscal_year", "not a fiscal year like 2019 or FY2019", text)
            return None
        year = int(match.group(1))
        if not FIRST_FISCAL_YEAR <= year <= self.last_fiscal_year:
            self._error(line, "fiscal_year", f"must be from {FIRST_FISCAL_YEAR} to {self.last_fiscal_year}", text)
            return None
        return year

    def _category(self, line: int, dimension: BaselineDimension | None, text: str) -> str | None:
        if not text:
            self._error(line, "category", "required, but empty")
            return None
        if dimension is None:
            return None  # cannot be checked without its dimension, which is reported already
        if dimension == "consulter_category":
            if "/" not in text:
                self._error(
                    line, "category", "must be group/sub-category (codes or labels), like volunteer/other", text
                )
                return None
            pair = self._pairs(text)
            if pair is None:
                self._error(line, "category", "not a consulter group and one of its sub-categories", text)
            return pair
        code = self._lookups[dimension](text)
        if code is None:
            self._error(line, "category", f"not a code or label of {dimension}", text)
        return code

    def _resolve_pair(self, text: str) -> str | None:
        # A label may itself contain "/": try every split, group on the left and sub-category on the right.
        for at in (i for i, char in enumerate(text) if char == "/"):
            group = self.taxonomy.consulter.resolve(text[:at])
            if group is None:
                continue
            category = self.taxonomy.categories_of(group.code).resolve(text[at + 1 :])
            if category is not None:
                return f"{group.code}/{category.code}"
        return None
