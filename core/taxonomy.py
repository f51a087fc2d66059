"""The council's categories (zones, areas and every dimension), loaded from a TOML file and validated."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.counts import UNKNOWN
from core.i18n import t

# Codes travel in callback data (64 bytes at most, shared with a prefix and ids), in CSV files and in the
# database, so they are short ASCII words that never change once used.
CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,23}$")
LABEL_MAX = 64

DimensionName = Literal["activity", "destination", "channel", "consulter", "topic", "agency", "referral", "outcome"]
# The dimensions that reports count, in the order a report shows them. `agency` and `topic` describe the
# consultations of the group that came from an agency (who consulted, about what); `referral` is the agencies
# a consultation of any group was connected to (the same list of agencies).
REPORT_DIMENSIONS: tuple[DimensionName, ...] = (
    "activity",
    "destination",
    "channel",
    "consulter",
    "topic",
    "agency",
    "referral",
)
ALL_DIMENSIONS: tuple[DimensionName, ...] = (*REPORT_DIMENSIONS, "outcome")


class TaxonomyError(ValueError):
    """An invalid taxonomy file: says which file, which entry and what is wrong."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    label: str
    order: int | None = None
    retired: bool = False
    # Lineage (see ../shared/DOMAIN.md): a category split out of another of the same list, counted from the
    # fiscal year `counted_since` on (a split needs that year: it says which comparisons straddle the split).
    split_from: str | None = None
    counted_since: int | None = Field(default=None, ge=1989, le=2200)

    @field_validator("code")
    @classmethod
    def _code_shape(cls, value: str) -> str:
        if not CODE_PATTERN.match(value):
            raise ValueError(
                f"code {value!r} must be 1-24 characters of a-z, 0-9, '_' or '-', starting with a letter or digit"
            )
        return value

    @field_validator("label")
    @classmethod
    def _label_shape(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("label is empty")
        if len(value) > LABEL_MAX:
            raise ValueError(f"label is longer than {LABEL_MAX} characters")
        return value


class CategoryEntry(_Entry):
    # Only meaningful for the channel dimension: the channel that means "received at an outing".
    at_outing: bool = False
    # Only for the activity dimension: the activity that is the council's 働きかけ (counted per place).
    outreach: bool = False


class ConsulterEntry(_Entry):
    categories: list[CategoryEntry] = Field(default_factory=list)
    # The group of consultations that came from an agency: each names the agency that consulted and its topic.
    from_agency: bool = False


class AreaEntry(_Entry):
    pass


class ZoneEntry(_Entry):
    areas: list[AreaEntry] = Field(default_factory=list)


class TaxonomyFile(BaseModel):
    """The TOML file as written by a council (see core/default_taxonomy.toml)."""

    model_config = ConfigDict(extra="forbid")

    council: str = ""
    # The council's name as it starts the names of the files it is sent (市民社協_令和7年度_集計.xlsx); default:
    # the full name.
    council_short: str = Field(default="", max_length=LABEL_MAX)
    zones: list[ZoneEntry]
    activity: list[CategoryEntry]
    destination: list[CategoryEntry]
    channel: list[CategoryEntry]
    consulter: list[ConsulterEntry]
    topic: list[CategoryEntry]
    agency: list[CategoryEntry]
    outcome: list[CategoryEntry]

    @model_validator(mode="after")
    def _consistent(self) -> TaxonomyFile:
        _unique("zones", self.zones)
        _unique("areas", (a for z in self.zones for a in z.areas))
        for zone in self.zones:
            if not zone.areas:
                raise ValueError(f"zones: zone {zone.code!r} has no areas")
        for name in ("activity", "destination", "channel", "topic", "agency", "outcome"):
            _flat_list(name, getattr(self, name))
        _unique("consulter", self.consulter)
        _lineage("consulter", self.consulter)
        for group in self.consulter:
            _unique(f"consulter {group.code!r} categories", group.categories)
            _lineage(f"consulter {group.code!r} categories", group.categories)
            if any(c.at_outing for c in group.categories):
                raise ValueError(f"consulter {group.code!r}: at_outing is only allowed in [[channel]]")
        outing_channels = [c.code for c in self.channel if c.at_outing]
        others = ("destination", "channel", "topic", "agency", "outcome")
        if any(e.outreach for name in others for e in getattr(self, name)):
            raise ValueError("outreach is only allowed in [[activity]]")
        if sum(e.outreach for e in self.activity) > 1:
            raise ValueError("activity: at most one activity may have outreach = true")
        if sum(g.from_agency for g in self.consulter) > 1:
            raise ValueError("consulter: at most one group may have from_agency = true")
        if len(outing_channels) != 1:
            raise ValueError(
                "channel: exactly one channel must have at_outing = true (the channel for consultations "
                f"received at an outing); found {len(outing_channels)}"
            )
        return self


def _unique(kind: str, entries: Iterable[_Entry]) -> None:
    seen: set[str] = set()
    for entry in entries:
        if entry.code in seen:
            raise ValueError(f"{kind}: code {entry.code!r} is used twice")
        seen.add(entry.code)


def _lineage(kind: str, entries: Iterable[_Entry]) -> None:
    entries = list(entries)
    codes = {e.code for e in entries}
    for entry in entries:
        if entry.split_from is None:
            continue
        if entry.split_from == entry.code or entry.split_from not in codes:
            raise ValueError(f"{kind}: {entry.code!r} is split_from {entry.split_from!r}, not another code of the list")
        if entry.counted_since is None:
            raise ValueError(f"{kind}: {entry.code!r} has split_from but no counted_since (the year of the split)")


def _flat_list(name: str, entries: list[CategoryEntry]) -> None:
    _unique(name, entries)
    _lineage(name, entries)
    if not any(not e.retired for e in entries):
        raise ValueError(f"{name}: at least one category must not be retired")
    if name != "channel" and any(e.at_outing for e in entries):
        raise ValueError(f"{name}: at_outing is only allowed in [[channel]]")


@dataclass(frozen=True, slots=True)
class Category:
    """One category of a dimension, with its position in the council's configured order."""

    code: str
    label: str
    order: int
    retired: bool = False
    split_from: str | None = None
    counted_since: int | None = None


@dataclass(frozen=True, slots=True)
class Area:
    code: str
    label: str
    order: int
    zone: str
    retired: bool = False


@dataclass(frozen=True, slots=True)
class Zone:
    code: str
    label: str
    order: int
    areas: tuple[Area, ...]
    retired: bool = False


class Dimension:
    """An ordered list of categories with lookup by code and by label."""

    def __init__(self, name: str, categories: Iterable[Category]) -> None:
        self.name = name
        self.categories: tuple[Category, ...] = tuple(sorted(categories, key=lambda c: c.order))
        self._by_code = {c.code: c for c in self.categories}
        self._by_label = {c.label: c for c in self.categories}

    def __iter__(self) -> Iterator[Category]:
        return iter(self.categories)

    def __len__(self) -> int:
        return len(self.categories)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def get(self, code: str) -> Category | None:
        return self._by_code.get(code)

    def label(self, code: str) -> str:
        """The current label of a code; a code removed from the file shows as itself, UNKNOWN as 不明."""
        found = self._by_code.get(code)
        if found:
            return found.label
        return t("report.misc.unknown") if code == UNKNOWN else code

    def order_of(self, code: str) -> int:
        """Position used to break ties; unknown codes sort after every known one."""
        found = self._by_code.get(code)
        return found.order if found else 1_000_000

    def active(self) -> tuple[Category, ...]:
        """Categories offered for new entries."""
        return tuple(c for c in self.categories if not c.retired)

    def resolve(self, text: str) -> Category | None:
        """A category named by its code or by its label (used by imports)."""
        text = text.strip()
        return self._by_code.get(text) or self._by_label.get(text)


class Taxonomy:
    """The loaded, validated taxonomy the rest of the program reads."""

    def __init__(self, source: TaxonomyFile, origin: str) -> None:
        self.origin = origin
        self.council = source.council
        self.council_short = source.council_short.strip() or source.council.strip()

        def ordered(entries: list[CategoryEntry] | list[ConsulterEntry]) -> list[Category]:
            return [
                Category(
                    e.code, e.label, e.order if e.order is not None else i, e.retired, e.split_from, e.counted_since
                )
                for i, e in enumerate(entries)
            ]

        self.zones: tuple[Zone, ...] = tuple(
            sorted(
                (
                    Zone(
                        z.code,
                        z.label,
                        z.order if z.order is not None else zi,
                        tuple(
                            sorted(
                                (
                                    Area(
                                        a.code,
                                        a.label,
                                        a.order if a.order is not None else ai,
                                        z.code,
                                        a.retired,
                                    )
                                    for ai, a in enumerate(z.areas)
                                ),
                                key=lambda a: a.order,
                            )
                        ),
                        z.retired,
                    )
                    for zi, z in enumerate(source.zones)
                ),
                key=lambda z: z.order,
            )
        )
        self._zones = {z.code: z for z in self.zones}
        self._areas = {a.code: a for z in self.zones for a in z.areas}
        self.activity = Dimension("activity", ordered(source.activity))
        self.destination = Dimension("destination", ordered(source.destination))
        self.channel = Dimension("channel", ordered(source.channel))
        self.consulter = Dimension("consulter", ordered(source.consulter))
        self.topic = Dimension("topic", ordered(source.topic))
        self.agency = Dimension("agency", ordered(source.agency))
        self.referral = Dimension("referral", ordered(source.agency))  # the same agencies, referred to
        self.outcome = Dimension("outcome", ordered(source.outcome))
        self.consulter_categories: dict[str, Dimension] = {
            g.code: Dimension(f"consulter:{g.code}", ordered(g.categories)) for g in source.consulter
        }
        self.outing_channel: str = next(c.code for c in source.channel if c.at_outing)
        # The group whose consultations name the agency that consulted and a topic (None: no such group).
        self.agency_group: str | None = next((g.code for g in source.consulter if g.from_agency), None)
        # The activity counted as 働きかけ at each place (None: the council does not count one).
        self.outreach_activity: str | None = next((a.code for a in source.activity if a.outreach), None)

    def dimension(self, name: str) -> Dimension:
        if name not in ALL_DIMENSIONS:
            raise KeyError(name)
        dimension: Dimension = getattr(self, name)
        return dimension

    def zone(self, code: str) -> Zone | None:
        return self._zones.get(code)

    def area(self, code: str) -> Area | None:
        return self._areas.get(code)

    def area_label(self, code: str) -> str:
        """The current label of an area; a code removed from the file shows as itself, UNKNOWN as 不明."""
        area = self._areas.get(code)
        if area:
            return area.label
        return t("report.misc.unknown") if code == UNKNOWN else code

    def zone_label(self, code: str) -> str:
        zone = self._zones.get(code)
        return zone.label if zone else code

    def areas(self) -> tuple[Area, ...]:
        return tuple(a for z in self.zones for a in z.areas)

    def areas_of(self, zone_code: str) -> tuple[Area, ...]:
        zone = self._zones.get(zone_code)
        return zone.areas if zone else ()

    def resolve_area(self, text: str) -> Area | None:
        text = text.strip()
        return self._areas.get(text) or next((a for a in self._areas.values() if a.label == text), None)

    def categories_of(self, group_code: str) -> Dimension:
        return self.consulter_categories.get(group_code) or Dimension(f"consulter:{group_code}", ())


DEFAULT_TAXONOMY = "default_taxonomy.toml"


def _describe(error: ValidationError, data: object) -> str:
    """Turn the first pydantic error into 'entry: problem' with the entry's code when it has one."""
    first = error.errors()[0]
    location = list(first["loc"])
    where: list[str] = []
    node: object = data
    for part in location:
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            node = node[part]
            code = node.get("code") if isinstance(node, dict) else None
            where.append(f"#{part + 1}" + (f" (code {code!r})" if code else ""))
        elif isinstance(part, str):
            where.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{' '.join(where)}: {message}" if where else message


def parse_taxonomy(text: str, origin: str) -> Taxonomy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TaxonomyError(f"{origin}: not valid TOML: {exc}") from None
    try:
        source = TaxonomyFile.model_validate(data)
    except ValidationError as exc:
        raise TaxonomyError(f"{origin}: {_describe(exc, data)}") from None
    return Taxonomy(source, origin)


def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Load the council's file, or the built-in defaults when no path is given."""
    if path is None:
        text = resources.files("core").joinpath(DEFAULT_TAXONOMY).read_text(encoding="utf-8")
        return parse_taxonomy(text, f"(built-in) {DEFAULT_TAXONOMY}")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaxonomyError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TaxonomyError(f"{path}: is not UTF-8 text") from None
    return parse_taxonomy(text, str(path))
